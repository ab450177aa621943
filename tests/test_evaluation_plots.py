from __future__ import annotations

import os
from typing import IO, TYPE_CHECKING, Any

import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

from mnist_aci.evaluation import error_matrix, evaluate
from mnist_aci.plots import plot_confusion, plot_predictions, sample_indices, save_figure

if TYPE_CHECKING:
    from pathlib import Path

    from mnist_aci.data import Dataset


def test_evaluate_counts_and_accuracy() -> None:
    y_true = np.array([0, 1, 1, 2, 9])
    y_pred = np.array([0, 1, 2, 2, 3])
    result = evaluate(y_true, y_pred)
    assert result.confusion.shape == (10, 10)
    assert result.confusion[1, 2] == 1
    assert result.confusion[9, 3] == 1
    assert result.confusion.trace() == 3
    assert result.accuracy == pytest.approx(0.6)
    assert result.report().endswith("Overall accuracy: 0.6000")


def test_evaluate_needs_one_prediction_per_label() -> None:
    with pytest.raises(ValueError, match="one prediction per label"):
        evaluate(np.array([1, 2]), np.array([1]))


def test_error_matrix_is_row_normalised_with_a_zero_diagonal() -> None:
    confusion = np.array([[8, 2], [1, 3]])
    errors = error_matrix(confusion)
    np.testing.assert_allclose(errors, [[0, 0.2], [0.25, 0]])


def test_error_matrix_handles_a_class_with_no_images() -> None:
    errors = error_matrix(np.array([[0, 0], [1, 3]]))
    assert np.isfinite(errors).all()


def test_plots_are_figures_saved_headless_as_png(tmp_path: Path, sample_data: Dataset) -> None:
    confusion = evaluate(sample_data.y_test, sample_data.y_test).confusion
    conf_png = save_figure(plot_confusion(confusion), tmp_path / "conf.png")
    indices = sample_indices(len(sample_data.y_test), seed=0)
    wrong = sample_data.y_test[indices].copy()
    wrong[0] = (wrong[0] + 1) % 10
    strip = plot_predictions(sample_data.x_test[indices], sample_data.y_test[indices], wrong)
    assert isinstance(strip, Figure)
    assert len(strip.axes) == 30
    colors = [ax.texts[0].get_color() for ax in strip.axes]
    assert colors[0] == "red"
    assert set(colors[1:]) == {"black"}
    strip_png = save_figure(strip, tmp_path / "predictions.png")
    for path in (conf_png, strip_png):
        assert Image.open(path).format == "PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["conf.png", "predictions.png"]


def test_sample_indices_are_distinct_and_reproducible() -> None:
    first = sample_indices(10_000, seed=3)
    assert len(set(first.tolist())) == 30
    np.testing.assert_array_equal(first, sample_indices(10_000, seed=3))


def test_failed_save_leaves_no_partial_file(tmp_path: Path) -> None:
    class Broken(Figure):
        def savefig(self, fname: str | os.PathLike[Any] | IO[Any], *args: object, **kwargs: object) -> None:
            assert isinstance(fname, str | os.PathLike)  # save_figure saves to a path
            with open(fname, "wb") as stream:
                stream.write(b"half")
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        save_figure(Broken(), tmp_path / "conf.png")
    assert list(tmp_path.iterdir()) == []
