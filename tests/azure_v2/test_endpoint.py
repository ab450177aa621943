"""The SDK v2 target: a managed online endpoint, through the real azure-ai-ml against the Azure stand-in.

Only the network is replaced (see ``tests/standin``): the package signs in with azure-identity, uploads with
azure-storage-blob and deploys with azure-ai-ml; the stand-in answers as Microsoft's recordings of the service
show it, and each deployment runs the real inference server from what the SDK uploaded.
"""

from __future__ import annotations

import _thread
import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from unittest import mock

import numpy as np
import pytest
import requests
import yaml
from azure.ai.ml import MLClient
from azure.ai.ml.constants._endpoint import EndpointInvokeFields
from azure.ai.ml.entities import Environment, Model
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import EnvironmentCredential
from standin.azureml_v2 import ARM, WorkspaceV2
from standin.environments import local_pythons, nearest_python
from standin.server import azure_error, json_response
from support.endpoints import deploy_to, deployments, primary_key, scoring_bodies, sent, traffic
from support.project import SCORE_PY, load_score_module

from mnist_aci import call_http, cli, predict, predict_tutorial
from mnist_aci.azure_v2 import assets as endpoint_assets, operations, rollout, workspace as endpoint_workspace
from mnist_aci.azure_v2.endpoint import create_endpoint, new_deployment
from mnist_aci.azure_v2.invoke import invoke
from mnist_aci.errors import (
    DeploymentError,
    EnvironmentSpecError,
    ModelNotFoundError,
    RolloutError,
    ServiceCallError,
    ServiceNameError,
    VersionMismatchError,
    WorkspaceConfigError,
    WorkspaceError,
)
from mnist_aci.score_script import stage_scoring_folder
from mnist_aci.scoring import DEFAULT_CONNECTIONS
from mnist_aci.tutorial import DEFAULT_INSTANCE_TYPE, MODEL_DESCRIPTION, MODEL_FILENAME, MODEL_TAGS
from mnist_aci.versions import python_minor, resolve_serving_packages, runtime_versions, serving_pip_packages

if TYPE_CHECKING:
    from typing import Any

    from werkzeug.wrappers import Request, Response

    from mnist_aci.azure_v2.service import EndpointService
    from mnist_aci.data import Dataset

ENDPOINTS = r".*/onlineEndpoints/[^/]+"
DEPLOYMENTS = r".*/onlineEndpoints/[^/]+/deployments/[^/]+"
STATUS = r".*/mfeOperationsStatus/[^/]+"
#: Microsoft's v2 example environment (Azure/azureml-examples, cli/endpoints/online/model-1/environment/conda.yaml
#: and its image, commit 49a3265).
EXAMPLE_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04:latest"
EXAMPLE_CONDA = {
    "name": "model-env",
    "channels": ["conda-forge"],
    "dependencies": [
        "python=3.9",
        "numpy=1.23.5",
        "pip=23.0.1",
        "scikit-learn=1.2.2",
        "scipy=1.10.1",
        {"pip": ["azureml-inference-server-http==1.4.0", "inference-schema[numpy-support]", "joblib"]},
    ],
}
REPORTING_SCORE_PY = """
import platform

import sklearn

def init():
    print(f"score.py: scikit-learn {sklearn.__version__} on Python {platform.python_version()}")

def run(raw_data):
    return {"scikit-learn": sklearn.__version__, "python": platform.python_version()}
"""


def test_model_is_registered_as_a_custom_model_with_the_tutorials_tags_and_versions(
    workspace: WorkspaceV2, registered: tuple[Model, Environment]
) -> None:
    model, _ = registered
    (body,) = sent(workspace, "PUT", r".*/models/sklearn_mnist/versions/1")
    properties = body["properties"]
    assert (properties["modelType"], properties["tags"], properties["description"]) == (
        "custom_model",
        MODEL_TAGS,
        MODEL_DESCRIPTION,
    )
    assert properties["properties"] == {**runtime_versions(), "training_data": "test"}
    assert properties["modelUri"].endswith(f"/{MODEL_FILENAME}")
    assert endpoint_assets.model_versions(model) == runtime_versions()


def test_environment_pins_the_models_python_minor_and_packages_on_the_base_image(
    workspace: WorkspaceV2, registered: tuple[Model, Environment]
) -> None:
    _, environment = registered
    (body,) = sent(workspace, "PUT", r".*/environments/tutorial-env/versions/1")
    assert body["properties"]["image"] == endpoint_assets.BASE_IMAGE
    versions = runtime_versions()
    conda = yaml.safe_load(body["properties"]["condaFile"])
    assert conda["dependencies"] == [
        f"python={'.'.join(versions['python'].split('.')[:2])}",  # major.minor: the image has its own patch release
        "pip",
        {"pip": serving_pip_packages(versions)},
    ]
    assert endpoint_assets.pinned_versions(environment)["scikit-learn"] == versions["scikit-learn"]


def test_an_uninstallable_pin_fails_in_seconds_before_any_cloud_call(
    workspace: WorkspaceV2, ml_client: MLClient
) -> None:
    calls_before = len(workspace.standin.server.calls)
    versions = {**runtime_versions(), "scikit-learn": "0.20.0"}  # no wheel for Python 3.11 on Linux
    with pytest.raises(EnvironmentSpecError, match=r"cannot be installed on the cloud image \(Linux x86_64, Python"):
        endpoint_assets.get_or_register_environment(ml_client, versions)
    assert len(workspace.standin.server.calls) == calls_before
    assert python_minor("3.11.7") == "3.11"


@pytest.mark.subprocess
def test_the_pins_are_resolved_for_the_images_python_not_this_ones() -> None:
    # numpy 1.26 has wheels for Python 3.12 on Linux, none for 3.13: only the target's Python decides
    resolve_serving_packages(["numpy==1.26.4"], "3.12.1")
    with pytest.raises(EnvironmentSpecError, match=r"Python 3\.13"):
        resolve_serving_packages(["numpy==1.26.4"], "3.13.0")


