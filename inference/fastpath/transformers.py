"""One small function per supported transformer: its fitted state as plain numpy operations.

Numeric transformers become element-wise ``Op``s that repeat scikit-learn's own in-place
arithmetic (``X -= mean_; X /= scale_`` stays a subtraction then a division, never a fused
multiply), so the results are bit-identical. Encoders become per-column lookup tables.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import (
    LabelBinarizer,
    MaxAbsScaler,
    MinMaxScaler,
    OneHotEncoder,
    OrdinalEncoder,
    RobustScaler,
    StandardScaler,
)

from inference.fastpath.errors import Unsupported
from inference.json_values import is_missing

ZERO = -1  # one-hot result: the row stays all zeros (ignored unknown, dropped category)
RAISE = -2  # one-hot result: scikit-learn raises ValueError on this value
MISSING = object()  # a value-stage fill that leaves the value missing


@dataclass(frozen=True)
class Op:
    """An in-place element-wise operation with one parameter per column."""

    kind: str  # fill | sub | div | mul | add | clip
    a: np.ndarray
    b: np.ndarray | None = None  # the upper bound of clip


@dataclass(frozen=True)
class Encoding:
    """How an encoder maps one input column: value -> result, plus missing and unseen values.

    Results are output column offsets (or ZERO / RAISE) for one-hot kinds, floats (or None
    for RAISE) for ordinal.
    """

    kind: str  # onehot | ordinal | binarize
    table: dict[Any, Any]
    missing: Any
    unknown: Any
    width: int
    binary: bool = False  # a two-class LabelBinarizer: one output column
    fill: Any = MISSING  # what an imputer in front puts in place of a missing value


def _params(values: Any, width: int) -> np.ndarray:
    """A float64 per-column parameter array (scalars broadcast)."""
    return np.broadcast_to(np.asarray(values, dtype=np.float64), (width,)).copy()


def _check_width(t: Any, width: int) -> None:
    n_in = getattr(t, "n_features_in_", width)
    if n_in != width:
        raise Unsupported(f"{type(t).__name__} expects {n_in} columns, gets {width}")


def _standard_scaler(t: StandardScaler, width: int, sparse: bool) -> list[Op]:
    if sparse:
        if t.with_mean:
            raise Unsupported("StandardScaler(with_mean=True) on sparse input is not supported")
        return [] if t.scale_ is None else [Op("mul", 1 / t.scale_)]
    ops = [Op("sub", _params(t.mean_, width))] if t.with_mean else []
    return ops + ([Op("div", _params(t.scale_, width))] if t.with_std else [])


def _min_max_scaler(t: MinMaxScaler, width: int, sparse: bool) -> list[Op]:
    if sparse:
        raise Unsupported("MinMaxScaler on sparse input is not supported")
    ops = [Op("mul", _params(t.scale_, width)), Op("add", _params(t.min_, width))]
    if t.clip:
        lo, hi = t.feature_range
        ops.append(Op("clip", _params(lo, width), _params(hi, width)))
    return ops


def _max_abs_scaler(t: MaxAbsScaler, width: int, sparse: bool) -> list[Op]:
    ops = [Op("mul", 1.0 / t.scale_) if sparse else Op("div", _params(t.scale_, width))]
    if getattr(t, "clip", False):
        ops.append(Op("clip", _params(-1.0, width), _params(1.0, width)))
    return ops


def _robust_scaler(t: RobustScaler, width: int, sparse: bool) -> list[Op]:
    if sparse:
        if t.with_centering:
            raise Unsupported("RobustScaler(with_centering=True) on sparse input is not supported")
        return [Op("mul", 1.0 / t.scale_)] if t.with_scaling else []
    ops = [Op("sub", _params(t.center_, width))] if t.with_centering else []
    return ops + ([Op("div", _params(t.scale_, width))] if t.with_scaling else [])


def _checked_imputer(t: SimpleImputer) -> np.ndarray:
    """The imputer's fill values, after refusing what the compiled path does not mirror."""
    if not is_missing(t.missing_values) or t.missing_values is None:
        raise Unsupported(f"SimpleImputer(missing_values={t.missing_values!r}) is not supported")
    if t.add_indicator:
        raise Unsupported("SimpleImputer(add_indicator=True) is not supported")
    stats = t.statistics_
    if not t.keep_empty_features and any(is_missing(s) for s in stats):
        raise Unsupported("SimpleImputer dropping all-missing training columns is not supported")
    return stats


def _simple_imputer(t: SimpleImputer, width: int, sparse: bool) -> list[Op]:
    stats = _checked_imputer(t)
    if sparse:
        raise Unsupported("SimpleImputer on sparse input is not supported")
    if t._fit_dtype.kind not in "fiu":
        raise Unsupported("SimpleImputer on non-numeric data without an encoder is not supported")
    return [Op("fill", _params(stats.astype(t._fill_dtype), width))]


ELEMENTWISE = {
    StandardScaler: _standard_scaler,
    MinMaxScaler: _min_max_scaler,
    MaxAbsScaler: _max_abs_scaler,
    RobustScaler: _robust_scaler,
    SimpleImputer: _simple_imputer,
}


