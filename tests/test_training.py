from __future__ import annotations

import json
from typing import TYPE_CHECKING

import joblib
import numpy as np
import pytest
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier

from mnist_aci import training
from mnist_aci.errors import TrainingError
from mnist_aci.evaluation import evaluate
from mnist_aci.training import build_model, load_model, save_model, train_model
from mnist_aci.tutorial import MODEL_FILENAME
from mnist_aci.versions import read_versions, versions_path

if TYPE_CHECKING:
    from pathlib import Path

    from mnist_aci.data import Dataset

TUTORIAL_ACCURACY = 0.9193


def test_model_is_the_tutorials_one_vs_rest_logistic_regression() -> None:
    model = build_model()
    assert isinstance(model, OneVsRestClassifier)
    inner = model.estimator
    assert isinstance(inner, LogisticRegression)
    assert inner.C == 1 / 0.5
    assert inner.solver == "liblinear"
    assert inner.random_state == 42


@pytest.mark.parametrize("regularization", [0, -1, float("nan")])
def test_regularization_must_be_positive(regularization: float) -> None:
    with pytest.raises(TrainingError, match="regularization must be a number > 0"):
        build_model(regularization)


def test_unscaled_images_are_refused(sample_data: Dataset) -> None:
    with pytest.raises(TrainingError, match="divide the raw pixels by 255"):
        train_model(sample_data.x_train[:100] * 255, sample_data.y_train[:100])


def test_training_reports_progress(sample_data: Dataset, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="mnist_aci")
    train_model(sample_data.x_train[:500], sample_data.y_train[:500])
    out = caplog.text
    assert "Training on 500 images" in out
    assert "done in" in out


def test_small_sets_are_fitted_in_this_process_and_large_ones_on_every_core(
    sample_data: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    x, y = sample_data.x_train[:300], sample_data.y_train[:300]
    alone = train_model(x, y)
    assert alone.n_jobs is None
    monkeypatch.setattr(training, "PARALLEL_MIN_IMAGES", len(y))
    with joblib.parallel_config(backend="threading"):  # the same choice, without starting worker processes
        parallel = train_model(x, y)
    assert parallel.n_jobs == -1
    np.testing.assert_array_equal(parallel.predict(sample_data.x_test), alone.predict(sample_data.x_test))


def test_save_model_writes_the_pickle_and_its_versions_record(
    small_model: OneVsRestClassifier, sample_data: Dataset, tmp_path: Path
) -> None:
    path = save_model(small_model, tmp_path)
    assert path == tmp_path / MODEL_FILENAME
    record = json.loads(versions_path(path).read_text())
    assert record["scikit-learn"] == sklearn.__version__
    assert record["numpy"] == np.__version__
    assert set(record) == {"python", "scikit-learn", "numpy", "joblib"}
    assert read_versions(path) == record
    reloaded = load_model(path)
    np.testing.assert_array_equal(reloaded.predict(sample_data.x_test), small_model.predict(sample_data.x_test))


def test_read_versions_is_none_without_a_record(tmp_path: Path) -> None:
    assert read_versions(tmp_path / MODEL_FILENAME) is None


@pytest.mark.full_mnist
def test_full_mnist_reproduces_the_tutorials_accuracy(full_model: OneVsRestClassifier, full_data: Dataset) -> None:
    accuracy = evaluate(full_data.y_test, full_model.predict(full_data.x_test)).accuracy
    assert accuracy == pytest.approx(TUTORIAL_ACCURACY, abs=0.001)
