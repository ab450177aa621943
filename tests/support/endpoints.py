"""What the SDK v2 tests ask of an endpoint: a deployment through the package, and what the stand-in saw."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mnist_aci.deploy import deploy_model
from support.project import SCORE_PY

if TYPE_CHECKING:
    from azure.ai.ml import MLClient
    from azure.ai.ml.entities import Environment, Model
    from standin.azureml_v2 import WorkspaceV2

    from mnist_aci.service import Service


def deploy_to(ml_client: MLClient, registered: tuple[Model, Environment], **options: Any) -> Service:
    model, environment = registered
    return deploy_model(
        "endpoint", model, ml_client=ml_client, environment=environment, entry_script=SCORE_PY, **options
    )


def sent(workspace: WorkspaceV2, method: str, path: str) -> list[dict]:
    """The JSON bodies the SDK sent with ``method`` to paths matching ``path``."""
    return [call.json() for call in workspace.standin.server.calls_to(method, path) if call.body]


def primary_key(workspace: WorkspaceV2, name: str) -> str:
    return workspace.endpoints[name].keys[0]


def traffic(workspace: WorkspaceV2, name: str) -> dict[str, int]:
    return dict(workspace.endpoints[name].properties["traffic"])


def deployments(workspace: WorkspaceV2, name: str) -> list[str]:
    return sorted(workspace.endpoints[name].deployments)


def scoring_bodies(workspace: WorkspaceV2) -> list[bytes]:
    return [call.body for call in workspace.standin.server.calls if call.host.endswith(".inference.ml.azure.com")]
