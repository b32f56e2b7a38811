"""A compiled fast path: a fitted pipeline's preprocessing as plain numpy, bit-identical.

``try_compile(pipeline, sample, categorical, numeric)`` compiles and proves parity; the result
predicts from ``columns`` (feature name -> 1-D array: float64 for numeric features, object
holding str or NaN for categorical ones) without building a DataFrame.
"""

from inference.fastpath.compiled import CompiledPipeline
from inference.fastpath.compiler import compile_pipeline
from inference.fastpath.errors import Unsupported
from inference.fastpath.parity import (
    check_parity,
    columns_from_frame,
    columns_from_record,
    edge_rows,
    try_compile,
)

__all__ = [
    "CompiledPipeline",
    "Unsupported",
    "check_parity",
    "columns_from_frame",
    "columns_from_record",
    "compile_pipeline",
    "edge_rows",
    "try_compile",
]
