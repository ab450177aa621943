"""Steps 8-9 of the tutorial: the confusion plot and the 30-sample prediction strip.

Each function returns a matplotlib ``Figure`` (no pyplot state, so it works headless and in
notebooks alike); :func:`save_figure` writes it atomically.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from . import _atomic
from .evaluation import error_matrix

if TYPE_CHECKING:
    from matplotlib.figure import Figure

N_SAMPLES = 30


def plot_confusion(confusion: np.ndarray) -> Figure:
    """The row-normalised error matrix with a zeroed diagonal, as the tutorial draws it."""
    from matplotlib.figure import Figure  # matplotlib only where a figure is drawn

    fig = Figure(figsize=(8, 5))
    ax = fig.add_subplot(111)
    image = ax.matshow(error_matrix(confusion), cmap="bone")
    ticks = np.arange(0, len(confusion), 1)
    ax.set_xticks(ticks)
    ax.set_yticks(ticks)
    ax.set_xticklabels(ticks)
    ax.set_yticklabels(ticks)
    fig.colorbar(image)
    ax.set_ylabel("true labels", fontsize=14)
    ax.set_xlabel("predicted values", fontsize=14)
    return fig


def sample_indices(n_images: int, n: int = N_SAMPLES, *, seed: int | None = None) -> np.ndarray:
    """``n`` random distinct indices into the test set (the tutorial's ``np.random.permutation``)."""
    return np.random.default_rng(seed).permutation(n_images)[:n]


def plot_predictions(images: np.ndarray, labels: np.ndarray, predictions: np.ndarray) -> Figure:
    """One image per column with its predicted label; misclassified ones in red on an inverted image."""
    n = len(images)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(20, 1))
    for i in range(n):
        ax = fig.add_subplot(1, n, i + 1)
        ax.set_axis_off()
        wrong = labels[i] != predictions[i]
        ax.text(x=10, y=-10, s=str(predictions[i]), fontsize=18, color="red" if wrong else "black")
        ax.imshow(np.asarray(images[i]).reshape(28, 28), cmap="gray" if wrong else "Greys")
    return fig


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Save ``fig`` as a PNG at ``path`` (written whole or not at all)."""
    with _atomic.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", bbox_inches="tight")
    return Path(path)
