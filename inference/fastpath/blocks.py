"""The runtime of a compiled pipeline: blocks that fill slices of a preallocated output matrix.

Every block is called as ``block(columns, out)`` with the request's columns (one 1-D array per
feature) and the zero-initialised float64 output; it writes only its own columns.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from itertools import repeat
from typing import Any

import numpy as np

from inference.fastpath.transformers import MISSING, RAISE, ZERO, Encoding, Op
from inference.json_values import is_missing

Columns = Mapping[str, np.ndarray]
_NOT_FOUND = -9  # never a table result (those are >= -1); an int keeps `in` checks fast


def _op_function(op: Op) -> Callable[[np.ndarray], None]:
    """The in-place numpy call for one op, the same ufunc scikit-learn applies."""
    a, b = op.a, op.b
    if op.kind == "fill":

        def fill(x: np.ndarray) -> None:
            mask = np.isnan(x)
            if mask.any():
                np.copyto(x, a, where=mask)

        return fill
    if op.kind == "clip":
        return lambda x: np.clip(x, a, b, out=x)
    ufunc = {"sub": np.subtract, "div": np.divide, "mul": np.multiply, "add": np.add}[op.kind]
    return lambda x: ufunc(x, a, out=x)


def signature(ops: Sequence[Op]) -> tuple[str, ...]:
    """What must match for two runs of ops to be fused into one."""
    return tuple(op.kind for op in ops)


def fuse_ops(first: Sequence[Op], second: Sequence[Op]) -> list[Op]:
    """Ops with the same signature over adjacent columns, as one run over both."""

    def join(x: np.ndarray | None, y: np.ndarray | None) -> np.ndarray | None:
        return None if x is None else np.concatenate([x, y])

    return [Op(p.kind, join(p.a, q.a), join(p.b, q.b)) for p, q in zip(first, second, strict=True)]


class OpsBlock:
    """Element-wise ops applied in place to output columns ``start:stop``."""

    def __init__(self, start: int, stop: int, ops: Sequence[Op], fix_zero: bool = False) -> None:
        self.start, self.stop, self.ops = start, stop, list(ops)
        self._functions = [_op_function(op) for op in self.ops]
        self._fix_zero = fix_zero  # sparse scikit-learn output never holds a -0.0

    def __call__(self, columns: Columns, out: np.ndarray) -> None:
        view = out[:, self.start : self.stop]
        for function in self._functions:
            function(view)
        if self._fix_zero:
            view += 0.0


class MatrixOps:
    """Element-wise ops over a whole matrix: a scaler placed after the preprocessing step."""

    def __init__(self, ops: Sequence[Op]) -> None:
        self._functions = [_op_function(op) for op in ops]

    def __call__(self, matrix: np.ndarray) -> np.ndarray:
        if np.isinf(matrix).any():
            raise ValueError("Input X contains infinity")
        for function in self._functions:
            function(matrix)
        return matrix


class NumericBlock(OpsBlock):
    """Numeric input columns copied to ``start:stop``, then transformed in place."""

    def __init__(self, names: Sequence[str], start: int, ops: Sequence[Op], validates: bool):
        super().__init__(start, start + len(names), ops)
        self.names, self.validates = list(names), validates

    def __call__(self, columns: Columns, out: np.ndarray) -> None:
        view = out[:, self.start : self.stop]
        for j, name in enumerate(self.names):
            view[:, j] = columns[name]
        if self.validates and np.isinf(view).any():
            raise ValueError(f"Input X contains infinity (columns {self.names})")
        for function in self._functions:
            function(view)


class EncodeBlock:
    """One input column looked up in an encoder's table and written at ``start``."""

    def __init__(self, name: str, start: int, encoding: Encoding) -> None:
        self.name, self.start, self.encoding = name, start, encoding
        self._get = encoding.table.get
        self._kind = encoding.kind

    def resolve(self, value: Any) -> Any:
        """The encoder's result for one value, raising where scikit-learn raises."""
        encoding = self.encoding
        result = self._get(value, _NOT_FOUND)
        if result == _NOT_FOUND:
            if is_missing(value):
                result = encoding.missing
            elif self._kind == "binarize" and not isinstance(value, str):
                raise ValueError(f"LabelBinarizer cannot encode {value!r} in column {self.name!r}")
            else:
                result = encoding.unknown
        if result is None or (self._kind != "ordinal" and result == RAISE):
            raise ValueError(
                f"Found unknown categories [{value!r}] in column {self.name!r} during transform"
            )
        return result

    def _results(self, values: np.ndarray) -> list[Any]:
        items = values.tolist()
        results = list(map(self._get, items, repeat(_NOT_FOUND, len(items))))
        if _NOT_FOUND in results:  # missing or unseen values: the slow path, only for them
            results = [
                self.resolve(v) if r == _NOT_FOUND else r
                for r, v in zip(results, items, strict=True)
            ]
        return results

    def _check_two_labels(self, values: np.ndarray) -> None:
        """More labels make scikit-learn's label_binarize emit two columns, which the model
        then rejects: raise instead."""
        fill = self.encoding.fill
        labels = {fill if fill is not MISSING and is_missing(v) else v for v in values.tolist()}
        if len(labels) > 2:
            raise ValueError(f"more than two labels in column {self.name!r} for LabelBinarizer")

    def __call__(self, columns: Columns, out: np.ndarray) -> None:
        values = columns[self.name]
        if values.dtype.kind == "f" and np.isinf(values).any():
            raise ValueError(f"Input X contains infinity (column {self.name!r})")
        if self._kind == "binarize" and self.encoding.binary and len(values) > 2:
            self._check_two_labels(values)
        if self._kind == "ordinal":
            out[:, self.start] = self._results(values)
        elif len(values) == 1:
            code = self.resolve(values[0])
            if code != ZERO:
                out[0, self.start + code] = 1.0
        else:
            codes = np.fromiter(self._results(values), dtype=np.intp, count=len(values))
            rows = np.flatnonzero(codes >= 0)
            out[rows, self.start + codes[rows]] = 1.0
