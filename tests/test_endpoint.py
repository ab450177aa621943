"""The SDK v2 target: a managed online endpoint, against autospecced azure-ai-ml and the real local server."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from unittest import mock

import pytest
from azure.ai.ml.constants._endpoint import EndpointInvokeFields
from azure.ai.ml.entities import ManagedOnlineEndpoint
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from conftest import SCORE_PY, inference_servers, load_score_module, wait_until_gone
from fake_azureml_v2 import PRIMARY_KEY, FakeAzureML

from mnist_aci import cli, endpoint, endpoint_assets, endpoint_workspace, predict
from mnist_aci.errors import (
    DeploymentError,
    RolloutError,
    ServiceCallError,
    ServiceNameError,
    VersionMismatchError,
    WorkspaceConfigError,
    WorkspaceError,
)
from mnist_aci.targets import deploy_model
from mnist_aci.tutorial import DEFAULT_INSTANCE_TYPE, MODEL_DESCRIPTION, MODEL_FILENAME, MODEL_TAGS
from mnist_aci.versions import runtime_versions, serving_pip_packages

pytestmark = pytest.mark.server
CONFIG = {"subscription_id": "sub", "resource_group": "rg", "workspace_name": "ws"}


@pytest.fixture
def config_file(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps(CONFIG))
    return config


@contextlib.contextmanager
def signed_in(client=None):
    """``DefaultAzureCredential`` and ``MLClient.from_config`` patched (autospec); yields both mocks."""
    from_config = {"return_value": client} if client is not None else {}
    with (
        mock.patch("azure.identity.DefaultAzureCredential", autospec=True) as credential_class,
        mock.patch("azure.ai.ml.MLClient.from_config", autospec=True, **from_config) as from_config_mock,
    ):
        yield credential_class, from_config_mock


@pytest.fixture
def fake(tmp_path):
    servers_before = inference_servers()
    azure = FakeAzureML(tmp_path)
    yield azure
    azure.close()
    assert not wait_until_gone(inference_servers() - servers_before)


@pytest.fixture
def registered(fake, small_model_file):
    """The small model registered as SDK v2 registers it, and tutorial-env v2 pinned to it."""
    model = endpoint_assets.register_model(fake.client, small_model_file, properties={"training_data": "test"})
    environment = endpoint_assets.get_or_register_environment(fake.client, endpoint_assets.model_versions(model))
    return model, environment


def deploy_to_fake(fake, registered, **options):
    model, environment = registered
    return deploy_model(
        "endpoint", model, ml_client=fake.client, environment=environment, entry_script=SCORE_PY, **options
    )


def test_model_is_registered_as_a_custom_model_with_the_tutorials_tags_and_versions(fake, registered):
    model, _ = registered
    (sent,), _ = fake.client.models.create_or_update.call_args
    assert (sent.name, sent.type, sent.tags, sent.description) == (
        "sklearn_mnist",
        "custom_model",
        MODEL_TAGS,
        MODEL_DESCRIPTION,
    )
    assert sent.properties == {**runtime_versions(), "training_data": "test"}
    assert endpoint_assets.model_versions(model) == runtime_versions()


def test_environment_pins_the_models_python_and_packages_on_the_base_image(fake, registered):
    _, environment = registered
    (sent,), _ = fake.client.environments.create_or_update.call_args
    assert (sent.name, sent.version, sent.image) == ("tutorial-env", "1", endpoint_assets.BASE_IMAGE)
    versions = runtime_versions()
    assert sent.conda_file["dependencies"] == [
        f"python={versions['python']}",
        "pip",
        {"pip": serving_pip_packages(versions)},
    ]
    assert endpoint_assets.pinned_versions(environment)["scikit-learn"] == versions["scikit-learn"]


def test_an_existing_environment_with_other_pins_is_refused_before_any_deployment(fake, registered):
    model, _ = registered
    other = endpoint_assets.register_environment(fake.client, {**runtime_versions(), "scikit-learn": "0.22.2"})
    with pytest.raises(VersionMismatchError, match=r"scikit-learn: model saved with .*, serving with 0\.22\.2"):
        deploy_to_fake(fake, (model, other))
    fake.client.online_endpoints.begin_create_or_update.assert_not_called()


def test_new_endpoint_gets_key_auth_a_blue_deployment_of_score_py_and_all_the_traffic(fake, registered, sample_data):
    model, environment = registered
    service = deploy_to_fake(fake, registered, name="mnist-ep-test", preflight_image=sample_data.x_test[0])
    (first,), _ = fake.client.online_endpoints.begin_create_or_update.call_args_list[0]
    assert isinstance(first, ManagedOnlineEndpoint)
    assert (first.name, first.auth_mode) == ("mnist-ep-test", "key")
    (deployment,), _ = fake.client.online_deployments.begin_create_or_update.call_args
    assert (deployment.name, deployment.endpoint_name) == ("blue", "mnist-ep-test")
    assert deployment.model == f"azureml:sklearn_mnist:{model.version}"
    assert deployment.environment == f"azureml:tutorial-env:{environment.version}"
    assert deployment.code_configuration.scoring_script == "score.py"
    assert fake.code_files["blue"] == ["score.py", "swagger3.json"]  # nothing else: no config.json
    assert (deployment.instance_type, deployment.instance_count) == (DEFAULT_INSTANCE_TYPE, 1)
    assert fake.endpoints["mnist-ep-test"].traffic == {"blue": 100}
    assert (service.name, service.scoring_uri, service.auth_enabled, service.state) == (
        "mnist-ep-test",
        fake.scoring_uri,
        True,
        "Succeeded",
    )
    images = sample_data.x_test[:50]
    assert predict(service, images).tolist() == service.run(json.dumps({"data": images.tolist()}))
    assert service.get_logs(num_lines=5)  # the live deployment's server log
    service.delete()
    assert "mnist-ep-test" not in fake.endpoints


def test_scoring_needs_the_key_which_is_never_shown(fake, registered, sample_data):
    service = deploy_to_fake(fake, registered)
    with pytest.raises(ServiceCallError, match="401") as refused:
        predict(service, sample_data.x_test[:2], key="wrong")
    assert PRIMARY_KEY not in str(refused.value) + repr(service)
    assert service.get_keys()[0] == PRIMARY_KEY


def test_invoke_leaves_no_key_or_deployment_in_the_sdks_shared_headers(fake, registered, sample_data):
    service = deploy_to_fake(fake, registered)
    body = json.dumps({"data": sample_data.x_test[:3].tolist()})
    assert len(endpoint.invoke(fake.client, service.name, body, deployment_name="blue")) == 3
    assert EndpointInvokeFields.DEFAULT_HEADER == {"Content-Type": "application/json"}
    (_, kwargs) = fake.client.online_endpoints.invoke.call_args
    assert kwargs["deployment_name"] == "blue"
    assert not Path(kwargs["request_file"]).exists()


def test_invoke_refused_is_a_service_call_error_with_the_status(fake, registered):
    service = deploy_to_fake(fake, registered)
    with pytest.raises(ServiceCallError, match="400") as refused:
        service.run('{"data": [[1, 2]]}')
    assert refused.value.status == 400


def test_instance_type_and_count_are_passed_on(fake, registered):
    deploy_to_fake(fake, registered, instance_type="Standard_F2s_v2", instance_count=2)
    (deployment,), _ = fake.client.online_deployments.begin_create_or_update.call_args
    assert (deployment.instance_type, deployment.instance_count) == ("Standard_F2s_v2", 2)


@pytest.mark.parametrize(
    ("message", "hint"),
    [
        ("Not enough quota available for Standard_DS1_v2", "Request more quota"),
        ("The specified SKU Standard_XX is not supported", "--instance-type"),
        ("Container crashed: init() failed", "local pre-flight"),
    ],
)
def test_failed_deployment_reports_state_and_logs_and_deletes_the_endpoint(fake, registered, message, hint):
    fake.client.online_deployments.begin_create_or_update.side_effect = HttpResponseError(message=message)
    with pytest.raises(DeploymentError, match="failed") as failed:
        deploy_to_fake(fake, registered, name="mnist-ep-fail")
    text = str(failed.value)
    assert message in text
    assert hint in text
    assert "provisioning state" in text
    assert "get_logs()" in text
    fake.client.online_endpoints.begin_delete.assert_called_once_with(name="mnist-ep-fail")
    assert "mnist-ep-fail" not in fake.endpoints


def test_keep_failed_keeps_the_endpoint(fake, registered):
    fake.client.online_deployments.begin_create_or_update.side_effect = HttpResponseError(message="crashed")
    with pytest.raises(DeploymentError, match="kept for inspection"):
        deploy_to_fake(fake, registered, name="mnist-ep-kept", keep_failed=True)
    fake.client.online_endpoints.begin_delete.assert_not_called()
    assert "mnist-ep-kept" in fake.endpoints


def test_ctrl_c_while_waiting_deletes_the_endpoint(fake, registered):
    fake.client.online_deployments.begin_create_or_update.side_effect = KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        deploy_to_fake(fake, registered, name="mnist-ep-ctrlc")
    fake.client.online_endpoints.begin_delete.assert_called_once_with(name="mnist-ep-ctrlc")


def test_a_deployment_still_running_after_the_timeout_fails_and_is_deleted(fake, registered):
    poller = fake.client.online_deployments.begin_create_or_update
    poller.side_effect = None
    poller.return_value.done.return_value = False
    with pytest.raises(DeploymentError, match="did not finish within 5 s"):
        deploy_to_fake(fake, registered, name="mnist-ep-slow", timeout_sec=5)
    poller.return_value.result.assert_called_once_with(timeout=5)
    fake.client.online_endpoints.begin_delete.assert_called_once_with(name="mnist-ep-slow")


def test_an_existing_endpoint_is_not_replaced_without_a_rollout(fake, registered):
    deploy_to_fake(fake, registered, name="mnist-ep-taken")
    with pytest.raises(ServiceNameError, match="already exists.*--service-name mnist-ep-taken"):
        deploy_to_fake(fake, registered, name="mnist-ep-taken")


@pytest.mark.parametrize("name", ["ab", "1endpoint", "end_point", "x" * 33, "trailing-"])
def test_invalid_endpoint_names_are_refused_before_any_call(fake, registered, name):
    with pytest.raises(ServiceNameError, match="Invalid endpoint name"):
        deploy_to_fake(fake, registered, name=name)
    fake.client.online_endpoints.get.assert_not_called()


def test_rollout_shifts_traffic_to_green_when_it_passes_the_gate(fake, registered, sample_data, caplog):
    deploy_to_fake(fake, registered, name="mnist-ep-roll")
    caplog.set_level("INFO", logger="mnist_aci")
    data = (sample_data.x_test[:300], sample_data.y_test[:300])
    service = deploy_to_fake(fake, registered, name="mnist-ep-roll", rollout_data=data)
    assert fake.endpoints["mnist-ep-roll"].traffic == {"green": 100, "blue": 0}
    assert [d.name for d in fake.client.online_deployments.list(endpoint_name="mnist-ep-roll")] == ["green"]
    assert "Gate passed: green" in caplog.text
    assert predict(service, data[0]).shape == (300,)


def test_rollout_refused_by_the_gate_deletes_green_and_keeps_the_traffic(fake, registered, sample_data):
    deploy_to_fake(fake, registered, name="mnist-ep-gate")
    data = (sample_data.x_test[:300], sample_data.y_test[:300])
    with pytest.raises(RolloutError, match=r"green scored 0\.\d+, below the gate of 1\.0000") as refused:
        deploy_to_fake(fake, registered, name="mnist-ep-gate", rollout_data=data, min_accuracy=1.0)
    assert "Deployment green was deleted; blue still takes the traffic" in str(refused.value)
    assert fake.endpoints["mnist-ep-gate"].traffic == {"blue": 100}
    assert [d.name for d in fake.client.online_deployments.list(endpoint_name="mnist-ep-gate")] == ["blue"]


def test_rollout_compares_green_with_the_live_deployment_by_default(fake, registered, sample_data):
    deploy_to_fake(fake, registered, name="mnist-ep-worse")
    images, labels = sample_data.x_test[:300], sample_data.y_test[:300]
    good = endpoint.deployment_accuracy
    scores = {}

    def accuracy(service, deployment_name, *args):  # green really scored, then made one image worse
        scores[deployment_name] = good(service, deployment_name, *args) - (0.01 if deployment_name == "green" else 0)
        return scores[deployment_name]

    with mock.patch.object(endpoint, "deployment_accuracy", side_effect=accuracy), pytest.raises(RolloutError):
        deploy_to_fake(fake, registered, name="mnist-ep-worse", rollout_data=(images, labels))
    assert scores["green"] < scores["blue"]
    assert fake.endpoints["mnist-ep-worse"].traffic == {"blue": 100}


def test_a_failed_green_leaves_blue_and_its_traffic(fake, registered, sample_data):
    deploy_to_fake(fake, registered, name="mnist-ep-green")
    fake.client.online_deployments.begin_create_or_update.side_effect = HttpResponseError(message="crashed")
    with pytest.raises(DeploymentError, match="Rollout of deployment green failed"):
        deploy_to_fake(
            fake, registered, name="mnist-ep-green", rollout_data=(sample_data.x_test[:10], sample_data.y_test[:10])
        )
    fake.client.online_deployments.begin_delete.assert_called_once_with(name="green", endpoint_name="mnist-ep-green")
    fake.client.online_endpoints.begin_delete.assert_not_called()
    assert fake.endpoints["mnist-ep-green"].traffic == {"blue": 100}


def test_connect_reads_the_same_config_json_and_checks_the_login(config_file):
    with signed_in() as (credential_class, from_config):
        client = endpoint_workspace.load_ml_client(config_file)
    credential_class.return_value.get_token.assert_called_once_with(endpoint_workspace.ARM_SCOPE)
    from_config.assert_called_once_with(credential_class.return_value, path=str(config_file))
    assert client is from_config.return_value


def test_no_login_is_one_error_saying_how_to_log_in(config_file):
    with signed_in() as (credential_class, from_config):
        credential_class.return_value.get_token.side_effect = ClientAuthenticationError("no credential found")
        with pytest.raises(WorkspaceError, match="az login"):
            endpoint_workspace.load_ml_client(config_file)
    from_config.assert_not_called()


def test_tenant_id_logs_in_on_that_tenant(tmp_path):
    with (
        mock.patch("azure.identity.AzureCliCredential", autospec=True) as cli_login,
        mock.patch("azure.identity.InteractiveBrowserCredential", autospec=True) as browser_login,
    ):
        endpoint_workspace.azure_credential("tenant-1")
    cli_login.assert_called_once_with(tenant_id="tenant-1")
    browser_login.assert_called_once_with(tenant_id="tenant-1")


def test_missing_config_is_refused_before_any_login(tmp_path):
    with (
        mock.patch("azure.identity.DefaultAzureCredential", autospec=True) as credential_class,
        pytest.raises(WorkspaceConfigError, match="No workspace config.json found"),
    ):
        endpoint_workspace.load_ml_client(tmp_path / "config.json")
    credential_class.assert_not_called()


def test_score_py_finds_the_model_where_v1_and_v2_place_it(tmp_path, small_model_file, monkeypatch):
    for layout in (tmp_path / "v1", tmp_path / "v2" / "model"):
        layout.mkdir(parents=True)
        (layout / MODEL_FILENAME).write_bytes(small_model_file.read_bytes())
    score = load_score_module()
    for model_dir in (tmp_path / "v1", tmp_path / "v2"):
        monkeypatch.setenv("AZUREML_MODEL_DIR", str(model_dir))
        score.model = None
        score.init()
        assert callable(score.model.predict)


def test_cli_run_target_endpoint_does_the_whole_tutorial(fake, config_file, tmp_path, capsys):
    config = config_file
    out = tmp_path / "out"
    with signed_in(fake.client):
        code = cli.main(
            [
                "run",
                "--target",
                "endpoint",
                "--config",
                str(config),
                "--dataset",
                "sample",
                "--no-download",
                "--output-dir",
                str(out),
                "--service-name",
                "mnist-ep-cli",
            ]
        )
    printed = capsys.readouterr()
    assert code == 0, printed.err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["accuracy"] > 0.8
    assert "mnist-ep-cli" not in fake.endpoints  # the run deletes what it made
    assert fake.client.online_endpoints.invoke.called  # the tutorial-shaped path went through invoke
    assert PRIMARY_KEY not in printed.out + printed.err
    assert (out / "conf.png").is_file()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "--instance-type", "Standard_F2s_v2"], "apply to --target endpoint only"),
        (["deploy", "--target", "aci", "--min-accuracy", "0.9"], "apply to --target endpoint only"),
        (["run", "--target", "endpoint", "--auth"], "always needs a key"),
        (["run", "--target", "endpoint", "--instance-count", "0"], "at least 1"),
        (["deploy", "--target", "endpoint", "--min-accuracy", "91"], "between 0 and 1"),
        (["delete", "--target", "endpoint"], "needs --service-name"),
        (["deploy", "--target", "endpoint", "--overwrite"], "rolls the model out"),
        (["run", "--target", "endpoint", "--compute-target", "aks1"], "--compute-target is for aks"),
    ],
)
def test_cli_endpoint_usage_errors_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as stopped:
        cli.main(argv)
    assert stopped.value.code == 2
    assert message in capsys.readouterr().err


def test_cli_phases_train_deploy_evaluate_roll_out_and_delete(fake, config_file, tmp_path, capsys):
    common = ["--target", "endpoint", "--config", str(config_file), "--dataset", "sample", "--no-download"]
    named = [*common, "--service-name", "mnist-ep-phases"]

    def mnist_aci(*argv: str) -> tuple[int, str]:
        code = cli.main(list(argv))
        printed = capsys.readouterr()
        assert PRIMARY_KEY not in printed.out + printed.err
        return code, printed.out + printed.err

    with signed_in(fake.client):
        assert mnist_aci("train", *common, "--output-dir", str(tmp_path / "out"))[0] == 0
        assert mnist_aci("deploy", *named)[0] == 0
        assert fake.endpoints["mnist-ep-phases"].traffic == {"blue": 100}
        code, text = mnist_aci("evaluate", *named, "--output-dir", str(tmp_path / "eval"))
        assert code == 0
        assert "accuracy:" in text
        code, text = mnist_aci("deploy", *named, "--min-accuracy", "1")
        assert code == 1
        assert "Rollout refused" in text
        assert fake.endpoints["mnist-ep-phases"].traffic == {"blue": 100}
        code, text = mnist_aci("deploy", *named)
        assert code == 0, text
        assert fake.endpoints["mnist-ep-phases"].traffic == {"green": 100, "blue": 0}
        code, text = mnist_aci("run", *named)
        assert code == 1
        assert "already exists" in text
        assert mnist_aci("delete", *named)[0] == 0
    assert not fake.endpoints
    assert fake.client.models.create_or_update.call_count == 1  # deploy and evaluate reused the trained model


def test_a_refused_endpoint_is_reported_as_such_and_deleted(fake, registered):
    fake.client.online_endpoints.begin_create_or_update.side_effect = HttpResponseError(
        message="Endpoint name mnist-ep-taken2 is already in use in region westeurope"
    )
    with pytest.raises(DeploymentError, match="Creation of endpoint mnist-ep-taken2 failed") as failed:
        deploy_to_fake(fake, registered, name="mnist-ep-taken2")
    text = str(failed.value)
    assert "unique in the Azure region" in text
    assert "get_logs()" not in text  # no deployment was made: no deployment report
    fake.client.online_deployments.begin_create_or_update.assert_not_called()
    fake.client.online_endpoints.begin_delete.assert_called_once_with(name="mnist-ep-taken2")


def test_a_clean_up_that_fails_says_so_and_how_to_finish_it(fake, registered):
    fake.client.online_deployments.begin_create_or_update.side_effect = HttpResponseError(message="crashed")
    fake.client.online_endpoints.begin_delete.side_effect = HttpResponseError(message="Conflict: operation running")
    with pytest.raises(DeploymentError) as failed:
        deploy_to_fake(fake, registered, name="mnist-ep-stuck")
    text = str(failed.value)
    assert "Could not delete endpoint mnist-ep-stuck (Conflict: operation running)" in text
    assert "az ml online-endpoint delete --name mnist-ep-stuck" in text
    assert "Done:" not in text


def test_a_failed_traffic_shift_keeps_both_deployments_and_says_how_to_finish(fake, registered, sample_data):
    deploy_to_fake(fake, registered, name="mnist-ep-shift")
    fake.client.online_endpoints.begin_create_or_update.side_effect = HttpResponseError(message="throttled")
    data = (sample_data.x_test[:100], sample_data.y_test[:100])
    with pytest.raises(DeploymentError, match="green passed the gate, but moving the traffic to it failed") as failed:
        deploy_to_fake(fake, registered, name="mnist-ep-shift", rollout_data=data)
    assert '--traffic "green=100 blue=0"' in str(failed.value)
    assert sorted(d.name for d in fake.client.online_deployments.list(endpoint_name="mnist-ep-shift")) == [
        "blue",
        "green",
    ]
    assert fake.endpoints["mnist-ep-shift"].traffic == {"blue": 100}


def test_a_scoring_failure_during_the_rollout_deletes_green_and_keeps_the_traffic(fake, registered, sample_data):
    deploy_to_fake(fake, registered, name="mnist-ep-keys")
    fake.client.online_endpoints.get_keys.side_effect = HttpResponseError(message="Forbidden")
    data = (sample_data.x_test[:100], sample_data.y_test[:100])
    with pytest.raises(DeploymentError, match="Scoring of the test set for the rollout of green failed: Forbidden"):
        deploy_to_fake(fake, registered, name="mnist-ep-keys", rollout_data=data)
    assert [d.name for d in fake.client.online_deployments.list(endpoint_name="mnist-ep-keys")] == ["blue"]
    assert fake.endpoints["mnist-ep-keys"].traffic == {"blue": 100}
