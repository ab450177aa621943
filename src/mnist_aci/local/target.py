"""The local target: models in the local store, served by the inference server on 127.0.0.1."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._progress import STEP
from ..errors import OptionError
from ..flags import DEPLOYS, option
from ..model_registry import follows_recipe, recipe_text
from ..service import Service
from ..target_base import Preflight, Target, TargetOptions
from .store import LocalModel, LocalModelStore

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class LocalOptions(TargetOptions):
    """The local target's options: the port on 127.0.0.1 (default: a free one) and the scoring workers."""

    port: int | None = option(
        None, flag="--port", help="local target: port on 127.0.0.1 (default: a free one)", commands=DEPLOYS, type=int
    )
    workers: int = option(
        1,
        flag="--workers",
        help="local target: scoring worker processes (default: 1, as ACI's one core)",
        commands=DEPLOYS,
        type=int,
    )

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


class LocalTarget(Target[LocalOptions]):
    """``local``: the inference server on this machine; its service stops with the command that started it."""

    name = "local"
    options_type = LocalOptions
    serves_here = True

    def registry(self, workspace: Any, store: Path) -> StoreRegistry:
        return StoreRegistry(LocalModelStore(store))

    def deploy(
        self, model: Any, options: LocalOptions, *, entry_script: Path | None = None, preflight: Preflight | None = None
    ) -> Service:
        from .service import deploy

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
        from .service import LocalWebservice

        if isinstance(service, LocalWebservice):
            log.info("Serving at %s; press Ctrl-C to stop.", service.scoring_uri)
            service.serve_until_stopped()
