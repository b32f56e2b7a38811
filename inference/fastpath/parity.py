"""Prove a compiled pipeline bit-identical to scikit-learn before it serves anything."""

from __future__ import annotations

import warnings
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from inference.fastpath.compiled import CompiledPipeline
from inference.fastpath.compiler import compile_pipeline
from inference.fastpath.errors import Unsupported

Columns = dict[str, np.ndarray]
UNKNOWN_CATEGORY = "__skserve_unseen_category__"
EXTREMES = (1e12, -1e12, 0.0)
SINGLE_ROWS = 5  # sample rows also checked one at a time: the online path
OUTPUTS = ("features", "predictions", "probabilities")


def columns_from_frame(frame: pd.DataFrame) -> Columns:
    """The input convention: float64 for numeric columns, object (str or NaN) for the rest."""
    columns = {}
    for name, series in frame.items():
        numeric = pd.api.types.is_numeric_dtype(series.dtype)
        dtype = np.float64 if numeric else object
        columns[str(name)] = series.to_numpy(dtype=dtype, na_value=np.nan)
    return columns


def columns_from_record(record: Mapping[str, Any], numeric: Collection[str]) -> Columns:
    """One record as length-1 columns; ``numeric`` names become float64, None becomes NaN."""
    columns = {}
    for name, value in record.items():
        value = np.nan if value is None else value
        if name in numeric:
            columns[name] = np.array([value], dtype=np.float64)
        else:
            column = np.empty(1, dtype=object)
            column[0] = value
            columns[name] = column
    return columns


def _take(columns: Columns, rows: Any) -> Columns:
    return {name: values[rows] for name, values in columns.items()}


def _sklearn_outputs(pipeline: Any, columns: Columns) -> tuple[Any, ...]:
    matrix = pipeline[:-1].transform(pd.DataFrame(columns))
    estimator = pipeline.steps[-1][1]
    proba = estimator.predict_proba(matrix) if hasattr(estimator, "predict_proba") else None
    dense = matrix.toarray() if sparse.issparse(matrix) else np.asarray(matrix, dtype=np.float64)
    return dense, estimator.predict(matrix), proba


def _compiled_outputs(compiled: CompiledPipeline, columns: Columns) -> tuple[Any, ...]:
    # predict_outputs is what serves requests: its derived predictions are what is checked.
    return compiled.transform(columns), *compiled.predict_outputs(columns)