def test_registering_changed_pins_gets_the_next_version_as_the_service_answers(
    workspace: WorkspaceV2, ml_client: MLClient, registered: tuple[Model, Environment]
) -> None:
    other = endpoint_assets.register_environment(ml_client, {**runtime_versions(), "joblib": "1.4.2"})
    assert other.version == "2"
    statuses = [call.status for call in workspace.standin.server.calls_to("PUT", r".*/environments/tutorial-env/.*")]
    assert statuses == [201, 409, 201]  # the SDK tries the latest version first; the service refuses to change it


def test_an_existing_environment_with_other_pins_is_refused_before_any_deployment(
    workspace: WorkspaceV2, ml_client: MLClient, registered: tuple[Model, Environment]
) -> None:
    model, _ = registered
    other = endpoint_assets.register_environment(ml_client, {**runtime_versions(), "joblib": "1.4.2"})
    with pytest.raises(VersionMismatchError, match=r"joblib: model saved with .*, serving with 1\.4\.2"):
        deploy_to(ml_client, (model, other))
    assert workspace.standin.server.calls_to("PUT", ENDPOINTS) == []


@pytest.mark.server
def test_new_endpoint_gets_key_auth_a_blue_deployment_of_score_py_and_all_the_traffic(
    workspace: WorkspaceV2, ml_client: MLClient, registered: tuple[Model, Environment], sample_data: Dataset
) -> None:
    model, environment = registered
    service = deploy_to(ml_client, registered, name="mnist-ep-test", preflight_image=sample_data.x_test[0])
    first = sent(workspace, "PUT", ENDPOINTS)[0]
    assert first["properties"]["authMode"] == "Key"
    (deployment,) = sent(workspace, "PUT", DEPLOYMENTS)
    properties = deployment["properties"]
    assert properties["model"].endswith(f"/models/sklearn_mnist/versions/{model.version}")
    assert properties["environmentId"].endswith(f"/environments/tutorial-env/versions/{environment.version}")
    assert properties["codeConfiguration"]["scoringScript"] == "score.py"
    code = workspace.blob.read(workspace.code_container, "")
    # score.py and what goes beside it, nothing else: no config.json
    assert sorted(Path(name).name for name in code) == ["score.py", "score_io.py", "swagger3.json"]
    assert (properties["instanceType"], deployment["sku"]["capacity"]) == (DEFAULT_INSTANCE_TYPE, 1)
    assert traffic(workspace, "mnist-ep-test") == {"blue": 100}
    assert (service.name, service.scoring_uri, service.auth_enabled, service.state) == (
        "mnist-ep-test",
        "https://mnist-ep-test.eastus.inference.ml.azure.com/score",
        True,
        "Succeeded",
    )
    images = sample_data.x_test[:50]
    assert predict(service, images).tolist() == service.run(json.dumps({"data": images.tolist()}))
    assert "POST /score 200" in service.get_logs(num_lines=5)  # the live deployment's server log
    service.delete()
    assert "mnist-ep-test" not in workspace.endpoints


@pytest.mark.server
def test_the_states_progress_as_recorded_while_the_operations_run(
    workspace: WorkspaceV2, ml_client: MLClient, registered: tuple[Model, Environment]
) -> None:
    deploy_to(ml_client, registered, name="mnist-ep-states")
    created = workspace.standin.server.calls_to("PUT", ENDPOINTS)[0]
    answer = json.loads(created.answer)["properties"]
    assert (created.status, answer["provisioningState"], answer["scoringUri"]) == (201, "Creating", None)
    polls: dict[str, list[str]] = {}
    for call in workspace.standin.server.calls_to("GET", STATUS):
        polls.setdefault(call.path, []).append(json.loads(call.answer)["status"])
    # endpoint, deployment, traffic: each polled until it ended, Updating while it ran (OD[2..4])
    assert len(polls) == 3
    for answers in polls.values():
        assert answers[-1] == "Succeeded"
        assert set(answers[:-1]) <= {"Updating"}
    checked = [(method, path.rsplit("/", 2)[-2], version) for method, path, version in workspace.checked]
    assert checked == [  # every PUT body checked against the published api-version; none refused (fixture)
        ("PUT", "onlineEndpoints", "2022-02-01-preview"),
        ("PUT", "deployments", "2023-04-01-preview"),
        ("PUT", "onlineEndpoints", "2022-02-01-preview"),
    ]
    assert workspace.tolerated == []
    final = json.loads(workspace.standin.server.calls_to("GET", ENDPOINTS)[-1].answer)["properties"]
    assert (final["provisioningState"], final["traffic"]) == ("Succeeded", {"blue": 100})
    assert final["scoringUri"] == "https://mnist-ep-states.eastus.inference.ml.azure.com/score"


@pytest.mark.server
def test_the_deployment_asks_for_the_request_settings_the_package_needs(
    workspace: WorkspaceV2, ml_client: MLClient, registered: tuple[Model, Environment]
) -> None:
    deploy_to(ml_client, registered, name="mnist-ep-settings")
    (deployment,) = sent(workspace, "PUT", DEPLOYMENTS)
    assert deployment["properties"]["requestSettings"]["requestTimeout"] == "PT30S"
    assert deployment["properties"]["requestSettings"]["maxConcurrentRequestsPerInstance"] == 1


@pytest.mark.server
def test_the_tutorials_whole_test_set_call_goes_in_bounded_requests(
    workspace: WorkspaceV2, ml_client: MLClient, registered: tuple[Model, Environment], sample_data: Dataset
) -> None:
    service = deploy_to(ml_client, registered, name="mnist-ep-whole")
    images = np.concatenate([sample_data.x_test] * 3)[:2500]  # the sample has 1,000 test images
    before = len(scoring_bodies(workspace))
    labels = predict_tutorial(service, images)
    bodies = scoring_bodies(workspace)[before:]
    assert [len(json.loads(body)["data"]) for body in bodies] == [1000, 1000, 500]
    assert max(len(body) for body in bodies) < 8 * 1024 * 1024
    assert labels.tolist() == predict(service, images).tolist()


