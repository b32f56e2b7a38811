"""A compiled pipeline: plain numpy preprocessing, then the fitted final estimator."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse

from inference.fastpath.outputs import plan_outputs, reads_dense_for_sparse


@dataclass
class Layout:
    """The compiled preprocessing step: blocks over an output matrix of ``width`` columns."""

    blocks: list[Any]
    width: int
    sparse_output: bool  # scikit-learn hands the next step a CSR matrix
    fix_zero: bool  # scikit-learn stacked sparsely, which turns -0.0 into 0.0
    count: int  # transformers compiled


def _input_names(blocks: Sequence[Any]) -> tuple[str, ...]:
    names: dict[str, None] = {}
    for block in blocks:
        for name in getattr(block, "names", [getattr(block, "name", None)]):
            if name is not None:
                names[name] = None
    return tuple(names)


class CompiledPipeline:
    """Predicts from ``columns`` (feature name -> 1-D array) exactly as the pipeline would."""

    def __init__(self, layout: Layout, later: Sequence[Callable[[Any], Any]], estimator: Any):
        self.layout, self.estimator = layout, estimator
        self.features = _input_names(layout.blocks)
        self.n_transformers = layout.count
        self._blocks, self._width, self._later = layout.blocks, layout.width, list(later)
        self._first = self.features[0] if self.features else None
        self._outputs, self.outputs_plan = plan_outputs(estimator)
        self._outputs_read_dense = not self._later and reads_dense_for_sparse(estimator)

    @property
    def classes_(self) -> np.ndarray | None:
        """The classifier's classes, None for a regressor."""
        return getattr(self.estimator, "classes_", None)

    def _rows(self, columns: Mapping[str, np.ndarray]) -> int:
        if self._first is not None:
            return len(columns[self._first])
        return len(next(iter(columns.values())))

    def _estimator_input(self, columns: Mapping[str, np.ndarray], dense: bool = False) -> Any:
        """What the final estimator is given: CSR where scikit-learn gives CSR, unless `dense`."""
        out = np.zeros((self._rows(columns), self._width))
        for block in self._blocks:
            block(columns, out)
        if self.layout.fix_zero:
            out += 0.0
        as_csr = self.layout.sparse_output and not dense
        matrix: Any = sparse.csr_matrix(out) if as_csr else out
        for step in self._later:
            matrix = step(matrix)
        return matrix

    def transform(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        """The matrix the final estimator sees, dense float64 and C-contiguous."""
        matrix = self._estimator_input(columns)
        if sparse.issparse(matrix):
            matrix = matrix.toarray()
        return np.ascontiguousarray(matrix, dtype=np.float64)

    def predict_outputs(
        self, columns: Mapping[str, np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Predictions and probabilities (None without predict_proba), preprocessing once."""
        return self._outputs(self._estimator_input(columns, self._outputs_read_dense))

    def predict(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        """The final estimator's predictions."""
        return self.estimator.predict(self._estimator_input(columns))

    def predict_proba(self, columns: Mapping[str, np.ndarray]) -> np.ndarray | None:
        """The final estimator's class probabilities, None if it has no predict_proba."""
        if not hasattr(self.estimator, "predict_proba"):
            return None
        return self.estimator.predict_proba(self._estimator_input(columns))

    def __repr__(self) -> str:
        return (
            f"CompiledPipeline({len(self.features)} features -> {self._width} columns, "
            f"{self.n_transformers} transformers, {type(self.estimator).__name__})"
        )
