"""Parity rows built from what a fitted pipeline knows, for models registered without a sample."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline

from inference.compat import DataFrameMapper
from inference.schema import FeatureSchema

SPREAD = (-3.0, -1.0, -0.5, 0.0, 0.25, 0.5, 1.0, 2.0, 3.0)  # in units of a column's scale
PLAIN = (-1000.0, -1.0, 0.0, 0.5, 1.0, 2.0, 10.0, 100.0, 1e5)
STATISTICS = ("mean_", "statistics_", "data_min_", "data_max_", "center_")
SCALES = ("scale_",)


def _chain(transformer: Any) -> list[Any]:
    if isinstance(transformer, Pipeline):
        return [t for _, step in transformer.steps for t in _chain(step)]
    if isinstance(transformer, list | tuple):
        return [t for item in transformer for t in _chain(item)]
    return [] if transformer is None or isinstance(transformer, str) else [transformer]


def _bindings(pipeline: Any) -> list[tuple[list[str], list[Any]]]:
    """(input column names, fitted transformers) for each entry of the preprocessing step."""
    first = pipeline.steps[0][1] if isinstance(pipeline, Pipeline) else None
    if isinstance(first, DataFrameMapper):
        return [
            ([entry[0]] if isinstance(entry[0], str) else list(entry[0]), _chain(entry[1]))
            for entry in first.features
        ]
    if isinstance(first, ColumnTransformer) and hasattr(first, "transformers_"):
        names = list(getattr(first, "feature_names_in_", []))
        found = []
        for _, transformer, selector in first.transformers_:
            columns = [selector] if isinstance(selector, str) else list(selector)
            columns = [names[c] if isinstance(c, int | np.integer) else str(c) for c in columns]
            found.append((columns, _chain(transformer)))
        return found
    return []


def numeric_statistics(pipeline: Any) -> dict[str, tuple[list[float], float]]:
    """Per input column: (fitted centres such as means and medians, a fitted scale)."""
    stats: dict[str, tuple[list[float], float]] = {}
    for columns, transformers in _bindings(pipeline):
        for i, name in enumerate(columns):
            centres, scale = stats.get(name, ([], 1.0))
            for transformer in transformers[:1]:  # later steps see transformed values
                centres += _values(transformer, STATISTICS, i, len(columns))
                scale = next(iter(_values(transformer, SCALES, i, len(columns))), scale)
            stats[name] = (centres, scale if np.isfinite(scale) and scale > 0 else 1.0)
    return stats


def _values(transformer: Any, attributes: tuple[str, ...], i: int, width: int) -> list[float]:
    values = []
    for attribute in attributes:
        fitted = getattr(transformer, attribute, None)
        if fitted is not None and np.ndim(fitted) == 1 and len(fitted) == width:
            try:
                values.append(float(fitted[i]))
            except (TypeError, ValueError):  # a categorical imputer's most frequent value
                continue
    return values


def _numeric_values(centres: list[float], scale: float, feature: Any) -> list[float]:
    values = [c + k * scale for c in centres for k in SPREAD] + list(PLAIN)
    values += [v for v in (feature.minimum, feature.maximum) if v is not None]
    return list(dict.fromkeys(float(v) for v in values if np.isfinite(v)))


def synthetic_rows(pipeline: Any, schema: FeatureSchema) -> pd.DataFrame:
    """Rows covering every fitted category and a spread of values around each column's fit."""
    stats = numeric_statistics(pipeline)
    pools: dict[str, list[Any]] = {}
    for feature in schema.features:
        if feature.kind == "categorical":
            pools[feature.name] = list(feature.categories or ()) or ["a"]
        else:
            centres, scale = stats.get(feature.name, ([], 1.0))
            pools[feature.name] = _numeric_values(centres, scale, feature)
    n = max(len(pool) for pool in pools.values())
    columns = {
        name: [pool[(i + j) % len(pool)] for i in range(n)]
        for j, (name, pool) in enumerate(pools.items())
    }
    frame = pd.DataFrame(columns, columns=schema.names)
    numeric = [f.name for f in schema.features if f.kind != "categorical"]
    return frame.astype({name: np.float64 for name in numeric})
