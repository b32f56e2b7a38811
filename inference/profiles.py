"""Reference profiles of a model's inputs and outputs, and the Population Stability Index.

A profile is computed once from the rows a version is trusted on (the trainer's holdout, or the
sample given at registration) and stored in `model_versions.details["reference_profile"]`.
Numeric columns keep quantile bin edges with the holdout's count per bin, the null share and
the range; categorical columns keep the share of each category (the most frequent
MAX_CATEGORIES, the rest as "other"). Bins are left-closed: a value `x` falls in bin
`searchsorted(edges, x, side="right")`, which is what PostgreSQL's `width_bucket` computes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from inference.schema import FeatureSchema

PROFILE_KEY = "reference_profile"  # where a version keeps its profile in model_versions.details
BINS = 10
MAX_CATEGORIES = 50
# Shares are floored at this before PSI's logarithm, so an empty bin counts as very rare.
EPSILON = 1e-4
OTHER_BIN = "other"


VERDICTS = ("stable", "moderate", "shifted")


@dataclass(frozen=True)
class Thresholds:
    """PSI below `moderate` is stable, below `shifted` moderate, from `shifted` up shifted."""

    moderate: float = 0.1
    shifted: float = 0.25

    def verdict(self, psi: float) -> str:
        """stable, moderate or shifted."""
        if psi < self.moderate:
            return "stable"
        return "moderate" if psi < self.shifted else "shifted"


def numeric_profile(values: pd.Series, bins: int = BINS) -> dict[str, Any]:
    """Quantile bin edges, counts per bin, null share and range of a numeric column."""
    numbers = pd.to_numeric(values, errors="coerce").astype(float)
    present = numbers.dropna().to_numpy()
    profile: dict[str, Any] = {
        "kind": "numeric",
        "rows": len(numbers),
        "null_share": float(numbers.isna().mean()) if len(numbers) else 0.0,
        "edges": [],
        "counts": [len(present)],
        "min": None,
        "max": None,
    }
    if len(present):
        quantiles = np.quantile(present, np.linspace(0, 1, bins + 1)[1:-1])
        edges = np.unique(quantiles)
        profile["edges"] = [float(edge) for edge in edges]
        profile["counts"] = np.bincount(bin_index(edges, present), minlength=len(edges) + 1)
        profile["counts"] = [int(count) for count in profile["counts"]]
        profile["min"], profile["max"] = float(present.min()), float(present.max())
    return profile


def categorical_profile(values: pd.Series, limit: int = MAX_CATEGORIES) -> dict[str, Any]:
    """The share of each category (the `limit` most frequent; the rest as "other")."""
    present = values.dropna().astype(str)
    rows = len(values)
    shares = present.value_counts() / rows if rows else present.value_counts()
    kept = shares.head(limit)
    return {
        "kind": "categorical",
        "rows": rows,
        "null_share": float(values.isna().mean()) if rows else 0.0,
        "shares": {str(category): float(share) for category, share in kept.items()},
        OTHER_BIN: float(shares.iloc[limit:].sum()),
    }


def bin_index(edges: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The bin of each value: how many edges are at or below it."""
    return np.searchsorted(edges, values, side="right")


def build_profile(
    frame: pd.DataFrame,
    schema: FeatureSchema,
    *,
    task: str,
    predictions: Any,
    probabilities: np.ndarray | None = None,
    classes: list[Any] | None = None,
) -> dict[str, Any]:
    """The reference profile of `frame` (the model's features) and the model's outputs on it."""
    features = {
        feature.name: (
            numeric_profile(frame[feature.name])
            if feature.kind == "numeric"
            else categorical_profile(frame[feature.name])
        )
        for feature in schema.features
    }
    outputs: dict[str, Any] = {}
    if task == "classification":
        outputs["prediction"] = categorical_profile(pd.Series(predictions).astype(str))
        if probabilities is not None and classes is not None:
            positive = positive_class(classes)
            column = list(map(str, classes)).index(positive)
            outputs["probability"] = {
                **numeric_profile(pd.Series(probabilities[:, column])),
                "class": positive,
            }
    else:
        outputs["prediction"] = numeric_profile(pd.Series(predictions))
    return {"rows": len(frame), "features": features, "outputs": outputs}


def positive_class(classes: list[Any]) -> str:
    """The class whose probability a profile follows: the last one, as scikit-learn orders them."""
    return str(classes[-1])


