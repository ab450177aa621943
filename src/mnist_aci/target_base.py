"""What every target family builds on: :class:`TargetOptions` and :class:`Target`, whose defaults let a family
write only what differs.

A family (a subpackage: ``local``, ``azure_v1``, ``azure_v2``) gives one options dataclass derived from
:class:`TargetOptions` (a field the command line sets declares its flag with :func:`~mnist_aci.flags.option`) and
a :class:`Target` for each target name; one entry in ``mnist_aci.targets.TARGET_TABLE`` makes it a target.
``mnist-aci --help`` imports every family's target module: import SDKs and servers in the methods that use them.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

from .errors import OptionError, TargetError
from .flags import DEPLOYS, option
from .model_registry import ModelRegistry
from .service import ScoringService, Service
from .tutorial import ENVIRONMENT_VERSION, LOCAL_TIMEOUT_S
from .versions import sdk_version

#: ``preflight(model_file, entry_script)``: a check run on the model file before a cloud deployment.
Preflight = Callable[[Path, Path], object]


@dataclass(frozen=True, kw_only=True)
class TargetOptions:
    """What every target takes; each family's dataclass adds its own fields (all keyword-only)."""

    #: Why this target takes no option of that name, where a reason helps more than the list of options.
    why_not: ClassVar[dict[str, str]] = {}

    keep_failed: bool = option(
        False,
        flag="--keep-failed",
        help="keep a failed deployment for inspection",
        commands=DEPLOYS,
        action="store_true",
    )
    timeout_sec: float | None = option(
        None,
        flag="--timeout",
        help=f"deployment time-out in seconds (default: {LOCAL_TIMEOUT_S:g} on local; none on aci, aks, endpoint: "
        "the wait lasts until Azure ends the deployment)",
        commands=DEPLOYS,
        type=float,
    )

    def __post_init__(self) -> None:
        timeout = self.timeout_sec
        if timeout is not None and (isinstance(timeout, bool) or not timeout > 0):
            raise OptionError("timeout_sec", f"must be a number of seconds > 0, got {timeout}")

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """The options this family takes, by name: its own first, then those of every target."""
        shared = [field.name for field in dataclasses.fields(TargetOptions)]
        return tuple([f.name for f in dataclasses.fields(cls) if f.name not in shared] + shared)


@dataclass(frozen=True, kw_only=True)
class WorkspaceOptions(TargetOptions):
    """What the targets deploying to an Azure ML workspace take: the service's ``name`` and its ``environment``
    (default: ``tutorial-env`` at ``environment_version``, registered first, pinned to the model's versions, when
    absent or when ``register_environment``)."""

    environment: Any = None
    name: str | None = option(
        None,
        flag="--service-name",
        help="web service or endpoint name (default: sklearn-mnist-svc-xxxx, sklearn-mnist-ep-xxxxxxxx)",
        commands=("run", "deploy", "evaluate", "delete"),
    )
    environment_version: str | None = option(
        ENVIRONMENT_VERSION,
        flag="--environment-version",
        help=f"version of tutorial-env to deploy with (default: {ENVIRONMENT_VERSION})",
        commands=DEPLOYS,
    )
    register_environment: bool = option(
        False,
        flag="--register-environment",
        help="register a new tutorial-env version pinned to the model's package versions, and use it",
        commands=DEPLOYS,
        action="store_true",
    )


def given_once(option: str, in_options: Any, as_argument: Any) -> Any:
    """The value of ``option`` given either in a target's options or as an argument of the deployment; given in
    both places (and not the same object), it is refused rather than one silently replacing the other."""
    if as_argument is None or as_argument is in_options:
        return in_options
    if in_options is None:
        return as_argument
    raise OptionError(option, "was given twice, in the target's options and as an argument: give it once")


@dataclass(frozen=True)
class RunInputs:
    """What a run holds that a target may complete its options with (:meth:`Target.prepare`): the workspace handle
    :meth:`Target.connect` gave, and the test set (images, labels), loaded when first called, where the run offers
    it (``mnist-aci deploy`` does; ``run`` does not, its service being deleted at its end)."""

    workspace: Any = None
    test_set: Callable[[], tuple[Any, Any]] | None = None


Options = TypeVar("Options", bound=TargetOptions)


class Target(ABC, Generic[Options]):
    """One deployment target: its options, its workspace, its model registry, deployment and services.

    A family sets ``name`` and ``options_type``, writes :meth:`registry` and :meth:`deploy`, and overrides what
    differs from the defaults: a service running elsewhere (``serves_here`` False), needing no workspace, with no
    check beyond each option's own, found again by its scoring URI and deleted by ``service.delete()``.
    """

    #: The target's name (``--target``), its key in ``TARGET_TABLE``.
    name: str
    #: Its options dataclass.
    options_type: type[Options]
    #: Whether its services run on this machine (stopped at the end of a run, served until Ctrl-C when kept).
    serves_here: bool = False

    def check(self, options: Options) -> None:
        """Raise :class:`~mnist_aci.errors.OptionError` if ``options`` cannot deploy on this target."""

    def sdk_line(self) -> str:
        """The line a run starts with: the SDK this target uses, and its version (default: SDK v1's)."""
        return f"Azure ML SDK Version:  {sdk_version()}"

    def connect(self, config: Path | None, tenant_id: str | None) -> Any:
        """The workspace handle this target deploys with: SDK v1's ``Workspace``, SDK v2's ``MLClient`` (default: None,
        it needs none). Everywhere above the families it is called ``workspace``."""
        return None

    @abstractmethod
    def registry(self, workspace: Any, store: Path) -> ModelRegistry:
        """Where this target's models are registered (``store``: the local model store's folder)."""

    def prepare(self, options: Options, run: RunInputs) -> Options:
        """``options`` completed with what the run holds (default: as they are)."""
        return options

    @abstractmethod
    def deploy(
        self, model: Any, options: Options, *, entry_script: Path | None = None, preflight: Preflight | None = None
    ) -> Service:
        """Deploy ``model`` with ``entry_script`` (default: ./score.py, else the project's) and wait until it is
        healthy; ``preflight`` runs first on the model file where the target deploys elsewhere."""

    def serve_until_stopped(self, service: Service) -> None:
        """Serve until Ctrl-C where the service runs on this machine (default: return at once)."""

    def existing_service(self, workspace: Any, name: str) -> ScoringService:
        """A running service by its name (default: by its scoring URI)."""
        from .scoring import ServiceEndpoint

        return ServiceEndpoint(name)

    def delete(self, service: ScoringService) -> None:
        """Delete ``service`` (and whatever runs it); a service known only by its scoring URI cannot be."""
        if not isinstance(service, Service):
            raise TargetError(f"{service.scoring_uri} is not a service of target {self.name!r}: stop it where it runs.")
        service.delete()
