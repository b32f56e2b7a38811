"""Holdout metrics for classifiers and regressors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics
from sklearn.base import is_classifier

LOWER_IS_BETTER = frozenset({"rmse", "mae", "log_loss"})


def evaluate(
    pipeline: Any, frame: pd.DataFrame, target: pd.Series, positive_label: Any = None
) -> dict[str, Any]:
    """Metrics of a fitted pipeline on holdout rows."""
    if is_classifier(pipeline):
        return _classification(pipeline, frame, target, positive_label)
    return _regression(pipeline, frame, target)


def _classification(
    pipeline: Any, frame: pd.DataFrame, target: pd.Series, positive_label: Any
) -> dict[str, Any]:
    predicted = pipeline.predict(frame)
    classes = list(pipeline.classes_)
    result: dict[str, Any] = {
        "accuracy": float(metrics.accuracy_score(target, predicted)),
        "class_balance": {str(k): float(v) for k, v in target.value_counts(normalize=True).items()},
        "holdout_rows": len(frame),
    }
    if hasattr(pipeline, "predict_proba"):
        probabilities = pipeline.predict_proba(frame)
        result["log_loss"] = float(metrics.log_loss(target, probabilities, labels=classes))
        if len(classes) == 2:
            positive = positive_label if positive_label is not None else classes[1]
            column = classes.index(positive)
            result["roc_auc"] = float(
                metrics.roc_auc_score(target == positive, probabilities[:, column])
            )
        else:
            result["roc_auc"] = float(
                metrics.roc_auc_score(target, probabilities, multi_class="ovr", labels=classes)
            )
    if len(classes) == 2:
        positive = positive_label if positive_label is not None else classes[1]
        result["f1"] = float(metrics.f1_score(target, predicted, pos_label=positive))
    else:
        result["f1"] = float(metrics.f1_score(target, predicted, average="macro"))
    return result


def _regression(pipeline: Any, frame: pd.DataFrame, target: pd.Series) -> dict[str, Any]:
    predicted = pipeline.predict(frame)
    return {
        "rmse": float(np.sqrt(metrics.mean_squared_error(target, predicted))),
        "mae": float(metrics.mean_absolute_error(target, predicted)),
        "r2": float(metrics.r2_score(target, predicted)),
        "holdout_rows": len(frame),
    }


def primary_metric(task: str, classes: list[Any] | None, chosen: str | None = None) -> str:
    """The metric promote-if-better compares: ROC AUC for classifiers, R² for regressors."""
    if chosen:
        return chosen
    if task == "classification":
        return "roc_auc"
    return "r2"
