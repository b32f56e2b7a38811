"""Native responses: results encode to plain JSON, entity answers in request order."""

from __future__ import annotations

import json

import numpy as np

from api.responses import encode_entities, encode_result
from inference.predict import PredictionResult


class _Model:
    name, version, classes = "m", 3, ["a", "b"]


def test_results_encode_to_plain_json() -> None:
    result = PredictionResult(
        predictions=np.array([1.5, np.nan, np.inf]),
        probabilities=np.array([[0.25, 0.75], [np.nan, 1.0], [0.5, 0.5]]),
        classes=["a", "b"],
        warnings=["w"],
    )
    body = encode_result(_Model(), result)
    assert json.loads(json.dumps(body, allow_nan=False)) == {
        "model": "m",
        "version": 3,
        "predictions": [1.5, None, None],
        "probabilities": [{"a": 0.25, "b": 0.75}, {"a": None, "b": 1.0}, {"a": 0.5, "b": 0.5}],
        "warnings": ["w"],
    }
    assert all(type(v) is float for v in body["probabilities"][0].values())


def test_entities_encode_in_request_order_with_nulls_for_unknown_ids() -> None:
    result = PredictionResult(np.array(["x", "y"]), np.array([[0.1, 0.9], [0.8, 0.2]]), ["a", "b"])
    body = encode_entities(_Model(), result, ids=[5, 99, 3, 5], found=[3, 5])
    assert body == {
        "model": "m",
        "version": 3,
        "ids": [5, 99, 3, 5],
        "predictions": ["y", None, "x", "y"],
        "probabilities": [{"a": 0.8, "b": 0.2}, None, {"a": 0.1, "b": 0.9}, {"a": 0.8, "b": 0.2}],
        "not_found": [99],
    }
