"""Check incoming rows against a model's schema, reporting every offending feature at once."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from inference.json_values import clip_text, is_missing, shown
from inference.number_text import NUMBER_TEXT
from inference.schema import Feature, FeatureSchema

MAX_LISTED = 5
# Types of a single value as decoders hand them over; anything else is looked at value by value.
SCALAR_TYPES = frozenset((str, int, float, bool, type(None)))
NESTED = (list, tuple, dict, set, np.ndarray)
FLOAT32_MAX = float(np.finfo(np.float32).max)
# Far beyond any plausible value, yet small enough that scaling keeps it within float32.
MAGNITUDE_MARGIN = 1e6


class InvalidInputError(ValueError):
    """Rows that do not fit the schema; `details` maps each feature to what is wrong."""

    def __init__(self, details: dict[str, str]) -> None:
        super().__init__(f"{len(details)} feature(s) are invalid: {', '.join(details)}")
        self.details = details


@dataclass
class ValidatedInput:
    """Columns ready for prediction: float64 for numeric, object (str or NaN) for categorical."""

    columns: dict[str, np.ndarray]
    n_rows: int
    warnings: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        """The same values as a DataFrame, for the plain scikit-learn path."""
        return pd.DataFrame(self.columns, copy=False)


class _Problem(Exception):
    pass


def _where(rows: list[int], n_rows: int) -> str:
    if n_rows == 1:
        return ""
    shown = ", ".join(str(r) for r in rows[:MAX_LISTED])
    more = f" and {len(rows) - MAX_LISTED} more" if len(rows) > MAX_LISTED else ""
    return f" (row {shown}{more})" if len(rows) == 1 else f" (rows {shown}{more})"


def _single_values(values: Sequence[Any] | np.ndarray) -> None:
    """Refuse arrays and objects where one value per row belongs (a nested JSON value)."""
    if isinstance(values, np.ndarray) and values.dtype != object:
        return
    if set(map(type, values)) <= SCALAR_TYPES:
        return  # the usual case, decided per distinct type instead of per value
    rows = [i for i, value in enumerate(values) if isinstance(value, NESTED)]
    if rows:
        kind = "an object" if isinstance(values[rows[0]], dict) else "an array"
        where = f" (row {rows[0]})" if len(values) > 1 else ""
        raise _Problem(f"expected a single value, got {kind}{where}")


def _as_float(value: Any) -> float:
    if isinstance(value, bool) or (isinstance(value, str) and not NUMBER_TEXT.fullmatch(value)):
        raise ValueError
    try:
        return float(value)
    except OverflowError:  # an integer with hundreds of digits
        return math.inf


@lru_cache(maxsize=1024)
def magnitude_limit(minimum: float | None, maximum: float | None) -> float:
    """The largest |value| a numeric feature accepts: MAGNITUDE_MARGIN times the largest
    magnitude seen in training, and never beyond float32 (what tree estimators are fed)."""
    seen = [abs(v) for v in (minimum, maximum) if v is not None and math.isfinite(v)]
    if not seen:
        return FLOAT32_MAX
    return min(FLOAT32_MAX, max(*seen, 1.0) * MAGNITUDE_MARGIN)


def _numeric(feature: Feature, values: Sequence[Any] | np.ndarray, n_rows: int) -> np.ndarray:
    array = np.asarray(values)
    huge: list[int] = []  # numbers that are not floats but do not fit one (shown as sent)
    if array.dtype.kind in "iuf":
        out = array.astype(np.float64, copy=False)
    else:
        out = np.empty(n_rows, dtype=np.float64)
        bad: list[int] = []
        items = array.tolist()
        for i, value in enumerate(items):
            try:
                out[i] = np.nan if is_missing(value) else _as_float(value)
            except (TypeError, ValueError):
                bad.append(i)
            else:
                if math.isinf(out[i]) and not isinstance(value, float):
                    huge.append(i)
        if bad:
            raise _Problem(f"expected a number, got {shown(items[bad[0]])}{_where(bad, n_rows)}")
    limit = magnitude_limit(feature.minimum, feature.maximum)
    if (np.abs(out) <= limit).all():  # the usual case: finite and in range, one check
        return out
    _check_magnitude(out, limit, huge, values, n_rows)
    if not feature.nullable:
        nulls = np.isnan(out)
        if nulls.any():
            rows = np.flatnonzero(nulls).tolist()
            raise _Problem(f"null is not allowed (training saw none){_where(rows, n_rows)}")
    return out


def _check_magnitude(
    out: np.ndarray, limit: float, huge: list[int], values: Any, n_rows: int
) -> None:
    """Name the infinite values and those too large for the model to be fed."""
    infinite = np.isinf(out)
    infinite[huge] = False
    if infinite.any():
        rows = np.flatnonzero(infinite).tolist()
        raise _Problem(f"expected a finite number, got {out[rows[0]]}{_where(rows, n_rows)}")
    too_large = ~np.isnan(out) & ~(np.abs(out) <= limit)
    if too_large.any():
        rows = np.flatnonzero(too_large).tolist()
        value = values[rows[0]] if rows[0] in huge else float(out[rows[0]])
        raise _Problem(
            f"{shown(value)} is too large for this model: it accepts numbers from {-limit:.6g} "
            f"to {limit:.6g} ({MAGNITUDE_MARGIN:,.0f} times the largest magnitude seen in "
            f"training){_where(rows, n_rows)}"
        )


def _categorical(
    feature: Feature, values: Sequence[Any] | np.ndarray, n_rows: int, warnings: list[str]
) -> np.ndarray:
    array = np.asarray(values, dtype=object)
    if array.ndim != 1:
        raise _Problem("expected one value per row")
    distinct = set(array.tolist())
    if feature.categories is not None and distinct <= _known(feature.categories):
        return array  # the usual case: every value is a category seen in training
    missing = {v for v in distinct if is_missing(v)}
    wrong = [v for v in distinct - missing if not isinstance(v, str)]
    if wrong:
        rows = [
            i for i, v in enumerate(array.tolist()) if not isinstance(v, str) and not is_missing(v)
        ]
        raise _Problem(f"expected a string, got {shown(wrong[0])}{_where(rows, n_rows)}")
    if missing:
        mask = pd.isna(array)
        if not feature.nullable:
            rows = np.flatnonzero(mask).tolist()
            raise _Problem(f"null is not allowed (training saw none){_where(rows, n_rows)}")
        array[mask] = np.nan
    if feature.categories is not None:
        unknown = sorted((distinct - missing) - set(feature.categories))
        if unknown:
            listed = ", ".join(shown(v) for v in unknown[:MAX_LISTED])
            if len(unknown) > MAX_LISTED:
                listed += f" and {len(unknown) - MAX_LISTED} more"
            if feature.unknown == "error":
                raise _Problem(f"unknown category {listed}; the model cannot encode it")
            warnings.append(f"{feature.name}: unknown category {listed} encoded as all zeros")
    return array


@lru_cache(maxsize=1024)
def _known(categories: tuple[str, ...]) -> frozenset[str]:
    return frozenset(c for c in categories if isinstance(c, str))


def validate_columns(
    schema: FeatureSchema, columns: Mapping[str, Sequence[Any] | np.ndarray], n_rows: int
) -> ValidatedInput:
    """Validate columnar input; raise InvalidInputError listing every offending feature."""
    details: dict[str, str] = {}
    warnings: list[str] = []
    out: dict[str, np.ndarray] = {}
    for feature in schema.features:
        if feature.name not in columns:
            details[feature.name] = f"No {feature.name} provided"
            continue
        values = columns[feature.name]
        if isinstance(values, str | bytes | Mapping) or not hasattr(values, "__len__"):
            details[feature.name] = "expected a list of values, one per row"
            continue
        if len(values) != n_rows:
            details[feature.name] = f"expected {n_rows} values, got {len(values)}"
            continue
        try:
            _single_values(values)
            if feature.kind == "numeric":
                out[feature.name] = _numeric(feature, values, n_rows)
            else:
                out[feature.name] = _categorical(feature, values, n_rows, warnings)
        except _Problem as problem:
            details[feature.name] = str(problem)
    if details:
        raise InvalidInputError(details)
    extra = sorted(set(columns) - set(schema.by_name))
    if extra:
        listed = ", ".join(clip_text(str(name), 40) for name in extra[:MAX_LISTED])
        more = f" and {len(extra) - MAX_LISTED} more" if len(extra) > MAX_LISTED else ""
        warnings.append(f"ignored unknown field(s): {listed}{more}")
    return ValidatedInput(out, n_rows, warnings)


def validate_frame(schema: FeatureSchema, frame: pd.DataFrame) -> ValidatedInput:
    """Validate a DataFrame (CSV uploads, rows read from PostgreSQL)."""
    columns = {str(name): frame[name].to_numpy() for name in frame.columns}
    return validate_columns(schema, columns, len(frame))