def elementwise_ops(t: Any, width: int, sparse: bool) -> list[Op]:
    """The element-wise ops of a numeric transformer; ``sparse`` if its input is sparse."""
    compile_one = ELEMENTWISE.get(type(t))
    if compile_one is None:
        raise Unsupported(f"{type(t).__name__} is not supported")
    _check_width(t, width)
    return compile_one(t, width, sparse)


def imputer_fills(t: SimpleImputer, width: int) -> list[Any]:
    """Per column, what a SimpleImputer in front of an encoder puts in place of a missing value."""
    if type(t) is not SimpleImputer:
        raise Unsupported(f"{type(t).__name__} before an encoder is not supported")
    _check_width(t, width)
    return [MISSING if is_missing(s) else s for s in _checked_imputer(t).tolist()]


def _check_encoder(t: Any) -> None:
    dtype = np.dtype(getattr(t, "dtype", np.float64))
    if dtype.kind == "f" and dtype != np.float64:
        raise Unsupported(f"{type(t).__name__}(dtype={dtype}) is not supported")
    if getattr(t, "_infrequent_enabled", False) and any(
        i is not None for i in t._infrequent_indices
    ):
        raise Unsupported(f"{type(t).__name__} with infrequent categories is not supported")
    if any(c is None for cats in t.categories_ for c in cats.tolist()):
        raise Unsupported(f"{type(t).__name__} with None as a category is not supported")


def _split_missing(cats: np.ndarray, results: list[Any]) -> tuple[dict[Any, Any], Any]:
    """A table of the non-missing categories, and the result of the NaN category (or None)."""
    table, nan_result = {}, None
    for cat, result in zip(cats.tolist(), results, strict=True):
        if is_missing(cat):
            nan_result = result
        else:
            table[cat] = result
    return table, nan_result


def _one_hot(t: OneHotEncoder) -> list[Encoding]:
    _check_encoder(t)
    ignore = t.handle_unknown in ("ignore", "infrequent_if_exist", "warn")
    unknown = ZERO if ignore else RAISE
    drops = t._drop_idx_after_grouping
    encodings = []
    for i, cats in enumerate(t.categories_):
        drop = None if drops is None or drops[i] is None else int(drops[i])
        results = [
            k if drop is None or k < drop else (ZERO if k == drop else k - 1)
            for k in range(len(cats))
        ]
        table, nan_result = _split_missing(cats, results)
        missing = unknown if nan_result is None else nan_result
        width = len(cats) - (drop is not None)
        encodings.append(Encoding("onehot", table, missing, unknown, width))
    return encodings


def _ordinal(t: OrdinalEncoder) -> list[Encoding]:
    _check_encoder(t)
    cast = np.dtype(t.dtype).type
    unknown = float(t.unknown_value) if t.handle_unknown == "use_encoded_value" else None
    encodings = []
    for cats in t.categories_:
        results = [float(cast(k)) for k in range(len(cats))]
        table, nan_result = _split_missing(cats, results)
        missing = unknown if nan_result is None else float(cast(t.encoded_missing_value))
        encodings.append(Encoding("ordinal", table, missing, unknown, 1))
    return encodings


def _label_binarizer(t: LabelBinarizer) -> list[Encoding]:
    classes = t.classes_.tolist()
    if t.neg_label != 0 or t.pos_label != 1:
        raise Unsupported("LabelBinarizer with neg_label/pos_label other than 0/1 is not supported")
    if len(classes) < 2 or t.y_type_ not in ("binary", "multiclass"):
        raise Unsupported(f"LabelBinarizer fitted on {t.y_type_} data is not supported")
    if not all(isinstance(c, str) for c in classes):
        raise Unsupported("LabelBinarizer with non-string classes is not supported")
    if len(classes) == 2:
        return [Encoding("binarize", {classes[1]: 0, classes[0]: ZERO}, RAISE, ZERO, 1, True)]
    table = {c: k for k, c in enumerate(classes)}
    return [Encoding("binarize", table, RAISE, ZERO, len(classes))]


ENCODERS = {OneHotEncoder: _one_hot, OrdinalEncoder: _ordinal, LabelBinarizer: _label_binarizer}


def is_encoder(t: Any) -> bool:
    """Whether ``t`` is one of the supported encoders."""
    return type(t) in ENCODERS


def encoder_columns(t: Any, width: int) -> tuple[list[Encoding], bool]:
    """Per input column, the encoder's lookup; and whether scikit-learn's output is sparse."""
    if type(t) is LabelBinarizer and width != 1:
        raise Unsupported("LabelBinarizer on more than one column is not supported")
    _check_width(t, width)
    sparse = bool(getattr(t, "sparse_output", False))
    return ENCODERS[type(t)](t), sparse


def encoding_with_fill(encoding: Encoding, fill: Any) -> Encoding:
    """The encoding seen through an imputer: a missing value is looked up as ``fill``."""
    if fill is MISSING:
        return encoding
    if isinstance(fill, str | numbers.Number) and not is_missing(fill):
        missing = encoding.table.get(fill, encoding.unknown)
    else:
        raise Unsupported(f"SimpleImputer fill value {fill!r} is not supported")
    return replace(encoding, missing=missing, fill=fill)
