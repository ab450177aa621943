"""Part 1 of the tutorial, so a model exists without Azure: train and save ``sklearn_mnist_model.pkl``.

The tutorial's ``LogisticRegression(C=1/reg, solver="liblinear", multi_class="auto")`` is a
one-vs-rest model on MNIST's 10 classes. scikit-learn 1.9 removed ``multi_class`` and liblinear
fits two classes only, so the same model is ``OneVsRestClassifier(LogisticRegression(...))``.

Beside every saved model goes its versions record (:mod:`mnist_aci.versions`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import joblib
import numpy as np

from . import _atomic
from ._progress import step
from .errors import TrainingError
from .tutorial import DEFAULT_REGULARIZATION, MODEL_FILENAME
from .versions import runtime_versions, versions_path

if TYPE_CHECKING:
    from sklearn.multiclass import OneVsRestClassifier

#: From this many training images on, ``n_jobs="auto"`` fits the ten classifiers on every core; below it, in
#: this process: each worker process imports scikit-learn and receives the data, which costs more than it
#: saves on small sets (the figures: docs/explanation/performance.md, "Training").
PARALLEL_MIN_IMAGES = 10_000


def build_model(regularization: float = DEFAULT_REGULARIZATION, *, n_jobs: int | None = None) -> OneVsRestClassifier:
    """The tutorial's classifier, unfitted: ``C = 1 / regularization``, liblinear, ``random_state=42``."""
    if not regularization > 0:
        raise TrainingError(f"regularization must be a number > 0. Got {regularization!r} instead.")
    from sklearn.linear_model import LogisticRegression  # scikit-learn only where a model is trained
    from sklearn.multiclass import OneVsRestClassifier

    return OneVsRestClassifier(
        LogisticRegression(C=1.0 / regularization, solver="liblinear", random_state=42), n_jobs=n_jobs
    )


def train_model(
    x_train: np.ndarray,
    y_train: np.ndarray,
    regularization: float = DEFAULT_REGULARIZATION,
    *,
    n_jobs: int | Literal["auto"] | None = "auto",
) -> OneVsRestClassifier:
    """Fit the tutorial's model on images scaled to 0..1, logging progress while it fits.

    ``n_jobs`` fits the ten one-vs-rest classifiers in parallel, as scikit-learn's ``n_jobs`` (``-1``: every
    core); ``"auto"`` uses every core from :data:`PARALLEL_MIN_IMAGES` images on. The model is the same.
    """
    if x_train.ndim != 2 or x_train.shape[0] != len(y_train) or len(y_train) == 0:
        raise TrainingError(
            f"x_train must be (n, 784) with one label per row. Got {x_train.shape} and {len(y_train)} labels."
        )
    if x_train.max() > 1.0 or x_train.min() < 0.0:
        raise TrainingError("x_train must be scaled to 0..1 (divide the raw pixels by 255.0).")
    if n_jobs == "auto":
        n_jobs = -1 if len(y_train) >= PARALLEL_MIN_IMAGES else None
    model = build_model(regularization, n_jobs=n_jobs)
    with step(f"Training on {len(y_train):,} images (one-vs-rest logistic regression, C={1 / regularization})"):
        model.fit(x_train, y_train)
    return model


def save_model(model: Any, folder: str | Path = "outputs") -> Path:
    """``joblib.dump`` the model as ``sklearn_mnist_model.pkl`` in ``folder``, with its versions record."""
    target = Path(folder) / MODEL_FILENAME
    with _atomic.atomic_path(target) as tmp:
        joblib.dump(model, tmp)
    _atomic.write_json(versions_path(target), runtime_versions())
    return target


def load_model(model_path: str | Path) -> OneVsRestClassifier:
    """Load a model file (only from a trusted source: unpickling runs code)."""
    return joblib.load(model_path)