@pytest.mark.server
def test_scoring_needs_the_key_which_is_never_shown(
    workspace: WorkspaceV2, ml_client: MLClient, registered: tuple[Model, Environment], sample_data: Dataset
) -> None:
    service = deploy_to(ml_client, registered)
    with pytest.raises(ServiceCallError, match="401") as refused:
        predict(service, sample_data.x_test[:2], key="wrong")
    key = primary_key(workspace, service.name)
    assert key not in str(refused.value) + repr(service)
    assert service.get_keys()[0] == key


@pytest.mark.server
def test_invoke_leaves_no_key_or_deployment_in_the_sdks_shared_headers(
    workspace: WorkspaceV2,
    ml_client: MLClient,
    registered: tuple[Model, Environment],
    sample_data: Dataset,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    service = deploy_to(ml_client, registered)
    body = json.dumps({"data": sample_data.x_test[:3].tolist()})
    own_temp = tmp_path / "temp"  # the machine's temporary folder is shared with the other test workers' invokes
    own_temp.mkdir()
    with monkeypatch.context() as patched:
        patched.setattr(tempfile, "tempdir", str(own_temp))
        assert len(invoke(ml_client, service.name, body, deployment_name="blue")) == 3
    assert EndpointInvokeFields.DEFAULT_HEADER == {"Content-Type": "application/json"}
    scored = [call for call in workspace.standin.server.calls if call.host.endswith(".inference.ml.azure.com")]
    assert scored[-1].headers["Azureml-Model-Deployment"] == "blue"
    assert list(own_temp.glob("mnist-aci-request-*")) == []


@pytest.mark.server
@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ('{"data": [[1, 2]]}', 400, "784 numbers"),
        ("[1, 2]", 400, ""),
    ],
)
def test_a_refused_request_is_the_models_status_and_message_on_run_predict_and_call_http(
    workspace: WorkspaceV2,
    ml_client: MLClient,
    registered: tuple[Model, Environment],
    body: str,
    status: int,
    message: str,
) -> None:
    service = deploy_to(ml_client, registered)
    with pytest.raises(ServiceCallError, match=f"the model answered {status}") as refused:
        service.run(body)
    assert refused.value.status == status
    assert message in str(refused.value)
    wrong = np.zeros((1, 783))
    with pytest.raises(ServiceCallError, match=f"the model answered {status}") as by_predict:
        predict(service, wrong)
    assert by_predict.value.status == status
    with pytest.raises(ServiceCallError, match=f"the model answered {status}.*784") as by_http:
        call_http(service.scoring_uri, wrong, key=service.get_keys()[0])
    assert by_http.value.status == status


def test_a_body_that_is_not_json_is_refused_before_it_is_sent(workspace: WorkspaceV2, ml_client: MLClient) -> None:
    with pytest.raises(ServiceCallError, match="not JSON.*sends JSON only"):
        invoke(ml_client, "mnist-ep-none", b"\x93NUMPY")
    assert [call for call in workspace.standin.server.calls if "/onlineEndpoints" in call.path] == []


@pytest.mark.server
def test_past_the_deployments_concurrency_the_endpoint_answers_429(
    workspace: WorkspaceV2, ml_client: MLClient, registered: tuple[Model, Environment], sample_data: Dataset
) -> None:
    service = deploy_to(ml_client, registered, name="mnist-ep-busy")
    (blue,) = workspace.endpoints["mnist-ep-busy"].deployments.values()
    blue.concurrent = 2  # in flight: the limit (2 x 1 request per instance x 1 instance)
    with pytest.raises(ServiceCallError, match="429") as refused:
        predict(service, sample_data.x_test[:2])
    assert refused.value.status == 429
    blue.concurrent = 0
    assert predict(service, sample_data.x_test[:2]).shape == (2,)


@pytest.mark.server
def test_instance_type_and_count_are_passed_on(
    workspace: WorkspaceV2, ml_client: MLClient, registered: tuple[Model, Environment]
) -> None:
    deploy_to(ml_client, registered, instance_type="Standard_F2s_v2", instance_count=2)
    (deployment,) = sent(workspace, "PUT", DEPLOYMENTS)
    assert (deployment["properties"]["instanceType"], deployment["sku"]["capacity"]) == ("Standard_F2s_v2", 2)


@pytest.mark.server
@pytest.mark.parametrize(
    ("message", "hint"),
    [
        ("The specified SKU Standard_XX is not supported", "with instance_type=<size>"),
        ("Container crashed: init() failed", "local pre-flight"),
    ],
)
def test_failed_deployment_reports_state_and_logs_and_deletes_the_endpoint(
    workspace: WorkspaceV2, ml_client: MLClient, registered: tuple[Model, Environment], message: str, hint: str
) -> None:
    workspace.next_deployment_error = {"code": "BadArgument", "message": message}
    with pytest.raises(DeploymentError, match="failed") as failed:
        deploy_to(ml_client, registered, name="mnist-ep-fail")
    text = str(failed.value)
    assert message in text
    assert hint in text
    assert "provisioning state Failed" in text
    assert "get_logs()" in text
    assert [call.path.rsplit("/", 1)[1] for call in workspace.standin.server.calls_to("DELETE", ENDPOINTS)] == [
        "mnist-ep-fail"
    ]
    assert "mnist-ep-fail" not in workspace.endpoints


@pytest.mark.server
def test_keep_failed_keeps_the_endpoint(
    workspace: WorkspaceV2, ml_client: MLClient, registered: tuple[Model, Environment]
) -> None:
    workspace.next_deployment_error = {"code": "ResourceNotReady", "message": "crashed"}
    with pytest.raises(DeploymentError, match="kept for inspection"):
        deploy_to(ml_client, registered, name="mnist-ep-kept", keep_failed=True)
    assert workspace.standin.server.calls_to("DELETE", ENDPOINTS) == []
    assert "mnist-ep-kept" in workspace.endpoints


def deploy_in(
    ml_client: MLClient, model: Model, environment: dict[str, Any], script: Path, name: str, tmp_path: Path
) -> EndpointService:
    """A new endpoint with deployment ``blue`` of ``script`` in ``environment`` (an azure-ai-ml ``Environment`` to
    register), without the package's checks of the environment."""
    from azure.ai.ml.entities import Environment

    registered = ml_client.environments.create_or_update(Environment(name=name, **environment))
    code = stage_scoring_folder(script, tmp_path / "code")
    deployment = new_deployment("blue", name, model, registered, code, DEFAULT_INSTANCE_TYPE, 1)
    return create_endpoint(ml_client, deployment, timeout_sec=None, keep_failed=False)


