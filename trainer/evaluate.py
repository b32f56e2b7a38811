"""Holdout metrics for classifiers and regressors."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sklearn.base import is_classifier

from inference.metrics import classification_metrics, regression_metrics

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
    positive = positive_label if positive_label is not None else classes[-1]
    probabilities = pipeline.predict_proba(frame) if hasattr(pipeline, "predict_proba") else None
    return {
        **classification_metrics(target, predicted, probabilities, classes, positive),
        "class_balance": {str(k): float(v) for k, v in target.value_counts(normalize=True).items()},
        "holdout_rows": len(frame),
    }


def _regression(pipeline: Any, frame: pd.DataFrame, target: pd.Series) -> dict[str, Any]:
    return {**regression_metrics(target, pipeline.predict(frame)), "holdout_rows": len(frame)}


def primary_metric(task: str, classes: list[Any] | None, chosen: str | None = None) -> str:
    """The metric promote-if-better compares: ROC AUC for classifiers, R² for regressors."""
    if chosen:
        return chosen
    if task == "classification":
        return "roc_auc"
    return "r2"
