from __future__ import annotations

from typing import TYPE_CHECKING
from unittest import mock

import pytest
from azureml.core import Environment, Model, Workspace
from azureml.core.model import InferenceConfig
from azureml.core.webservice import AciWebservice, AksWebservice, Webservice
from azureml.exceptions import WebserviceException
from support.project import SCORE_PY

from mnist_aci.azure_v1 import deployment
from mnist_aci.azure_v1.config import aci_config, aks_config, inference_config
from mnist_aci.errors import DeploymentError, ServiceNameError
from mnist_aci.score_script import stage_scoring_folder

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture
def workspace() -> mock.NonCallableMagicMock:
    workspace: mock.NonCallableMagicMock = mock.create_autospec(Workspace, instance=True)
    return workspace


@pytest.fixture
def service() -> mock.NonCallableMagicMock:
    service: mock.NonCallableMagicMock = mock.create_autospec(AciWebservice, instance=True)
    service.name = "sklearn-mnist-svc-ab12"
    service.state = "Healthy"
    service.error = None
    return service


@pytest.fixture
def model_class(service: mock.NonCallableMagicMock) -> Iterator[mock.MagicMock]:
    model_class = mock.create_autospec(Model)
    model_class.deploy.return_value = service
    with mock.patch("azureml.core.model.Model", model_class):
        yield model_class


@pytest.fixture
def webservice_class() -> Iterator[mock.MagicMock]:
    """No service of the name exists yet (Webservice(ws, name) raises WebserviceNotFound)."""
    webservice_class = mock.create_autospec(Webservice)
    webservice_class.side_effect = WebserviceException("WebserviceNotFound: Webservice with name x not found")
    with mock.patch("azureml.core.webservice.Webservice", webservice_class):
        yield webservice_class


def test_aci_config_is_the_tutorials() -> None:
    with mock.patch.object(AciWebservice, "deploy_configuration", autospec=True) as configure:
        config = aci_config()
    configure.assert_called_once_with(
        cpu_cores=1,
        memory_gb=1,
        tags={"data": "MNIST", "method": "sklearn"},
        description="Predict MNIST with sklearn",
        auth_enabled=False,
    )
    assert config is configure.return_value


def test_aci_config_is_overridable_and_real() -> None:
    config = aci_config(2, 4, tags={"team": "x"}, auth_enabled=True)
    assert (config.cpu_cores, config.memory_gb, config.tags, config.auth_enabled) == (2, 4, {"team": "x"}, True)


def test_aks_config_names_the_cluster_and_enables_keys() -> None:
    with mock.patch.object(AksWebservice, "deploy_configuration", autospec=True) as configure:
        aks_config("my-aks", autoscale_max_replicas=8)
    kwargs = configure.call_args.kwargs
    assert kwargs["compute_target_name"] == "my-aks"
    assert kwargs["autoscale_enabled"] is True
    assert kwargs["autoscale_max_replicas"] == 8
    assert kwargs["auth_enabled"] is True


def test_aks_config_with_token_auth_turns_key_auth_off_as_the_sdk_requires() -> None:
    assert (aks_config("my-aks").auth_enabled, aks_config("my-aks").token_auth_enabled) == (True, False)
    config = aks_config("my-aks", token_auth_enabled=True)
    assert (config.auth_enabled, config.token_auth_enabled) == (False, True)
    with pytest.raises(WebserviceException, match="auth_enabled and token_auth_enabled cannot both be true"):
        aks_config("my-aks", token_auth_enabled=True, auth_enabled=True)


def test_inference_config_is_the_tutorials_with_the_staged_folder(tmp_path: Path) -> None:
    """The SDK's own InferenceConfig, which checks that the entry script is in the folder."""
    folder = stage_scoring_folder(SCORE_PY, tmp_path / "app")
    environment = Environment("tutorial-env")
    config = inference_config(environment, folder)
    assert isinstance(config, InferenceConfig)
    assert (config.source_directory, config.entry_script, config.environment) == (str(folder), "score.py", environment)


def test_new_service_name_follows_the_tutorial() -> None:
    name = deployment.new_service_name()
    assert name.startswith("sklearn-mnist-svc-")
    assert len(name) == len("sklearn-mnist-svc-") + 4
    assert deployment.check_service_name(name) == name