def test_an_environment_pinning_a_release_that_does_not_exist_fails_its_image_build(
    workspace: WorkspaceV2, ml_client: MLClient, registered: tuple[Model, Environment], tmp_path: Path
) -> None:
    conda = {"dependencies": ["python=3.11", {"pip": ["azureml-inference-server-http", "scikit-learn==9.9.9"]}]}
    environment = {"image": endpoint_assets.BASE_IMAGE, "conda_file": conda}

    with pytest.raises(DeploymentError) as failed:
        deploy_in(ml_client, registered[0], environment, SCORE_PY, "mnist-ep-nopin", tmp_path)

    text = str(failed.value)
    assert "ImageBuildFailure" in text
    assert "provisioning state Failed" in text
    assert "there is no version of scikit-learn==9.9.9" in text  # the build log, through get_logs()
    (path,) = re.findall(r"at the path '([^']+)'", text)
    assert b"Image build failed" in workspace.blob.read("azureml", path)[path]
    assert "mnist-ep-nopin" not in workspace.endpoints


@pytest.mark.server
def test_an_environment_pinning_an_older_scikit_learn_serves_with_it(
    workspace: WorkspaceV2, ml_client: MLClient, registered: tuple[Model, Environment], tmp_path: Path
) -> None:
    """Microsoft's example: Python 3.9 with scikit-learn 1.2.2, not this machine's; the container runs on Python
    3.9 where this machine has it, else on the nearest Python here."""
    script = tmp_path / "score.py"
    script.write_text(REPORTING_SCORE_PY)
    environment = {"image": EXAMPLE_IMAGE, "conda_file": EXAMPLE_CONDA}

    deploy_in(ml_client, registered[0], environment, script, "mnist-ep-older", tmp_path)
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"data": []}))
    answer = json.loads(ml_client.online_endpoints.invoke(endpoint_name="mnist-ep-older", request_file=str(request)))

    pythons = local_pythons()
    assert answer == {"scikit-learn": "1.2.2", "python": pythons[nearest_python((3, 9), pythons)][0]}
    if (3, 9) in pythons:
        assert answer["python"].startswith("3.9.")
    logs = ml_client.online_deployments.get_logs(name="blue", endpoint_name="mnist-ep-older", lines=200)
    assert f"score.py: scikit-learn 1.2.2 on Python {answer['python']}" in logs


def interrupt_on_first_poll(workspace: WorkspaceV2, kind: str) -> None:
    """Ctrl-C in the test's main thread while the SDK waits on an operation's first status poll."""

    def answer(request: Request) -> Response:
        _thread.interrupt_main()
        return json_response(200, {"status": "Updating"}, {"retry-after-ms": "5"})

    workspace.standin.server.inject("GET", ARM, rf".*/mfeOperationsStatus/{kind}:.*", answer)


@pytest.mark.server
def test_ctrl_c_while_waiting_deletes_the_endpoint_or_says_how_to(
    workspace: WorkspaceV2, ml_client: MLClient, registered: tuple[Model, Environment]
) -> None:
    interrupt_on_first_poll(workspace, "odidp")
    with pytest.raises(KeyboardInterrupt):
        deploy_to(ml_client, registered, name="mnist-ep-ctrlc")
    assert [call.path.rsplit("/", 1)[1] for call in workspace.standin.server.calls_to("DELETE", ENDPOINTS)] == [
        "mnist-ep-ctrlc"
    ]


@pytest.mark.server
def test_a_time_out_says_what_is_known_and_does_not_delete_while_azure_is_busy(
    workspace: WorkspaceV2, ml_client: MLClient, registered: tuple[Model, Environment]
) -> None:
    deploy_to(ml_client, registered, name="mnist-ep-slow")
    workspace.standin.server.calls.clear()
    workspace.hold_operations = True
    with pytest.raises(DeploymentError, match="did not finish within 1 s") as failed:
        deploy_to(ml_client, registered, name="mnist-ep-slow", timeout_sec=1, rollout_data=([[0.0] * 784], [0]))
    text = str(failed.value)
    assert "the operation goes on in Azure" in text
    assert "provisioning state Creating" in text
    assert "Not cleaned up, as Azure refuses to delete deployment green while the operation runs" in text
    assert workspace.standin.server.calls_to("DELETE", DEPLOYMENTS) == []
    workspace.release()


@pytest.mark.server
def test_an_existing_endpoint_is_not_replaced_without_a_rollout(
    workspace: WorkspaceV2, ml_client: MLClient, registered: tuple[Model, Environment]
) -> None:
    deploy_to(ml_client, registered, name="mnist-ep-taken")
    with pytest.raises(ServiceNameError, match="already exists.*--service-name mnist-ep-taken"):
        deploy_to(ml_client, registered, name="mnist-ep-taken")


@pytest.mark.parametrize("name", ["ab", "1endpoint", "end_point", "x" * 33, "trailing-", "two--dashes"])
def test_invalid_endpoint_names_are_refused_before_any_call(
    workspace: WorkspaceV2, ml_client: MLClient, registered: tuple[Model, Environment], name: str
) -> None:
    with pytest.raises(ServiceNameError, match="Invalid endpoint name"):
        deploy_to(ml_client, registered, name=name)
    assert [call for call in workspace.standin.server.calls if "/onlineEndpoints" in call.path] == []


