"""Prediction results turn into plain Python values for JSON."""

from __future__ import annotations

import numpy as np
import pytest

from inference.predict import PredictionResult


@pytest.mark.parametrize(
    ("probabilities", "classes", "expected"),
    [
        ([[0.25, 0.75]], ["<=50K", ">50K"], [{"<=50K": 0.25, ">50K": 0.75}]),
        ([[0.5, 0.25, 0.25]], ["a", "b", "c"], [{"a": 0.5, "b": 0.25, "c": 0.25}]),
        ([[0.5, 0.5], [1.0, 0.0]], [0, 1], [{"0": 0.5, "1": 0.5}, {"0": 1.0, "1": 0.0}]),
    ],
    ids=["binary", "multiclass", "integer-classes"],
)
def test_probability_records_are_keyed_by_class(probabilities, classes, expected):
    result = PredictionResult(np.zeros(len(probabilities)), np.array(probabilities), classes)

    records = result.probability_records()

    assert records == expected
    assert all(type(v) is float for record in records for v in record.values())


def test_probabilities_that_do_not_match_the_classes_raise():
    result = PredictionResult(np.zeros(1), np.array([[0.2, 0.3, 0.5]]), ["a", "b"])

    with pytest.raises(ValueError, match="3 probabilities for 2 classes"):
        result.probability_records()


def test_prediction_list_turns_nan_and_infinities_into_none():
    result = PredictionResult(np.array([1.5, np.nan, np.inf, -np.inf]), None, None)

    assert result.prediction_list() == [1.5, None, None, None]
    assert result.probability_records() is None
