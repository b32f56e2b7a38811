"""Native prediction responses: results -> JSON-ready dicts (the requests: api/codecs.py)."""

from __future__ import annotations

from typing import Any

import numpy as np

from inference.json_values import finite_or_none
from inference.model import LoadedModel
from inference.predict import PredictionResult


def encode_result(model: LoadedModel, result: PredictionResult) -> dict[str, Any]:
    """The response body for feature rows: model, version, predictions, probabilities, warnings."""
    body: dict[str, Any] = {
        "model": model.name,
        "version": model.version,
        "predictions": result.prediction_list(),
    }
    probabilities = result.probability_records()
    if probabilities is not None:
        if not np.isfinite(result.probabilities).all():
            probabilities = [
                {k: finite_or_none(v) for k, v in row.items()} for row in probabilities
            ]
        body["probabilities"] = probabilities
    if result.warnings:
        body["warnings"] = result.warnings
    return body


def encode_entities(
    model: LoadedModel, result: PredictionResult, *, ids: list[Any], found: list[Any]
) -> dict[str, Any]:
    """The response body for ids: answers in request order, null for ids not found."""
    answered = encode_result(model, result)
    position = {entity_id: i for i, entity_id in enumerate(found)}
    body: dict[str, Any] = {"model": model.name, "version": model.version, "ids": ids}
    for key in ("predictions", "probabilities"):
        if key in answered:
            values = answered[key]
            body[key] = [values[position[i]] if i in position else None for i in ids]
    if "warnings" in answered:
        body["warnings"] = answered["warnings"]
    missing = [i for i in dict.fromkeys(ids) if i not in position]
    if missing:
        body["not_found"] = missing
    return body
