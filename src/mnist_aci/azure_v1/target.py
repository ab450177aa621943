"""The ``aci`` and ``aks`` targets (SDK v1): models and environments in the workspace, web services."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar, Literal

from .._progress import step
from ..errors import OptionError
from ..flags import DEPLOYS, option
from ..model_registry import WorkspaceRegistry
from ..service import ScoringService, Service
from ..target_base import Preflight, RunInputs, Target, WorkspaceOptions
from ..tutorial import AuthMode
from . import registry
from .config import aci_config, aks_config, check_config_kind
from .deployment import delete_service, deploy, get_service
from .workspace import load_workspace

#: The auths each target offers: Microsoft's v1 docs give token auth to AKS services only.
AUTHS: dict[str, tuple[AuthMode, ...]] = {"aci": ("key",), "aks": ("key", "token")}


@dataclass(frozen=True, kw_only=True)
class AzureV1Options(WorkspaceOptions):
    """ACI's and AKS's options.

    ``workspace`` (an SDK v1 ``Workspace``) is needed to deploy; ``environment`` defaults to ``tutorial-env``
    at ``environment_version`` (registered first, pinned to the model's versions, when absent or when
    ``register_environment``); ``deployment_config`` defaults to :func:`aci_config` (``aci``) or :func:`aks_config`
    on ``compute_target`` (``aks``), with ``auth``: ``"key"`` or ``"token"`` (AKS only), else the target's default
    (ACI: none, AKS: key). ``name`` defaults to a new ``sklearn-mnist-svc-xxxx``; an existing name is replaced
    only with ``overwrite``.
    """

    why_not: ClassVar[dict[str, str]] = {"workers": "ACI and AKS run one worker per core they are given"}

    workspace: Any = None
    deployment_config: Any = None
    overwrite: bool = option(
        False, flag="--overwrite", help="replace a service of the same name", commands=DEPLOYS, action="store_true"
    )
    compute_target: str | None = option(
        None, flag="--compute-target", help="aks: name of the AKS compute target", commands=DEPLOYS
    )
    auth: AuthMode | None = option(
        None,
        flag="--auth",
        help="key (aci/aks), token (aks)",
        commands=DEPLOYS,
        nargs="?",
        const="key",
        choices=("key", "token"),
    )


class AzureV1Target(Target[AzureV1Options]):
    """``aci`` (the tutorial's Azure Container Instances) or ``aks`` (an attached AKS cluster), through SDK v1."""

    options_type = AzureV1Options

    def __init__(self, name: Literal["aci", "aks"]) -> None:
        self.name: Literal["aci", "aks"] = name

    def check(self, options: AzureV1Options) -> None:
        auths = AUTHS[self.name]
        if options.auth is not None and options.auth not in auths:
            offered = " or ".join(auths)
            raise OptionError(
                "auth", f"must be {offered} on target={self.name!r} (token auth is AKS only), got {options.auth!r}"
            )
        if options.deployment_config is not None:
            check_config_kind(self.name, options.deployment_config)
        elif self.name == "aks" and not options.compute_target:
            raise OptionError("compute_target", "is needed by target='aks': the name of your AKS compute target")

    def connect(self, config: Path | None, tenant_id: str | None) -> Any:
        with step("Connecting to the workspace"):
            return load_workspace(config, tenant_id=tenant_id)

    def registry(self, workspace: Any, store: Path) -> WorkspaceRegistry:
        return WorkspaceRegistry(workspace, registry)

    def prepare(self, options: AzureV1Options, run: RunInputs) -> AzureV1Options:
        return replace(options, workspace=run.workspace)

    def deploy(
        self,
        model: Any,
        options: AzureV1Options,
        *,
        entry_script: Path | None = None,
        preflight: Preflight | None = None,
    ) -> Service:
        if options.workspace is None:
            raise OptionError("workspace", f"is needed by target={self.name!r}: load_workspace() gives it")
        environment = options.environment or WorkspaceRegistry(options.workspace, registry).environment(
            model, register=options.register_environment, version=options.environment_version
        )
        with step(f"Deploying to {self.name.upper()} (several minutes)", heartbeat_s=30):
            return deploy(
                model,
                workspace=options.workspace,
                environment=environment,
                entry_script=entry_script,
                deployment_config=self.deployment_config(options),
                name=options.name,
                overwrite=options.overwrite,
                keep_failed=options.keep_failed,
                timeout_sec=options.timeout_sec,
                preflight=preflight,
            )

    def deployment_config(self, options: AzureV1Options) -> Any:
        """The configuration given, else the tutorial's ACI one (or AKS's on ``compute_target``)."""
        if options.deployment_config is not None:
            return options.deployment_config
        if self.name == "aks":
            return aks_config(options.compute_target or "", token_auth_enabled=options.auth == "token")
        return aci_config(auth_enabled=options.auth == "key")

    def existing_service(self, workspace: Any, name: str) -> ScoringService:
        service: ScoringService = get_service(workspace, name)
        return service

    def delete(self, service: ScoringService) -> None:
        delete_service(service)
