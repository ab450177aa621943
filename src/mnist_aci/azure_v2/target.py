"""The ``endpoint`` target (SDK v2): models and environments in the workspace, managed online endpoints."""

from __future__ import annotations

from dataclasses import dataclass, replace
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from .._progress import step
from ..errors import OptionError, TargetError
from ..flags import DEPLOYS, option
from ..model_registry import WorkspaceRegistry
from ..service import ScoringService, Service
from ..target_base import Preflight, RunInputs, Target, WorkspaceOptions
from ..tutorial import DEFAULT_INSTANCE_TYPE
from . import assets, skus
from .workspace import load_ml_client

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True, kw_only=True)
class EndpointOptions(WorkspaceOptions):
    """A managed online endpoint's options.

    ``ml_client`` (an SDK v2 ``MLClient``) is needed to deploy; ``environment`` defaults to ``tutorial-env`` at
    ``environment_version`` (registered first, pinned to the model's versions, when absent or when
    ``register_environment``). ``name`` defaults to a new ``sklearn-mnist-ep-xxxxxxxx``; an existing endpoint's
    name needs ``rollout_data`` (test images and labels) for the gated rollout, whose gate is ``min_accuracy``
    (default: the live deployment's accuracy).
    """

    why_not: ClassVar[dict[str, str]] = {
        "auth": "an endpoint always needs a key",
        "overwrite": "deploying to an existing endpoint rolls the model out to it (gated)",
        "compute_target": "an endpoint runs on its instance type",
        "deployment_config": "the ACI configuration does not apply to a managed online endpoint, which runs on its "
        "instance type (instance_type, instance_count)",
    }

    ml_client: Any = None
    instance_type: str = option(
        DEFAULT_INSTANCE_TYPE,
        flag="--instance-type",
        help=f"endpoint: VM size of each instance (default: {DEFAULT_INSTANCE_TYPE})",
        commands=DEPLOYS,
    )
    instance_count: int = option(
        1, flag="--instance-count", help="endpoint: number of instances (default: 1)", commands=DEPLOYS, type=int
    )
    rollout_data: tuple[np.ndarray, np.ndarray] | None = None
    min_accuracy: float | None = option(
        None,
        flag="--min-accuracy",
        help="endpoint rollout: the new deployment's accuracy gate (default: the live deployment's accuracy)",
        commands=("deploy",),
        type=float,
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        check_instances(self.instance_type, self.instance_count)
        accuracy = self.min_accuracy
        if accuracy is not None and (isinstance(accuracy, bool) or not 0.0 <= accuracy <= 1.0):
            raise OptionError("min_accuracy", f"is an accuracy between 0 and 1, got {self.min_accuracy}")


def check_instances(instance_type: object, instance_count: object) -> None:
    """Refuse what Azure would refuse on the deployment's PUT: a SKU outside the managed online endpoints' list, an
    instance count outside 1 to :data:`~.skus.MAX_INSTANCES` (:class:`OptionError`)."""
    if not isinstance(instance_type, str) or not skus.is_managed_sku(instance_type):
        raise OptionError(
            "instance_type",
            f"must be a VM size of Microsoft's managed online endpoints SKU list (e.g. {', '.join(skus.EXAMPLES)}), "
            f"got {instance_type!r}",
        )
    count = instance_count
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= skus.MAX_INSTANCES:
        raise OptionError(
            "instance_count",
            f"must be a whole number from 1 to {skus.MAX_INSTANCES} (Azure's limit of instances per deployment; a "
            f"support request can raise it), got {count}",
        )


class EndpointTarget(Target[EndpointOptions]):
    """``endpoint``: a managed online endpoint through SDK v2, with the gated blue/green rollout (its service and
    endpoint modules, which import the scoring client, are imported by the methods that use them)."""

    name = "endpoint"
    options_type = EndpointOptions

    def sdk_line(self) -> str:
        return f"Azure ML SDK v2 (azure-ai-ml) Version:  {version('azure-ai-ml')}"

    def connect(self, config: Path | None, tenant_id: str | None) -> Any:
        with step("Connecting to the workspace"):
            return load_ml_client(config, tenant_id=tenant_id)

    def registry(self, workspace: Any, store: Path) -> WorkspaceRegistry:
        return WorkspaceRegistry(workspace, assets)

    def rolls_out(self, options: EndpointOptions, workspace: Any) -> bool:
        """Whether deploying ``options`` is the gated rollout onto an existing endpoint (it scores the test set)."""
        from .service import check_endpoint_name, endpoint_exists

        return options.name is not None and endpoint_exists(workspace, check_endpoint_name(options.name))

    def prepare(self, options: EndpointOptions, run: RunInputs) -> EndpointOptions:
        """The options with the run's ``ml_client`` and, for a rollout onto an existing endpoint, the run's test set
        as ``rollout_data`` (unless given)."""
        data = options.rollout_data
        if data is None and run.test_set is not None and self.rolls_out(options, run.workspace):
            data = run.test_set()
        return replace(options, ml_client=run.workspace, rollout_data=data)

    def deploy(
        self,
        model: Any,
        options: EndpointOptions,
        *,
        entry_script: Path | None = None,
        preflight: Preflight | None = None,
    ) -> Service:
        from .endpoint import deploy

        if options.ml_client is None:
            raise OptionError("ml_client", "is needed by target='endpoint': load_ml_client() gives it")
        environment = options.environment or WorkspaceRegistry(options.ml_client, assets).environment(
            model, register=options.register_environment, version=options.environment_version
        )
        return deploy(
            model,
            ml_client=options.ml_client,
            environment=environment,
            entry_script=entry_script,
            name=options.name,
            instance_type=options.instance_type,
            instance_count=options.instance_count,
            keep_failed=options.keep_failed,
            timeout_sec=options.timeout_sec,
            preflight=preflight,
            rollout_data=options.rollout_data,
            min_accuracy=options.min_accuracy,
        )

    def existing_service(self, workspace: Any, name: str) -> ScoringService:
        from .service import get_service

        return get_service(workspace, name)

    def delete(self, service: ScoringService) -> None:
        from .service import EndpointService

        if not isinstance(service, EndpointService):
            raise TargetError(f"{service!r} is not a managed online endpoint: delete it where it runs.")
        service.delete()
