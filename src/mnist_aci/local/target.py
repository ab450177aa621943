"""The local target: models in the local store, served by the inference server on 127.0.0.1."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .._progress import STEP
from ..errors import OptionError
from ..scoring import ServiceEndpoint
from ..service import ScoringService, Service
from ..target import Preflight, TargetOptions, follows_recipe, recipe_text
from ..versions import sdk_version
from .service import LocalWebservice, deploy
from .store import LocalModel, LocalModelStore

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class LocalOptions(TargetOptions):
    """The local target's options: the port on 127.0.0.1 (default: a free one) and the scoring workers."""

    port: int | None = None
    workers: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 1:
            raise OptionError("workers", f"must be a whole number >= 1, got {self.workers}")
        if self.port is not None and not 0 < self.port < 65536:
            raise OptionError("port", f"must be a TCP port from 1 to 65535, got {self.port}")


class StoreRegistry:
    """The local model store as a target's model registry."""

    def __init__(self, store: LocalModelStore) -> None:
        self.store = store

    def latest(self) -> LocalModel:
        return self.store.get()

    def trained_with(self, recipe: dict[str, str]) -> LocalModel | None:
        found = self.store.find(training_data=recipe["training_data"])
        if found is not None and not follows_recipe(found.properties, recipe):
            log.info(
                "The registered %s:%s was trained otherwise: training one with %s",
                found.name,
                found.version,
                recipe_text(recipe),
                extra=STEP,
            )
            return None
        if found is not None:
            log.info(
                "Reusing registered model %s:%s from the store %s",
                found.name,
                found.version,
                self.store.root,
                extra=STEP,
            )
        return found

    def register(self, model_file: Path, properties: dict[str, str]) -> LocalModel:
        return self.store.register(model_file, properties=properties)


class LocalTarget:
    """``local``: the inference server on this machine; its service stops with the command that started it."""

    name: Literal["local"] = "local"
    options_type = LocalOptions
    serves_here = True

    def check(self, options: LocalOptions) -> None:
        """Every combination of the local options can deploy (each is checked on its own)."""

    def sdk_line(self) -> str:
        return f"Azure ML SDK Version:  {sdk_version()}"

    def connect(self, config: Path | None, tenant_id: str | None) -> None:
        return None

    def registry(self, connection: Any, store: Path) -> StoreRegistry:
        return StoreRegistry(LocalModelStore(store))

    def rolls_out(self, options: LocalOptions, connection: Any) -> bool:
        return False

    def prepare(
        self,
        options: LocalOptions,
        connection: Any,
        *,
        deployment_config: Any = None,
        rollout_data: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> LocalOptions:
        return options

    def deploy(
        self, model: Any, options: LocalOptions, *, entry_script: Path | None = None, preflight: Preflight | None = None
    ) -> LocalWebservice:
        if preflight is not None:
            raise OptionError("preflight_image", "is not taken: the local target runs on this machine already")
        return deploy(
            model,
            entry_script,
            port=options.port,
            workers=options.workers,
            timeout_sec=options.timeout_sec,
            keep_failed=options.keep_failed,
        )

    def serve_until_stopped(self, service: Service) -> None:
        if isinstance(service, LocalWebservice):
            log.info("Serving at %s; press Ctrl-C to stop.", service.scoring_uri)
            service.serve_until_stopped()

    def existing_service(self, connection: Any, name: str) -> ScoringService:
        return ServiceEndpoint(name)

    def delete(self, service: ScoringService) -> None:
        if isinstance(service, LocalWebservice):
            service.delete()