def _run(function: Any, *args: Any) -> tuple[Any, BaseException | None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return function(*args), None
        except Exception as error:  # any failure is a parity outcome
            return None, error


def _difference(what: str, expected: Any, actual: Any) -> str | None:
    if expected is None or actual is None:
        return None if expected is None and actual is None else f"{what}: only one path has them"
    expected, actual = np.asarray(expected), np.asarray(actual)
    if expected.shape != actual.shape:
        return f"{what} shapes differ: {expected.shape} vs {actual.shape}"
    floats = expected.dtype.kind == "f" and actual.dtype.kind == "f"
    if np.array_equal(expected, actual, equal_nan=floats):
        return None
    same = (expected == actual) | (np.isnan(expected) & np.isnan(actual) if floats else False)
    rows = ~same.reshape(len(same), -1).all(axis=1)
    detail = ""
    if floats:
        detail = f" (max abs diff {np.nanmax(np.abs(expected - actual)):.3g})"
    return f"{what} differ on {int(rows.sum())} of {len(rows)} rows{detail}"


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {str(error)[:200]}"


def _compare(
    pipeline: Any, compiled: CompiledPipeline, columns: Columns
) -> tuple[str | None, bool]:
    """One batch through both paths: (reason or None, whether any path raised)."""
    expected, sk_error = _run(_sklearn_outputs, pipeline, columns)
    actual, fast_error = _run(_compiled_outputs, compiled, columns)
    if sk_error is not None and fast_error is not None:
        return None, True
    if sk_error is not None:
        return f"the pipeline raises {_describe(sk_error)}; the compiled path does not", True
    if fast_error is not None:
        return f"the compiled path raises {_describe(fast_error)}; the pipeline does not", True
    for what, e, a in zip(OUTPUTS, expected, actual, strict=True):
        reason = _difference(what, e, a)
        if reason:
            return reason, False
    return None, False


def _rows(columns: Columns) -> int:
    return len(next(iter(columns.values()))) if columns else 0


def _check(
    pipeline: Any, compiled: CompiledPipeline, columns: Columns, per_row: bool
) -> str | None:
    reason, raised = _compare(pipeline, compiled, columns)
    n = _rows(columns)
    if n <= 1 or (reason and not raised) or not (raised or per_row):
        return reason
    working = []
    for i in range(n):
        row_reason, row_raised = _compare(pipeline, compiled, _take(columns, slice(i, i + 1)))
        if row_reason:
            return f"row {i}: {row_reason}"
        if not row_raised:
            working.append(i)
    if raised and 1 < len(working) < n:
        return _compare(pipeline, compiled, _take(columns, np.array(working)))[0]
    return reason


def check_parity(
    pipeline: Any, compiled: CompiledPipeline, frame: pd.DataFrame, *, per_row: bool = False
) -> str | None:
    """None when both paths agree bit for bit on ``frame``, else why not.

    Where both paths raise, they agree. A batch that raises is re-checked row by row, then as
    a batch of the rows that do not raise; ``per_row`` checks every row on its own as well.
    """
    return _check(pipeline, compiled, columns_from_frame(frame), per_row)


def edge_rows(
    frame: pd.DataFrame, categorical: Sequence[str], numeric: Sequence[str]
) -> pd.DataFrame:
    """Rows derived from the first row of ``frame``: unseen categories, nulls, extreme numbers."""
    base = frame.iloc[0].to_dict()
    records = []

    def add(**changes: Any) -> None:
        records.append({**base, **changes})

    for name in categorical:
        add(**{name: UNKNOWN_CATEGORY})
    for name in [*categorical, *numeric]:
        add(**{name: np.nan})
    for name in numeric:
        for value in EXTREMES:
            add(**{name: value})
    add(**{name: np.nan for name in [*categorical, *numeric]})
    add(**{name: UNKNOWN_CATEGORY for name in categorical})
    rows = pd.DataFrame.from_records(records, columns=list(frame.columns))
    return rows.astype({name: np.float64 for name in numeric})


def try_compile(
    pipeline: Any, sample: pd.DataFrame, categorical: Sequence[str], numeric: Sequence[str]
) -> tuple[CompiledPipeline | None, str]:
    """Compile and prove parity on ``sample`` plus edge rows: (compiled, summary) or (None, why).

    Never raises: any failure means serving through the pipeline itself.
    """
    try:
        compiled = compile_pipeline(pipeline)
    except Unsupported as error:
        return None, str(error)
    except Exception as error:  # the caller falls back to the pipeline
        return None, f"compiling failed: {_describe(error)}"
    if len(sample) == 0:
        return None, "no sample rows to check parity on"
    try:
        edges = edge_rows(sample, categorical, numeric)
        checks = [
            ("the sample", sample, False),
            ("single sample rows", sample.head(SINGLE_ROWS), True),
            ("edge rows", edges, True),
        ]
        for what, frame, per_row in checks:
            reason = check_parity(pipeline, compiled, frame, per_row=per_row)
            if reason:
                return None, f"parity failed on {what}: {reason}"
    except Exception as error:  # never raise: report why
        return None, f"parity check failed: {_describe(error)}"
    rows = len(sample) + len(edges)
    transformers = "transformer" if compiled.n_transformers == 1 else "transformers"
    return (
        compiled,
        f"compiled: {compiled.n_transformers} {transformers}, parity checked on {rows} rows; "
        f"{compiled.outputs_plan}",
    )
