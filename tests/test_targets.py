"""One entry point for local, ACI and AKS; the pre-flight runs on the real local server."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from unittest import mock

import numpy as np
import pytest
from azureml.core import Model, Workspace
from azureml.core.webservice import AciWebservice, Webservice
from azureml.exceptions import WebserviceException
from support.processes import assert_fully_stopped, inference_servers, service_pids, wait_until_gone
from support.project import ROOT, SCORE_PY

from mnist_aci.azure_v1 import registry
from mnist_aci.deploy import deploy_model, preflight
from mnist_aci.errors import DeploymentError, ModelIntegrityError, ModelTypeError, TargetError, VersionMismatchError
from mnist_aci.local.service import LocalWebservice, start_local_service
from mnist_aci.local.store import LocalModelStore
from mnist_aci.scoring import tutorial_body
from mnist_aci.versions import runtime_versions

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sklearn.multiclass import OneVsRestClassifier

    from mnist_aci.data import Dataset
    from mnist_aci.service import Service


@pytest.fixture
def store(tmp_path: Path) -> LocalModelStore:
    return LocalModelStore(tmp_path / "store")


@pytest.fixture
def azure(small_model_file: Path) -> Iterator[mock.Mock]:
    """Workspace, registered model and the SDK calls of a cloud deployment, all autospecced."""
    workspace = mock.create_autospec(Workspace, instance=True)
    model = mock.create_autospec(Model, instance=True)
    model.properties = runtime_versions()
    model.download.return_value = str(small_model_file)
    service = mock.create_autospec(AciWebservice, instance=True)
    service.name, service.state, service.error = "sklearn-mnist-svc-ab12", "Healthy", None
    model_class = mock.create_autospec(Model)
    model_class.deploy.return_value = service
    webservice_class = mock.create_autospec(Webservice, side_effect=WebserviceException("WebserviceNotFound"))
    with (
        mock.patch("azureml.core.model.Model", model_class),
        mock.patch("azureml.core.webservice.Webservice", webservice_class),
        mock.patch("azureml.core.model.InferenceConfig", autospec=True) as inference_class,
        mock.patch.object(AciWebservice, "deploy_configuration", autospec=True) as configure,
    ):
        yield mock.Mock(
            workspace=workspace,
            model=model,
            service=service,
            model_class=model_class,
            inference_class=inference_class,
            configure=configure,
            environment=registry.build_environment(runtime_versions()),
        )


def deploy_to_mocked_aci(
    azure: mock.Mock, preflight_image: np.ndarray | None, *, entry_script: Path = SCORE_PY, **options: object
) -> Service:
    """``deploy_model("aci", ...)`` with the mocked workspace, model and environment of ``azure``."""
    return deploy_model(
        "aci",
        azure.model,
        entry_script=entry_script,
        workspace=azure.workspace,
        environment=azure.environment,
        preflight_image=preflight_image,
        **options,
    )


@pytest.mark.server
def test_local_target_serves_a_registered_model(
    store: LocalModelStore, small_model_file: Path, small_model: OneVsRestClassifier, sample_data: Dataset
) -> None:
    model = store.register(small_model_file)
    service = deploy_model("local", model, entry_script=SCORE_PY)
    assert isinstance(service, LocalWebservice)
    try:
        assert service.state == "Healthy"
        pids = service_pids(service)
        answer = service.run(input_data=tutorial_body(sample_data.x_test[:4]))
        assert answer == small_model.predict(sample_data.x_test[:4]).tolist()
    finally:
        service.delete()
    assert_fully_stopped(service, pids)


def test_local_target_refuses_a_tampered_model(store: LocalModelStore, small_model_file: Path) -> None:
    model = store.register(small_model_file)
    model.path.write_bytes(model.path.read_bytes() + b"x")
    before = inference_servers()
    with pytest.raises(ModelIntegrityError):
        deploy_model("local", model, entry_script=SCORE_PY)
    assert inference_servers() <= before


def test_local_target_refuses_a_model_saved_with_other_versions(store: LocalModelStore, small_model_file: Path) -> None:
    model = store.register(small_model_file, properties={"scikit-learn": "0.22.1"})
    with pytest.raises(VersionMismatchError, match=r"scikit-learn: model saved with 0\.22\.1"):
        deploy_model("local", model, entry_script=SCORE_PY)


def test_the_cli_offers_the_targets_of_the_table_by_their_names() -> None:
    from mnist_aci.cli import FLAGS
    from mnist_aci.targets import TARGET_TABLE, by_name

    offered = next(flag for flag in FLAGS if flag.name == "--target").settings["choices"]
    assert tuple(offered) == tuple(TARGET_TABLE) == ("local", "aci", "aks", "endpoint")
    assert all(target.name == name for name, target in TARGET_TABLE.items())
    with pytest.raises(TypeError, match="same name"):
        by_name(*TARGET_TABLE.values(), TARGET_TABLE["aci"])


def test_unknown_target_is_refused() -> None:
    with pytest.raises(TargetError, match="choose one of local, aci, aks"):
        deploy_model("docker", object())


@pytest.mark.server
def test_aci_runs_the_preflight_then_the_tutorials_deploy(
    azure: mock.Mock, sample_data: Dataset, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="mnist_aci")
    staged = {}

    def record_the_source_folder(*, source_directory: str, **_: object) -> object:
        staged.update({path.name: path.read_bytes() for path in Path(source_directory).iterdir()})
        return mock.DEFAULT

    azure.inference_class.side_effect = record_the_source_folder
    result = deploy_to_mocked_aci(azure, sample_data.x_test[0], name="sklearn-mnist-svc-ab12")
    assert "Pre-flight" in caplog.text
    azure.model.download.assert_called_once_with(target_dir=mock.ANY, exist_ok=True)
    azure.inference_class.assert_called_once_with(
        source_directory=mock.ANY, entry_script="score.py", environment=azure.environment
    )
    assert staged == {name: (ROOT / name).read_bytes() for name in ("score.py", "score_io.py", "swagger3.json")}
    assert not Path(azure.inference_class.call_args.kwargs["source_directory"]).exists()  # removed after deploying
    azure.configure.assert_called_once_with(
        cpu_cores=1,
        memory_gb=1,
        tags={"data": "MNIST", "method": "sklearn"},
        description="Predict MNIST with sklearn",
        auth_enabled=False,
    )
    azure.model_class.deploy.assert_called_once_with(
        workspace=azure.workspace,
        name="sklearn-mnist-svc-ab12",
        models=[azure.model],
        inference_config=azure.inference_class.return_value,
        deployment_config=azure.configure.return_value,
        overwrite=False,
    )
    azure.service.wait_for_deployment.assert_called_once_with(show_output=True, timeout_sec=None)
    assert result is azure.service


@pytest.mark.server
def test_broken_score_py_fails_the_preflight_before_any_cloud_call(
    azure: mock.Mock, sample_data: Dataset, tmp_path: Path
) -> None:
    broken = tmp_path / "score.py"
    broken.write_text("def init():\n    raise RuntimeError('model path wrong')\n\ndef run(raw_data):\n    return []\n")
    before = inference_servers()
    with pytest.raises(DeploymentError, match="model path wrong"):
        deploy_to_mocked_aci(azure, sample_data.x_test[0], entry_script=broken)
    azure.model_class.deploy.assert_not_called()
    assert wait_until_gone(inference_servers() - before) == set()


def test_pin_mismatch_is_refused_before_the_preflight(azure: mock.Mock, sample_data: Dataset) -> None:
    azure.model.properties = {**runtime_versions(), "numpy": "1.19.5"}
    with pytest.raises(VersionMismatchError, match="numpy: model saved with 1.19.5"):
        deploy_to_mocked_aci(azure, sample_data.x_test[0])
    azure.model.download.assert_not_called()
    azure.model_class.deploy.assert_not_called()


def test_cloud_targets_need_a_workspace_and_aks_a_cluster(azure: mock.Mock) -> None:
    with pytest.raises(
        TargetError, match=r"Target 'aci' cannot be deployed: workspace is needed .* It takes: .*workspace"
    ):
        deploy_model("aci", azure.model, entry_script=SCORE_PY)
    with pytest.raises(TargetError, match="compute_target is needed by target='aks'"):
        deploy_model("aks", azure.model, entry_script=SCORE_PY, workspace=azure.workspace, environment=mock.Mock())


def test_an_option_of_another_target_is_refused_with_what_the_target_takes(
    store: LocalModelStore, small_model_file: Path, azure: mock.Mock
) -> None:
    model = store.register(small_model_file)
    with pytest.raises(
        TargetError,
        match=r"Target 'local' cannot .*overwrite is for target='aci' or target='aks' only. It takes: entry_script, ",
    ):
        deploy_model("local", model, overwrite=True)
    with pytest.raises(
        TargetError, match="preflight_image is not taken: the local target runs on this machine already"
    ):
        deploy_model("local", model, preflight_image=np.zeros(784))
    with pytest.raises(TargetError, match=r"Target 'aci' cannot .*port.* It takes: .*preflight_image"):
        deploy_model("aci", azure.model, workspace=azure.workspace, environment=azure.environment, port=8080)
    azure.model_class.deploy.assert_not_called()


def test_a_cloud_model_on_the_local_target_is_a_type_error(azure: mock.Mock) -> None:
    with pytest.raises(ModelTypeError, match="local store") as info:
        deploy_model("local", azure.model)
    assert isinstance(info.value, TypeError)


@pytest.mark.server
def test_preflight_returns_the_label_of_a_real_image(
    small_model_file: Path, small_model: OneVsRestClassifier, sample_data: Dataset
) -> None:
    label = preflight(small_model_file, SCORE_PY, sample_data.x_test[3])
    assert label == small_model.predict(sample_data.x_test[3:4])[0]


TUTORIAL_SCORE_PY = """
import json
import numpy as np
import os
import pickle
import joblib

def init():
    global model
    model_path = os.path.join(os.getenv('AZUREML_MODEL_DIR'), 'sklearn_mnist_model.pkl')
    model = joblib.load(model_path)

def run(raw_data):
    data = np.array(json.loads(raw_data)['data'])
    y_hat = model.predict(data)
    return y_hat.tolist()
"""


@pytest.mark.server
def test_the_tutorials_own_score_py_serves_json_but_fails_the_npy_preflight(
    small_model_file: Path, small_model: OneVsRestClassifier, sample_data: Dataset, tmp_path: Path
) -> None:
    script = tmp_path / "score.py"
    script.write_text(TUTORIAL_SCORE_PY)
    with start_local_service(small_model_file, script, name="tutorial-script") as service:
        service.wait_for_deployment()
        images = sample_data.x_test[:5]
        assert service.run(tutorial_body(images)) == small_model.predict(images).tolist()
    with pytest.raises(DeploymentError, match="answers JSON but not the .npy body"):
        preflight(small_model_file, script, sample_data.x_test[0])
