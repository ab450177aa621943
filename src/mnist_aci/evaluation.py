"""Step 8 of the tutorial: the confusion matrix, the overall accuracy and the error matrix."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CLASSES = np.arange(10)


@dataclass(frozen=True)
class Evaluation:
    """What the tutorial prints: the confusion matrix and the overall accuracy."""

    confusion: np.ndarray
    accuracy: float
    n_images: int

    def report(self) -> str:
        """The tutorial's two prints: the matrix, then ``Overall accuracy: ...``."""
        return f"{self.confusion}\nOverall accuracy: {self.accuracy:.4f}"

    def as_dict(self) -> dict[str, object]:
        return {"accuracy": self.accuracy, "n_images": self.n_images, "confusion": self.confusion.tolist()}


def evaluate(y_true: np.ndarray, y_pred: np.ndarray) -> Evaluation:
    """``confusion_matrix(y_test, y_hat)`` over the ten digits and ``np.average(y_hat == y_test)``."""
    from sklearn.metrics import confusion_matrix  # scikit-learn only where a run scores: the CLI refuses at once

    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.size == 0:
        raise ValueError(f"Need one prediction per label; got {y_pred.shape} predictions for {y_true.shape} labels.")
    return Evaluation(
        confusion=confusion_matrix(y_true, y_pred, labels=CLASSES),
        accuracy=float(np.average(y_pred == y_true)),
        n_images=int(y_true.size),
    )


def error_matrix(confusion: np.ndarray) -> np.ndarray:
    """The confusion matrix divided by its row sums, with the diagonal set to 0 (the tutorial's plot)."""
    row_sums = confusion.sum(axis=1, keepdims=True)
    normalised = np.divide(confusion, row_sums, out=np.zeros(confusion.shape), where=row_sums > 0)
    np.fill_diagonal(normalised, 0)
    return normalised