def psi(reference: np.ndarray, current: np.ndarray) -> float:
    """Population Stability Index of two share vectors over the same bins."""
    expected = np.maximum(np.asarray(reference, dtype=float), EPSILON)
    actual = np.maximum(np.asarray(current, dtype=float), EPSILON)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def compare_numeric(profile: Mapping[str, Any], counts: Mapping[str | None, int]) -> dict[str, Any]:
    """Drift of one numeric column from its window counts.

    `counts` maps a bucket of the extended edges `[min, *edges, next(max)]` (as text: "0" is
    below the range, "1" the first bin, ...) or None (nulls) to a row count.
    """
    edges = profile["edges"]
    inner = len(edges) + 1
    window = np.zeros(inner + 1)  # the bins, then nulls
    out_of_range = 0
    for bucket, count in counts.items():
        if bucket is None:
            window[inner] += count
            continue
        index = int(bucket)
        if index == 0 or index == inner + 1:
            out_of_range += count
        window[min(max(index - 1, 0), inner - 1)] += count
    rows = int(window.sum())
    present = sum(profile["counts"]) or 1
    reference = np.array(
        [(1 - profile["null_share"]) * c / present for c in profile["counts"]]
        + [profile["null_share"]]
    )
    return {
        "kind": "numeric",
        "rows": rows,
        "psi": psi(reference, window / max(rows, 1)),
        "null_share": float(window[inner] / max(rows, 1)),
        "out_of_range_share": out_of_range / max(rows, 1),
    }


def compare_categorical(
    profile: Mapping[str, Any], counts: Mapping[str | None, int]
) -> dict[str, Any]:
    """Drift of one categorical column from its window counts per value (None: nulls).

    A value outside the profile's categories counts in "other"; with no reference share
    there, an unseen category raises the PSI as a rare bin filling up should.
    """
    categories = list(profile["shares"])
    position = {category: i for i, category in enumerate(categories)}
    window = np.zeros(len(categories) + 2)  # the categories, other, nulls
    unseen = 0
    for value, count in counts.items():
        if value is None:
            window[-1] += count
        elif value in position:
            window[position[value]] += count
        else:
            window[-2] += count
            unseen += count
    rows = int(window.sum())
    reference = np.array(
        [profile["shares"][c] for c in categories] + [profile[OTHER_BIN], profile["null_share"]]
    )
    return {
        "kind": "categorical",
        "rows": rows,
        "psi": psi(reference, window / max(rows, 1)),
        "null_share": float(window[-1] / max(rows, 1)),
        "unseen_share": unseen / max(rows, 1),
    }


def compare(
    profile: Mapping[str, Any], counts: Mapping[str | None, int], thresholds: Thresholds
) -> dict[str, Any]:
    """The drift of one column, with its verdict."""
    if profile["kind"] == "numeric":
        result = compare_numeric(profile, counts)
    else:
        result = compare_categorical(profile, counts)
    return {**result, "verdict": thresholds.verdict(result["psi"])}


def extended_edges(profile: Mapping[str, Any]) -> list[float]:
    """`[min, *edges, just above max]`: bucket 0 and the last bucket are out of the range."""
    low = profile["min"] if profile["min"] is not None else -math.inf
    high = math.nextafter(profile["max"], math.inf) if profile["max"] is not None else math.inf
    return [low, *profile["edges"], high]


def profile_pipeline(
    pipeline: Any, frame: pd.DataFrame, schema: FeatureSchema, task: str, classes: list[Any] | None
) -> dict[str, Any]:
    """Predict `frame` with the fitted pipeline and profile the rows and its outputs."""
    rows = frame[schema.names]
    probabilities = None
    if task == "classification" and hasattr(pipeline, "predict_proba"):
        probabilities = np.asarray(pipeline.predict_proba(rows))
    return build_profile(
        rows,
        schema,
        task=task,
        predictions=pipeline.predict(rows),
        probabilities=probabilities,
        classes=classes,
    )


def profiled_columns(profile: Mapping[str, Any]) -> list[tuple[str, str, Mapping[str, Any]]]:
    """("feature" or "output", name, column profile) for every column a profile follows."""
    return [("feature", name, p) for name, p in profile["features"].items()] + [
        ("output", name, p) for name, p in profile["outputs"].items()
    ]


def drift_report(
    profile: Mapping[str, Any],
    counts: list[Mapping[str | None, int]],
    thresholds: Thresholds,
) -> dict[str, Any]:
    """Per feature and per output, the drift of the window's counts (in profiled_columns order)."""
    report: dict[str, Any] = {"rows": 0, "features": {}, "outputs": {}}
    for (group, name, column), column_counts in zip(profiled_columns(profile), counts, strict=True):
        result = compare(column, column_counts, thresholds)
        report[f"{group}s"][name] = result
        report["rows"] = max(report["rows"], result["rows"])
    verdicts = [r["verdict"] for part in ("features", "outputs") for r in report[part].values()]
    report["verdict"] = max(verdicts, key=VERDICTS.index, default="stable")
    return report
