"""Model quality metrics from labels and predictions, by scikit-learn's metric functions.

The trainer scores its holdout with these, and GET /models/<name>/performance scores the
logged predictions that have feedback, so holdout and live figures mean the same thing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn import metrics


def classification_metrics(
    target: Sequence[Any],
    predicted: Sequence[Any],
    probabilities: np.ndarray | None,
    classes: Sequence[Any],
    positive: Any,
) -> dict[str, Any]:
    """Accuracy, F1, log loss and ROC AUC (None where the labels cannot give one)."""
    target, predicted = np.asarray(target, dtype=object), np.asarray(predicted, dtype=object)
    classes = list(classes)
    result: dict[str, Any] = {"accuracy": float(metrics.accuracy_score(target, predicted))}
    if len(classes) == 2:
        result["f1"] = float(metrics.f1_score(target, predicted, pos_label=positive))
    else:
        result["f1"] = float(
            metrics.f1_score(target, predicted, average="macro", labels=classes, zero_division=0)
        )
    if probabilities is not None:
        result["log_loss"] = float(metrics.log_loss(target, probabilities, labels=classes))
        result["roc_auc"] = _roc_auc(target, probabilities, classes, positive)
    return result


def _roc_auc(
    target: np.ndarray, probabilities: np.ndarray, classes: list[Any], positive: Any
) -> float | None:
    if len(set(target.tolist())) < 2:
        return None  # undefined with one class present (a short live window)
    if len(classes) == 2:
        column = classes.index(positive)
        return float(metrics.roc_auc_score(target == positive, probabilities[:, column]))
    try:
        return float(
            metrics.roc_auc_score(target, probabilities, multi_class="ovr", labels=classes)
        )
    except ValueError:  # some class absent from the labels
        return None


def regression_metrics(target: Sequence[float], predicted: Sequence[float]) -> dict[str, Any]:
    """RMSE, MAE and R² (None below two labels)."""
    target, predicted = np.asarray(target, dtype=float), np.asarray(predicted, dtype=float)
    return {
        "rmse": float(np.sqrt(metrics.mean_squared_error(target, predicted))),
        "mae": float(metrics.mean_absolute_error(target, predicted)),
        "r2": float(metrics.r2_score(target, predicted)) if len(target) > 1 else None,
    }