@pytest.mark.parametrize(
    "name",
    ["ab", "a" * 33, "Sklearn-mnist", "1abc", "abc-", "ab_c", "ab c", "", "sklearn.mnist"],
)
def test_invalid_service_names_are_refused_before_any_call(
    name: str, workspace: mock.NonCallableMagicMock, model_class: mock.MagicMock, webservice_class: mock.MagicMock
) -> None:
    with pytest.raises(ServiceNameError, match="3-32 characters"):
        deployment.deploy_and_wait(workspace, mock.sentinel.model, mock.sentinel.ic, mock.sentinel.dc, name=name)
    model_class.deploy.assert_not_called()
    webservice_class.assert_not_called()


@pytest.mark.parametrize("name", ["abc", "a" * 32, "sklearn-mnist-svc-0f3a", "a-1"])
def test_valid_service_names(name: str) -> None:
    assert deployment.check_service_name(name) == name


def test_existing_name_needs_overwrite(
    workspace: mock.NonCallableMagicMock, model_class: mock.MagicMock, webservice_class: mock.MagicMock
) -> None:
    webservice_class.side_effect = None
    with pytest.raises(ServiceNameError, match="already exists.*overwrite=True") as refused:
        deployment.deploy_and_wait(workspace, mock.sentinel.model, None, None, name="sklearn-mnist-svc-ab12")
    assert "--overwrite" not in str(refused.value)  # the CLI says --overwrite where the library says overwrite=True
    model_class.deploy.assert_not_called()
    deployment.deploy_and_wait(
        workspace, mock.sentinel.model, None, None, name="sklearn-mnist-svc-ab12", overwrite=True
    )
    assert model_class.deploy.call_args.kwargs["overwrite"] is True


def test_unhealthy_end_without_exception_is_a_failure_too(
    workspace: mock.NonCallableMagicMock,
    model_class: mock.MagicMock,
    webservice_class: mock.MagicMock,
    service: mock.NonCallableMagicMock,
) -> None:
    """A state the stand-in does not produce: the operation succeeded, the service did not get healthy."""
    service.state = "Unhealthy"
    service.get_logs.return_value = "replica 1 of 1 not ready"
    with pytest.raises(DeploymentError, match="it ended Unhealthy"):
        deployment.deploy_and_wait(workspace, mock.sentinel.model, None, None, name="sklearn-mnist-svc-ab12")
    service.delete.assert_called_once_with()


def test_timeout_keeps_the_service_when_asked(
    workspace: mock.NonCallableMagicMock,
    model_class: mock.MagicMock,
    webservice_class: mock.MagicMock,
    service: mock.NonCallableMagicMock,
) -> None:
    service.wait_for_deployment.side_effect = WebserviceException(
        "Deployment polling exceeded timeout override of 60 seconds. Current state: Transitioning"
    )
    service.state = "Transitioning"
    service.get_logs.side_effect = WebserviceException("no logs yet")
    with pytest.raises(DeploymentError, match="not ready after 60 s.*kept for inspection") as info:
        deployment.deploy_and_wait(
            workspace, mock.sentinel.model, None, None, name="abc", keep_failed=True, timeout_sec=60
        )
    assert "logs unavailable" in str(info.value)
    service.wait_for_deployment.assert_called_once_with(show_output=True, timeout_sec=60)
    service.delete.assert_not_called()


def test_delete_service_calls_delete(service: mock.NonCallableMagicMock) -> None:
    deployment.delete_service(service)
    service.delete.assert_called_once_with()


def test_get_service_checks_the_name_first(
    workspace: mock.NonCallableMagicMock, webservice_class: mock.MagicMock
) -> None:
    with pytest.raises(ServiceNameError):
        deployment.get_service(workspace, "Bad_Name")
    webservice_class.assert_not_called()


@pytest.mark.parametrize("keep_failed", [False, True])
def test_ctrl_c_while_waiting_deletes_the_half_made_service(
    workspace: mock.NonCallableMagicMock,
    model_class: mock.MagicMock,
    webservice_class: mock.MagicMock,
    service: mock.NonCallableMagicMock,
    keep_failed: bool,
) -> None:
    service.wait_for_deployment.side_effect = KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        deployment.deploy_and_wait(workspace, mock.sentinel.model, None, None, name="abc", keep_failed=keep_failed)
    assert service.delete.call_count == (0 if keep_failed else 1)