@pytest.mark.server
def test_rollout_shifts_traffic_to_green_when_it_passes_the_gate(
    workspace: WorkspaceV2,
    ml_client: MLClient,
    registered: tuple[Model, Environment],
    sample_data: Dataset,
    caplog: pytest.LogCaptureFixture,
) -> None:
    deploy_to(ml_client, registered, name="mnist-ep-roll")
    caplog.set_level("INFO", logger="mnist_aci")
    data = (sample_data.x_test[:300], sample_data.y_test[:300])
    service = deploy_to(ml_client, registered, name="mnist-ep-roll", rollout_data=data)
    assert traffic(workspace, "mnist-ep-roll") == {"green": 100}
    assert ml_client.online_endpoints.get(name="mnist-ep-roll").traffic == {"green": 100}
    assert deployments(workspace, "mnist-ep-roll") == ["green"]
    assert "Gate passed: green" in caplog.text
    # beyond its api-version, azure-ai-ml echoes the endpoint's publicNetworkAccess in the traffic PUT (Azure takes it)
    assert [problem for _method, _path, problem in workspace.tolerated] == [
        "OnlineEndpointTrackedResource at properties: Additional properties are not allowed "
        "('publicNetworkAccess' was unexpected)"
    ]
    assert "the rollout needs 4 cores of the standardDSv2Family quota (blue: 1 x Standard_DS1_v2," in caplog.text
    assert predict(service, data[0]).shape == (300,)


def refused_deployment_puts(workspace: WorkspaceV2) -> list[str]:
    """The deployments whose PUT Azure refused on the request itself (a 400: nothing was created)."""
    return [
        call.path.rsplit("/", 1)[1]
        for call in workspace.standin.server.calls_to("PUT", DEPLOYMENTS)
        if call.status == 400
    ]


def assert_told_as_a_refusal(text: str, instance_type: str) -> None:
    """A refusal on the PUT: Azure's whole cause and the quota hint; no state, logs, init() or billing scare."""
    assert "(BadRequest) The request is invalid." in text
    assert f"(InferencingClientCreateDeploymentFailed) VmSize: Not enough quota available for {instance_type}" in text
    assert "Request more quota" in text
    for misleading in ("score.py", "provisioning state unknown", "get_logs()", "may still exist and be billed"):
        assert misleading not in text


@pytest.mark.parametrize(
    ("instance_type", "count", "core_quota", "needs"),
    [
        (
            "Standard_DS1_v2",
            1,
            1,
            "2 cores of the standardDSv2Family quota (blue: 1 x Standard_DS1_v2, "
            "ceil(1.2 x 1) = 2 instances x 1 core = 2)",
        ),
        (
            "Standard_F2s_v2",
            2,
            5,
            "6 cores of the standardFSv2Family quota (blue: 2 x Standard_F2s_v2, "
            "ceil(1.2 x 2) = 3 instances x 2 cores = 6)",
        ),
    ],
)
def test_a_deployment_beyond_the_quota_is_refused_with_its_cause_and_the_endpoint_deleted(
    workspace: WorkspaceV2,
    ml_client: MLClient,
    registered: tuple[Model, Environment],
    instance_type: str,
    count: int,
    core_quota: int,
    needs: str,
) -> None:
    workspace.core_quota = core_quota  # cores of each VM family: one core short
    with pytest.raises(DeploymentError, match="Deployment of endpoint mnist-ep-noquota failed") as failed:
        deploy_to(ml_client, registered, name="mnist-ep-noquota", instance_type=instance_type, instance_count=count)
    text = str(failed.value)
    assert_told_as_a_refusal(text, instance_type)
    assert f"Current usage/limit: 0/{core_quota}. Additional needed: {core_quota + 1} Please see" in text
    assert f"here {needs}. A later rollout of the same size holds two such deployments at once: twice that." in text
    assert "deployment blue: no provisioning state or logs (refused before it was created)" in text
    assert refused_deployment_puts(workspace) == ["blue"]
    assert "Done: delete endpoint mnist-ep-noquota." in text  # the endpoint was created: it goes
    assert "mnist-ep-noquota" not in workspace.endpoints


@pytest.mark.server
def test_a_rollout_needs_the_cores_of_both_deployments_and_is_refused_below_them(
    workspace: WorkspaceV2,
    ml_client: MLClient,
    registered: tuple[Model, Environment],
    sample_data: Dataset,
    caplog: pytest.LogCaptureFixture,
) -> None:
    workspace.core_quota = 7  # blue holds ceil(1.2 x 1) x 2 = 4 cores; green needs 4 more
    options = {"name": "mnist-ep-quota", "instance_type": "Standard_F2s_v2"}
    deploy_to(ml_client, registered, **options)
    data = (sample_data.x_test[:10], sample_data.y_test[:10])
    with pytest.raises(DeploymentError, match="Rollout of deployment green failed") as failed:
        deploy_to(ml_client, registered, rollout_data=data, **options)
    text = str(failed.value)
    assert_told_as_a_refusal(text, "Standard_F2s_v2")
    assert "Current usage/limit: 4/7. Additional needed: 4 Please see" in text
    needs = (
        "8 cores of the standardFSv2Family quota (blue: 1 x Standard_F2s_v2, ceil(1.2 x 1) = 2 instances x 2 cores "
        "= 4; green: 1 x Standard_F2s_v2, ceil(1.2 x 1) = 2 instances x 2 cores = 4)"
    )
    assert f"here {needs}. Request more quota" in text
    assert "Nothing to clean up: Azure refused deployment green, so it was never created." in text
    assert refused_deployment_puts(workspace) == ["green"]
    assert workspace.standin.server.calls_to("DELETE", DEPLOYMENTS) == []
    assert traffic(workspace, "mnist-ep-quota") == {"blue": 100}
    assert deployments(workspace, "mnist-ep-quota") == ["blue"]

    workspace.core_quota = 8  # exactly what the rollout needs
    caplog.set_level("INFO", logger="mnist_aci")
    deploy_to(ml_client, registered, rollout_data=data, **options)
    assert f"the rollout needs {needs}." in caplog.text
    assert traffic(workspace, "mnist-ep-quota") == {"green": 100}


@pytest.mark.server
def test_rollout_refused_by_the_gate_deletes_green_and_keeps_the_traffic(
    workspace: WorkspaceV2, ml_client: MLClient, registered: tuple[Model, Environment], sample_data: Dataset
) -> None:
    deploy_to(ml_client, registered, name="mnist-ep-gate")
    data = (sample_data.x_test[:300], sample_data.y_test[:300])
    with pytest.raises(RolloutError, match=r"green scored 0\.\d+, below the gate of 1\.0000") as refused:
        deploy_to(ml_client, registered, name="mnist-ep-gate", rollout_data=data, min_accuracy=1.0)
    assert "Deployment green was deleted; blue still takes the traffic" in str(refused.value)
    assert traffic(workspace, "mnist-ep-gate") == {"blue": 100}
    assert deployments(workspace, "mnist-ep-gate") == ["blue"]


