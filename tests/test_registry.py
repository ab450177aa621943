from importlib.metadata import version
from unittest import mock

import pytest
from azureml.core import Environment, Model, Workspace
from azureml.exceptions import WebserviceException

from mnist_aci import registry
from mnist_aci.errors import DeploymentError, MnistAciWarning, ModelNotFoundError, VersionMismatchError
from mnist_aci.versions import read_versions, runtime_versions


@pytest.fixture
def workspace():
    return mock.create_autospec(Workspace, instance=True)


@pytest.fixture
def model_class():
    model_class = mock.create_autospec(Model)
    with mock.patch("azureml.core.Model", model_class):
        yield model_class


@pytest.fixture
def environment_class():
    environment_class = mock.create_autospec(Environment)
    with mock.patch("azureml.core.Environment", environment_class):
        yield environment_class


def test_get_model_is_the_tutorials_call(workspace, model_class):
    assert registry.get_model(workspace) is model_class.return_value
    model_class.assert_called_once_with(workspace, "sklearn_mnist", version=None)


def test_missing_model_is_a_clear_error(workspace, model_class):
    model_class.side_effect = WebserviceException("ModelNotFound: Model with name sklearn_mnist not found")
    with pytest.raises(ModelNotFoundError, match="mnist-aci train"):
        registry.get_model(workspace)


def test_register_uses_the_notebooks_tags_description_and_the_versions_record(workspace, model_class, small_model_file):
    registry.register_model(workspace, small_model_file)
    model_class.register.assert_called_once_with(
        workspace=workspace,
        model_path=str(small_model_file),
        model_name="sklearn_mnist",
        tags={"data": "mnist", "model": "classification"},
        properties=read_versions(small_model_file),
        description="Mnist handwriting recognition",
    )


def test_get_or_register_registers_only_when_missing(workspace, model_class, small_model_file):
    assert registry.get_or_register_model(workspace, small_model_file) is model_class.return_value
    model_class.register.assert_not_called()
    model_class.side_effect = WebserviceException("ModelNotFound: not found in provided workspace")
    assert registry.get_or_register_model(workspace, small_model_file) is model_class.register.return_value


def test_environment_is_fetched_as_the_tutorial_does(workspace, environment_class):
    assert registry.get_or_register_environment(workspace) is environment_class.get.return_value
    environment_class.get.assert_called_once_with(workspace=workspace, name="tutorial-env", version="1")


def test_missing_environment_is_registered_with_exact_pins(workspace):
    versions = runtime_versions()
    with (
        mock.patch.object(Environment, "get", autospec=True) as get,
        mock.patch.object(Environment, "register", autospec=True) as register,
    ):
        get.side_effect = Exception("Error retrieving the environment definition. Code: 404\n: {}")
        result = registry.get_or_register_environment(workspace, versions)
    register.assert_called_once_with(mock.ANY, workspace=workspace)
    assert result is register.return_value
    built = register.call_args.args[0]
    assert built.name == "tutorial-env"
    pip = list(built.python.conda_dependencies.pip_packages)
    for package in ("scikit-learn", "numpy", "joblib"):
        assert f"{package}=={versions[package]}" in pip
    for package in ("azureml-inference-server-http", "orjson", "pysimdjson"):  # what score.py is tested with
        assert f"{package}=={version(package)}" in pip
    assert "azureml-defaults" in pip


def test_other_environment_errors_are_not_hidden(workspace, environment_class):
    environment_class.get.side_effect = Exception("Error retrieving the environment definition. Code: 403")
    with pytest.raises(DeploymentError, match="Code: 403"):
        registry.get_or_register_environment(workspace)
    environment_class.return_value.register.assert_not_called()


def test_built_environment_pins_match_the_model():
    versions = runtime_versions()
    environment = registry.build_environment(versions)
    assert environment.name == "tutorial-env"
    registry.check_environment_pins(environment, versions)
    pins = registry.pinned_versions(environment)
    assert pins["python"] == versions["python"]
    assert pins["scikit-learn"] == versions["scikit-learn"]


def test_mismatched_pins_refuse_to_deploy_naming_both_versions():
    model_versions = {**runtime_versions(), "scikit-learn": "0.22.1"}
    environment = registry.build_environment(runtime_versions())
    with pytest.raises(VersionMismatchError) as info:
        registry.check_environment_pins(environment, model_versions)
    message = str(info.value)
    assert "0.22.1" in message
    assert runtime_versions()["scikit-learn"] in message
    assert "tutorial-env" in message


def test_unpinned_environment_is_a_mismatch():
    from azureml.core.conda_dependencies import CondaDependencies

    environment = Environment("tutorial-env")
    environment.python.conda_dependencies = CondaDependencies.create(pip_packages=["azureml-defaults", "scikit-learn"])
    with pytest.raises(VersionMismatchError, match="serving with an unpinned version"):
        registry.check_environment_pins(environment, runtime_versions())


def test_conda_pins_of_the_tutorials_environment_are_read():
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


def test_register_environment_registers_a_new_pinned_version(workspace):
    with mock.patch.object(Environment, "register", autospec=True) as register:
        registry.register_environment(workspace, runtime_versions())
    built = register.call_args.args[0]
    register.assert_called_once_with(built, workspace=workspace)
    registry.check_environment_pins(built, runtime_versions())


def test_model_without_a_record_is_deployed_with_a_warning():
    with pytest.warns(MnistAciWarning, match="no versions record"):
        registry.check_environment_pins(registry.build_environment(), None)


def test_model_versions_are_read_from_properties():
    model = mock.create_autospec(Model, instance=True)
    model.properties = {**runtime_versions(), "other": "x"}
    assert registry.model_versions(model) == runtime_versions()
    model.properties = {}
    assert registry.model_versions(model) is None
