"""Prediction over validated input: the one function the API and the worker both call."""

from __future__ import annotations

import warnings as _warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from inference.json_values import finite_or_none
from inference.model import LoadedModel
from inference.validation import ValidatedInput, validate_columns, validate_frame


@dataclass
class PredictionResult:
    """Predictions for n rows, with class probabilities for classifiers."""

    predictions: np.ndarray
    probabilities: np.ndarray | None
    classes: list[Any] | None
    warnings: list[str] = field(default_factory=list)
    # The plain lists below, built once: the response and the prediction log both read them.
    _plain: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def rows(self, start: int, stop: int) -> PredictionResult:
        """The result for rows start..stop-1 alone (warnings are the whole batch's)."""
        probabilities = None if self.probabilities is None else self.probabilities[start:stop]
        return PredictionResult(
            self.predictions[start:stop], probabilities, self.classes, self.warnings
        )

    def probability_records(self) -> list[dict[str, float]] | None:
        """One {class: probability} mapping per row, in plain Python types."""
        if "probabilities" not in self._plain:
            self._plain["probabilities"] = self._probability_records()
        return self._plain["probabilities"]

    def prediction_list(self) -> list[Any]:
        """Predictions as plain Python values, NaN and infinities as None."""
        if "predictions" not in self._plain:
            values = self.predictions.tolist()
            self._plain["predictions"] = [
                finite_or_none(v) if isinstance(v, float) else v for v in values
            ]
        return self._plain["predictions"]

    def _probability_records(self) -> list[dict[str, float]] | None:
        if self.probabilities is None or self.classes is None:
            return None
        keys = [str(c) for c in self.classes]
        if self.probabilities.shape[1] != len(keys):
            raise ValueError(f"{self.probabilities.shape[1]} probabilities for {len(keys)} classes")
        rows = self.probabilities.tolist()
        if len(keys) == 2:  # binary classifiers: a dict display is twice as fast as dict(zip())
            first, second = keys
            return [{first: p, second: q} for p, q in rows]
        return [dict(zip(keys, row, strict=False)) for row in rows]  # lengths checked above


def predict_validated(model: LoadedModel, validated: ValidatedInput) -> PredictionResult:
    """Predict validated rows, on the compiled fast path when the model has one."""
    if model.fast is not None:
        predictions, probabilities = model.fast.predict_outputs(validated.columns)
    else:
        predictions, probabilities = _predict_sklearn(model.artifact.pipeline, validated.to_frame())
    return PredictionResult(predictions, probabilities, model.classes, list(validated.warnings))


def _predict_sklearn(pipeline: Any, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
    # Transform once, then ask the final estimator for both answers, so predictions are exactly
    # what `pipeline.predict` returns without paying for the preprocessing twice.
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore", UserWarning)
        if isinstance(pipeline, Pipeline) and len(pipeline.steps) > 1:
            features, estimator = pipeline[:-1].transform(frame), pipeline[-1]
        else:
            features, estimator = frame, pipeline
        predictions = np.asarray(estimator.predict(features))
        if not hasattr(estimator, "predict_proba"):
            return predictions, None
        return predictions, np.asarray(estimator.predict_proba(features), dtype=np.float64)


def predict_columns(
    model: LoadedModel, columns: Mapping[str, Any], n_rows: int
) -> PredictionResult:
    """Validate decoded columns against the model's schema and predict them.

    Raises InvalidInputError naming every offending feature; nothing else about the input.
    """
    return predict_validated(model, validate_columns(model.schema, columns, n_rows))


def predict_frame(model: LoadedModel, frame: pd.DataFrame) -> PredictionResult:
    """Validate a DataFrame against the model's schema and predict it."""
    return predict_validated(model, validate_frame(model.schema, frame))
