"""Plain JSON values from what pipelines and pandas hand back."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def json_safe(value: Any) -> Any:
    """A copy with numpy arrays and scalars as Python values, NaN and infinities as None."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray | np.generic):
        return json_safe(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


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