@pytest.mark.server
def test_rollout_compares_green_with_the_live_deployment_by_default(
    workspace: WorkspaceV2, ml_client: MLClient, registered: tuple[Model, Environment], sample_data: Dataset
) -> None:
    deploy_to(ml_client, registered, name="mnist-ep-worse")
    images, labels = sample_data.x_test[:300], sample_data.y_test[:300]
    good = rollout.deployment_accuracy
    scores: dict[str, float] = {}

    # green really scored, then made one image worse
    def accuracy(
        service: EndpointService,
        deployment_name: str,
        images: np.ndarray,
        labels: np.ndarray,
        connections: int = DEFAULT_CONNECTIONS,
    ) -> float:
        real = good(service, deployment_name, images, labels, connections)
        scores[deployment_name] = real - (0.01 if deployment_name == "green" else 0)
        return scores[deployment_name]

    with mock.patch.object(rollout, "deployment_accuracy", side_effect=accuracy), pytest.raises(RolloutError):
        deploy_to(ml_client, registered, name="mnist-ep-worse", rollout_data=(images, labels))
    assert scores["green"] < scores["blue"]
    assert traffic(workspace, "mnist-ep-worse") == {"blue": 100}


@pytest.mark.server
def test_a_failed_green_leaves_blue_and_its_traffic(
    workspace: WorkspaceV2, ml_client: MLClient, registered: tuple[Model, Environment], sample_data: Dataset
) -> None:
    deploy_to(ml_client, registered, name="mnist-ep-green")
    workspace.next_deployment_error = {"code": "ResourceNotReady", "message": "crashed"}
    with pytest.raises(DeploymentError, match="Rollout of deployment green failed"):
        deploy_to(
            ml_client,
            registered,
            name="mnist-ep-green",
            rollout_data=(sample_data.x_test[:10], sample_data.y_test[:10]),
        )
    deleted = [
        call.path.rsplit("/", 2)[1:] for call in workspace.standin.server.calls_to("DELETE", r".*/onlineEndpoints/.*")
    ]
    assert deleted == [["deployments", "green"]]
    assert traffic(workspace, "mnist-ep-green") == {"blue": 100}
    assert deployments(workspace, "mnist-ep-green") == ["blue"]


def test_connect_reads_the_same_config_json_and_signs_in(workspace: WorkspaceV2, config_file: Path) -> None:
    client = endpoint_workspace.load_ml_client(config_file)
    assert (client.subscription_id, client.resource_group_name, client.workspace_name) == (
        workspace.subscription_id,
        workspace.resource_group,
        workspace.name,
    )
    assert workspace.standin.entra.issued == 1  # the sign-in is checked once, before any other call


@contextlib.contextmanager
def signed_in() -> Iterator[tuple[mock.MagicMock, mock.MagicMock]]:
    """``DefaultAzureCredential`` and ``MLClient.from_config`` patched (autospec): sign-in failures without Azure."""
    with (
        mock.patch("azure.identity.DefaultAzureCredential", autospec=True) as credential_class,
        mock.patch("azure.ai.ml.MLClient.from_config", autospec=True) as from_config_mock,
    ):
        yield credential_class, from_config_mock


def test_no_login_is_one_error_saying_how_to_log_in(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"subscription_id": "s", "resource_group": "r", "workspace_name": "w"}))
    with signed_in() as (credential_class, from_config):
        credential_class.return_value.get_token.side_effect = ClientAuthenticationError("no credential found")
        with pytest.raises(WorkspaceError, match=r"az login.*az login --tenant <id>` and tenant_id=<id>\)"):
            endpoint_workspace.load_ml_client(config)
    from_config.assert_not_called()


def test_tenant_id_logs_in_on_that_tenant(tmp_path: Path) -> None:
    with (
        mock.patch("azure.identity.AzureCliCredential", autospec=True) as cli_login,
        mock.patch("azure.identity.InteractiveBrowserCredential", autospec=True) as browser_login,
    ):
        endpoint_workspace.azure_credential("tenant-1")
    cli_login.assert_called_once_with(tenant_id="tenant-1")
    browser_login.assert_called_once_with(tenant_id="tenant-1")


def test_missing_config_is_refused_before_any_login(tmp_path: Path) -> None:
    with (
        mock.patch("azure.identity.DefaultAzureCredential", autospec=True) as credential_class,
        pytest.raises(WorkspaceConfigError, match="No workspace config.json found"),
    ):
        endpoint_workspace.load_ml_client(tmp_path / "config.json")
    credential_class.assert_not_called()


