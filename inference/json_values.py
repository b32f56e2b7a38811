"""Missing values and plain JSON values: the one place NaN, NA and None are told apart."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd


def is_missing(value: Any) -> bool:
    """True for None, pandas NA and float NaN (JSON null, CSV empty)."""
    return (
        value is None
        or value is pd.NA
        or (isinstance(value, float | np.floating) and value != value)
    )


def finite_or_none(value: float | None) -> float | None:
    """The number itself, or None for None, NaN and infinities (JSON has none of them)."""
    return value if value is not None and math.isfinite(value) else None


def json_safe(value: Any) -> Any:
    """A copy with numpy arrays and scalars as Python values, NaN and infinities as None."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray | np.generic):
        return json_safe(value.tolist())
    if isinstance(value, float):
        return finite_or_none(value)
    return None if value is pd.NA else value


def json_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts: numpy scalars become Python values, missing values None."""
    records = frame.astype(object).to_dict(orient="records")
    return [{key: json_safe(value) for key, value in row.items()} for row in records]


MAX_ECHOED_CHARS = 200
MAX_ECHOED_ITEMS = 100


def clip_text(text: str, limit: int = MAX_ECHOED_CHARS) -> str:
    """`text` cut to `limit` characters, saying how long it was (echoed input stays small)."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text):,} characters)"


def shown(value: Any) -> str:
    """A client's value as quoted in a message: its repr, clipped."""
    return clip_text(repr(value), 80)


def echoed(value: Any, depth: int = 0) -> Any:
    """json_safe, with long strings clipped and long lists cut: what errors may echo back."""
    if depth > 8:
        return "..."
    if isinstance(value, str):
        return clip_text(value)
    if isinstance(value, dict):
        items = list(value.items())[:MAX_ECHOED_ITEMS]
        return {clip_text(str(k)): echoed(v, depth + 1) for k, v in items}
    if isinstance(value, list | tuple):
        return [echoed(v, depth + 1) for v in value[:MAX_ECHOED_ITEMS]]
    return json_safe(value)
