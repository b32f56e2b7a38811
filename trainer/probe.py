"""Facts about a fitted pipeline that the serving side needs."""

from __future__ import annotations

from typing import Any

import pandas as pd

from inference.introspect import input_features
from inference.json_values import json_safe
from inference.schema import FeatureSchema, UnknownPolicy, is_missing


def unknown_policies(pipeline: Any, schema: FeatureSchema) -> dict[str, UnknownPolicy]:
    """Per categorical feature: does the fitted encoder ignore unknown categories?"""
    described = {f.name: f for f in input_features(pipeline) or []}
    return {
        f.name: described[f.name].unknown if f.name in described else "error"  # type: ignore[misc]
        for f in schema.features
        if f.kind == "categorical"
    }


def sample_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts: numpy scalars become Python values, NaN becomes None."""
    records = frame.astype(object).to_dict(orient="records")
    return [
        {key: None if is_missing(value) else json_safe(value) for key, value in row.items()}
        for row in records
    ]
