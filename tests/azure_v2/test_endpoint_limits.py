"""What Azure allows a managed online deployment: the SKU list, 50 instances, 20 deployments per endpoint, 180 s.

The stand-in refuses each on the deployment's PUT through the real azure-ai-ml; the package refuses each before
any call to Azure, with one message in the caller's terms (Microsoft Learn: "Managed online endpoints SKU list",
"Manage and increase quotas and limits").
"""

from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING, Any

import pytest
from azure.ai.ml.entities import ManagedOnlineEndpoint
from azure.core.exceptions import HttpResponseError
from standin.azureml_v2 import Deployment, Endpoint
from support.endpoints import deploy_to
from support.project import SCORE_PY

from mnist_aci import cli
from mnist_aci.azure_v2.endpoint import new_deployment
from mnist_aci.errors import TargetError
from mnist_aci.score_script import stage_scoring_folder

if TYPE_CHECKING:
    from pathlib import Path

    from azure.ai.ml import MLClient
    from azure.ai.ml.entities import Environment, Model
    from standin.azureml_v2 import WorkspaceV2

ENDPOINT = "mnist-ep-limits"


@pytest.fixture
def endpoint(workspace: WorkspaceV2, ml_client: MLClient) -> Endpoint:
    """An endpoint without deployments (no container starts: each PUT below is refused or fails its quota)."""
    ml_client.online_endpoints.begin_create_or_update(ManagedOnlineEndpoint(name=ENDPOINT, auth_mode="key")).result()
    return workspace.endpoints[ENDPOINT]


def put_deployment(
    ml_client: MLClient,
    registered: tuple[Model, Environment],
    tmp_path: Path,
    *,
    instance_type: str = "Standard_DS1_v2",
    count: int = 1,
    timeout_ms: int | None = None,
) -> HttpResponseError:
    """The deployment ``blue`` sent straight through azure-ai-ml (none of the package's checks): Azure's refusal."""
    model, environment = registered
    code = stage_scoring_folder(SCORE_PY, tmp_path / "code")
    deployment = new_deployment("blue", ENDPOINT, model, environment, code, instance_type, count)
    if timeout_ms is not None:
        deployment.request_settings.request_timeout_ms = timeout_ms
    with pytest.raises(HttpResponseError) as refused:
        ml_client.online_deployments.begin_create_or_update(deployment)
    return refused.value


def refusal_detail(error: HttpResponseError) -> str:
    assert error.status_code == 400
    assert error.response is not None
    body = json.loads(error.response.text())["error"]
    assert (body["code"], body["message"]) == ("BadRequest", "The request is invalid.")
    (detail,) = body["details"]
    code: str = detail["code"]
    return code


@pytest.mark.parametrize(
    ("options", "code"),
    [
        ({"instance_type": "Standard_B2s"}, "InstanceTypeNotSupported"),
        ({"instance_type": "standard_e2s_v3"}, "InferencingClientCreateDeploymentFailed"),  # listed: quota next
        ({"count": 51}, "InstanceCountLimitExceeded"),
        ({"count": 50}, "InferencingClientCreateDeploymentFailed"),
        ({"timeout_ms": 180_001}, "RequestTimeoutLimitExceeded"),
        ({"timeout_ms": 180_000}, "InferencingClientCreateDeploymentFailed"),
    ],
)
def test_azure_refuses_a_sku_off_the_list_and_a_deployment_past_a_limit_on_its_put(
    workspace: WorkspaceV2,
    ml_client: MLClient,
    registered: tuple[Model, Environment],
    endpoint: Endpoint,
    tmp_path: Path,
    options: dict[str, Any],
    code: str,
) -> None:
    workspace.core_quota = 0  # within the limits, the quota refuses next: no container starts
    assert refusal_detail(put_deployment(ml_client, registered, tmp_path, **options)) == code
    assert endpoint.deployments == {}


def test_azure_refuses_a_21st_deployment_on_an_endpoint(
    workspace: WorkspaceV2,
    ml_client: MLClient,
    registered: tuple[Model, Environment],
    endpoint: Endpoint,
    tmp_path: Path,
) -> None:
    template = {
        "properties": {"instanceType": "Standard_DS1_v2", "provisioningState": "Failed"},
        "sku": {"capacity": 1},
    }
    for number in range(20):  # 20 deployments left by other tools (failed ones: they count, and hold no quota)
        endpoint.deployments[f"old{number}"] = Deployment(copy.deepcopy({**template, "name": f"old{number}"}))
    assert refusal_detail(put_deployment(ml_client, registered, tmp_path)) == "DeploymentCountLimitExceeded"
    assert "blue" not in endpoint.deployments


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"instance_type": "Standard_B2s"},
            "instance_type must be a VM size of Microsoft's managed online endpoints SKU list (e.g. Standard_DS1_v2, "
            "Standard_DS2_v2, Standard_F2s_v2, Standard_E2s_v3), got 'Standard_B2s'.",
        ),
        (
            {"instance_count": 51},
            "instance_count must be a whole number from 1 to 50 (Azure's limit of instances per deployment; a "
            "support request can raise it), got 51.",
        ),
    ],
)
def test_the_package_refuses_them_before_any_call(
    workspace: WorkspaceV2,
    ml_client: MLClient,
    registered: tuple[Model, Environment],
    options: dict[str, Any],
    message: str,
) -> None:
    workspace.standin.server.calls.clear()
    with pytest.raises(TargetError) as refused:  # the target's OptionError, with the options it takes
        deploy_to(ml_client, registered, name=ENDPOINT, **options)
    assert f"Target 'endpoint' cannot be deployed: {message} It takes: " in str(refused.value)
    assert workspace.standin.server.calls == []


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (["--instance-type", "Standard_B2s"], "--instance-type must be a VM size of Microsoft's managed online"),
        (["--instance-count", "51"], "--instance-count must be a whole number from 1 to 50"),
    ],
)
def test_the_cli_says_which_flag_azure_would_refuse(
    capsys: pytest.CaptureFixture[str], flags: list[str], said: str
) -> None:
    with pytest.raises(SystemExit) as stopped:
        cli.main(["deploy", "--target", "endpoint", *flags])
    assert stopped.value.code == 2
    assert said in capsys.readouterr().err