def test_score_py_finds_the_model_where_v1_and_v2_place_it(
    tmp_path: Path, small_model_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for layout in (tmp_path / "v1", tmp_path / "v2" / "model"):
        layout.mkdir(parents=True)
        (layout / MODEL_FILENAME).write_bytes(small_model_file.read_bytes())
    score = load_score_module()
    for model_dir in (tmp_path / "v1", tmp_path / "v2"):
        monkeypatch.setenv("AZUREML_MODEL_DIR", str(model_dir))
        monkeypatch.setattr(score, "model", None)
        score.init()
        assert callable(score.model.predict)


def test_a_model_whose_versions_are_all_archived_is_said_so(
    workspace: WorkspaceV2, ml_client: MLClient, registered: tuple[Model, Environment]
) -> None:
    workspace.archive("sklearn_mnist")
    with pytest.raises(ModelNotFoundError, match=r"Every version of model 'sklearn_mnist' .* is archived \(1\)"):
        endpoint_assets.get_model(ml_client)


def test_no_model_at_all_is_a_model_not_found_error(workspace: WorkspaceV2, ml_client: MLClient) -> None:
    with pytest.raises(ModelNotFoundError, match="No model 'sklearn_mnist' is registered"):
        endpoint_assets.get_model(ml_client)


def test_without_the_storage_role_the_upload_is_refused_with_what_to_ask_for(
    workspace: WorkspaceV2, ml_client: MLClient, small_model_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="mnist_aci")
    workspace.blob.data_role = False
    with pytest.raises(WorkspaceError, match="Storage Blob Data Contributor role"):
        endpoint_assets.register_model(ml_client, small_model_file)
    assert "uploaded with your own sign-in" in caplog.text  # said before the upload


@pytest.mark.server
def test_the_pollers_dots_stay_off_stdout(
    workspace: WorkspaceV2,
    ml_client: MLClient,
    registered: tuple[Model, Environment],
    capfd: pytest.CaptureFixture[str],
) -> None:
    deploy_to(ml_client, registered, name="mnist-ep-dots")
    printed = capfd.readouterr().out
    assert not re.search(r"(^|[^.])\.{1,3}($|[^.])", printed.replace("...", "")), printed


def run_cli(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``mnist-aci`` as a subprocess, with the stand-in's environment (set by the fixtures)."""
    return subprocess.run(
        [sys.executable, "-m", "mnist_aci.cli", *argv],
        cwd=cwd,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.mark.server
@pytest.mark.subprocess
def test_cli_run_target_endpoint_does_the_whole_tutorial(
    workspace: WorkspaceV2, ml_client: MLClient, config_file: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """``mnist-aci run --target endpoint`` as a user runs it; on full MNIST (MNIST_DATA_DIR) with the full model
    registered first (trained once per test run), so the run reuses it and scores the 10,000 test images."""
    folder = os.environ.get("MNIST_DATA_DIR")
    dataset = ["--dataset", "mnist", "--data-dir", folder] if folder else ["--dataset", "sample"]
    if folder:
        endpoint_assets.register_model(ml_client, request.getfixturevalue("full_model_file"))
    out = tmp_path / "out"
    done = run_cli(
        "run", "--target", "endpoint", "--config", str(config_file), *dataset, "--no-download",
        "--output-dir", str(out), "--service-name", "mnist-ep-cli", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    if folder:
        assert f"{metrics['accuracy']:.4f}" == "0.9193"
    else:
        assert metrics["accuracy"] > 0.8
    assert "mnist-ep-cli" not in workspace.endpoints  # the run deletes what it made
    json_bodies = [body for body in scoring_bodies(workspace) if body.startswith(b"{")]
    assert json_bodies  # the tutorial-shaped path (online_endpoints.invoke) went through the endpoint
    for found_key in re.findall(rb'"primaryKey": "(\w+)"', b"".join(c.answer for c in workspace.standin.server.calls)):
        assert found_key.decode() not in done.stdout + done.stderr
    assert not re.search(r"^\.+|\.{2,}\n", done.stdout, re.M), done.stdout  # no poller dots between lines
    assert (out / "conf.png").is_file()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "--instance-type", "Standard_F2s_v2"], "is for --target endpoint only"),
        (["deploy", "--target", "aci", "--min-accuracy", "0.9"], "is for --target endpoint only"),
        (["run", "--target", "endpoint", "--auth"], "always needs a key"),
        (["run", "--target", "endpoint", "--instance-count", "0"], "a whole number from 1 to 50"),
        (["deploy", "--target", "endpoint", "--min-accuracy", "91"], "between 0 and 1"),
        (["delete", "--target", "endpoint"], "needs --service-name"),
        (["deploy", "--target", "endpoint", "--overwrite"], "rolls the model out to it"),
        (
            ["run", "--target", "endpoint", "--compute-target", "aks1"],
            "--compute-target is for --target aci or --target aks only",
        ),
    ],
)
def test_cli_endpoint_usage_errors_exit_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        cli.main(argv)
    assert stopped.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.server
@pytest.mark.subprocess
def test_cli_phases_train_deploy_evaluate_roll_out_and_delete(
    workspace: WorkspaceV2, config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The phases in this process (``cli.main``); the two rollouts, refused then accepted, as subprocesses."""
    workspace_flags = ["--target", "endpoint", "--config", str(config_file)]
    common = [*workspace_flags, "--dataset", "sample", "--no-download"]
    named = [*common, "--service-name", "mnist-ep-phases"]

    def no_key_in(printed: str) -> str:
        for found in workspace.endpoints.values():
            assert found.keys[0] not in printed
        return printed

    def mnist_aci(*argv: str) -> tuple[int, str]:
        code = cli.main(list(argv))
        printed = capsys.readouterr()
        return code, no_key_in(printed.out + printed.err)

    def mnist_aci_process(*argv: str) -> tuple[int, str]:
        done = run_cli(*argv, cwd=tmp_path)
        return done.returncode, no_key_in(done.stdout + done.stderr)

    assert mnist_aci("train", *common, "--output-dir", str(tmp_path / "out"))[0] == 0
    code, text = mnist_aci("deploy", *named)
    assert code == 0, text
    assert traffic(workspace, "mnist-ep-phases") == {"blue": 100}
    code, text = mnist_aci("evaluate", *named, "--output-dir", str(tmp_path / "eval"))
    assert code == 0, text
    assert "accuracy:" in text
    code, text = mnist_aci_process("deploy", *named, "--min-accuracy", "1")
    assert code == 1
    assert "Rollout refused" in text
    assert traffic(workspace, "mnist-ep-phases") == {"blue": 100}
    assert deployments(workspace, "mnist-ep-phases") == ["blue"]
    code, text = mnist_aci_process("deploy", *named)
    assert code == 0, text
    assert "Gate passed: green" in text
    assert traffic(workspace, "mnist-ep-phases") == {"green": 100}
    assert deployments(workspace, "mnist-ep-phases") == ["green"]
    code, text = mnist_aci("run", *named)
    assert code == 1
    assert "already exists" in text
    assert mnist_aci("delete", *workspace_flags, "--service-name", "mnist-ep-phases")[0] == 0  # no data flags
    assert not workspace.endpoints
    assert len(sent(workspace, "PUT", r".*/models/sklearn_mnist/versions/[^/]+")) == 1  # deploy and evaluate reused it


@pytest.mark.server
def test_a_refused_endpoint_is_reported_as_never_created_and_not_deleted(
    workspace: WorkspaceV2, ml_client: MLClient, registered: tuple[Model, Environment]
) -> None:
    workspace.standin.server.inject(
        "PUT",
        ARM,
        ENDPOINTS,
        lambda request: azure_error(
            400, "BadArgument", "Endpoint name mnist-ep-taken2 is already in use in region eastus"
        ),
    )
    with pytest.raises(DeploymentError, match="Creation of endpoint mnist-ep-taken2 failed") as failed:
        deploy_to(ml_client, registered, name="mnist-ep-taken2")
    text = str(failed.value)
    assert "unique in the Azure region: choose another name=<endpoint>" in text  # deploy_to's parameter
    assert "get_logs()" not in text  # no deployment was made: no deployment report
    assert "Nothing to clean up: Azure refused endpoint mnist-ep-taken2, so it was never created." in text
    assert "endpoint mnist-ep-taken2: provisioning state none (refused before it was created)" in text
    assert "may still exist and be billed" not in text
    assert workspace.standin.server.calls_to("PUT", DEPLOYMENTS) == []
    assert workspace.standin.server.calls_to("DELETE", ENDPOINTS) == []


@pytest.mark.server
def test_a_clean_up_that_fails_says_so_and_how_to_finish_it(
    workspace: WorkspaceV2, ml_client: MLClient, registered: tuple[Model, Environment]
) -> None:
    workspace.next_deployment_error = {"code": "ResourceNotReady", "message": "crashed"}
    workspace.standin.server.inject(
        "DELETE", ARM, ENDPOINTS, lambda request: azure_error(409, "Conflict", "Conflict: operation running")
    )
    with pytest.raises(DeploymentError) as failed:
        deploy_to(ml_client, registered, name="mnist-ep-stuck")
    text = str(failed.value)
    assert "Could not delete endpoint mnist-ep-stuck ((Conflict) Conflict: operation running)" in text
    assert "az ml online-endpoint delete --name mnist-ep-stuck" in text
    assert "Done:" not in text
    workspace.standin.server.faults.clear()


@pytest.mark.server
def test_a_failed_traffic_shift_keeps_both_deployments_and_says_where_traffic_stands(
    workspace: WorkspaceV2, ml_client: MLClient, registered: tuple[Model, Environment], sample_data: Dataset
) -> None:
    deploy_to(ml_client, registered, name="mnist-ep-shift")
    data = (sample_data.x_test[:100], sample_data.y_test[:100])
    shifts = workspace.standin.server.inject(
        "PUT", ARM, ENDPOINTS, lambda request: azure_error(409, "Conflict", "Another operation is in progress")
    )
    with pytest.raises(DeploymentError, match="green passed the gate, but moving the traffic to it failed") as failed:
        deploy_to(ml_client, registered, name="mnist-ep-shift", rollout_data=data)
    assert shifts.used == 1
    assert '--traffic "green=100 blue=0"' in str(failed.value)
    assert "its traffic now: blue 100 %, green 0 %." in str(failed.value)
    assert deployments(workspace, "mnist-ep-shift") == ["blue", "green"]
    assert traffic(workspace, "mnist-ep-shift") == {"blue": 100}


@pytest.mark.server
def test_a_traffic_shift_that_times_out_says_the_change_is_under_way(
    workspace: WorkspaceV2, ml_client: MLClient, registered: tuple[Model, Environment], sample_data: Dataset
) -> None:
    deploy_to(ml_client, registered, name="mnist-ep-late")
    data = (sample_data.x_test[:100], sample_data.y_test[:100])
    original = operations.set_traffic

    def slow_traffic(client: MLClient, found: object, shares: dict[str, int], timeout_sec: float | None) -> None:
        workspace.hold_operations = True  # green is up; the traffic change then outlives the wait
        return original(client, found, shares, 1)

    with (
        mock.patch.object(rollout, "set_traffic", side_effect=slow_traffic),
        pytest.raises(DeploymentError) as failed,
    ):
        deploy_to(ml_client, registered, name="mnist-ep-late", rollout_data=data)
    text = str(failed.value)
    assert "did not finish within 1 s" in text
    assert "A change is still under way (provisioning state Creating)" in text
    assert "kept (blue with the traffic it had" not in text
    workspace.release()


@pytest.mark.server
def test_a_scoring_failure_during_the_rollout_deletes_green_and_keeps_the_traffic(
    workspace: WorkspaceV2, ml_client: MLClient, registered: tuple[Model, Environment], sample_data: Dataset
) -> None:
    deploy_to(ml_client, registered, name="mnist-ep-keys")
    workspace.standin.server.inject(
        "POST", ARM, ENDPOINTS + "/listKeys", lambda request: azure_error(403, "AuthorizationFailed", "Forbidden")
    )
    data = (sample_data.x_test[:100], sample_data.y_test[:100])
    with pytest.raises(DeploymentError, match=r"Scoring of the test set for the rollout of green failed: .*Forbidden"):
        deploy_to(ml_client, registered, name="mnist-ep-keys", rollout_data=data)
    assert deployments(workspace, "mnist-ep-keys") == ["blue"]
    assert traffic(workspace, "mnist-ep-keys") == {"blue": 100}


def test_a_body_the_rest_spec_refuses_is_a_400_and_is_recorded(workspace: WorkspaceV2) -> None:
    token = EnvironmentCredential().get_token(endpoint_workspace.ARM_SCOPE).token
    url = f"https://management.azure.com{workspace.arm_id}/onlineEndpoints/mnist-ep-bad?api-version=2022-02-01-preview"
    answer = requests.put(
        url,
        json={"location": "eastus", "properties": {"authmode": "Key"}},  # misspelt: the spec's name is authMode
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert answer.status_code == 400
    assert "'authMode' is a required property" in answer.json()["error"]["message"]
    assert "'authmode' was unexpected" in answer.json()["error"]["message"]
    assert [(method, path.rsplit("/", 1)[1]) for method, path, _problem in workspace.refused] == [
        ("PUT", "mnist-ep-bad")
    ]
    workspace.refused.clear()
