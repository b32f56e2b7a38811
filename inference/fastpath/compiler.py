"""Compile a fitted pipeline's preprocessing (DataFrameMapper or ColumnTransformer) into blocks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import LabelBinarizer

from inference.compat import DataFrameMapper
from inference.fastpath.blocks import (
    EncodeBlock,
    MatrixOps,
    NumericBlock,
    OpsBlock,
    fuse_ops,
    signature,
)
from inference.fastpath.compiled import CompiledPipeline, Layout
from inference.fastpath.errors import Unsupported
from inference.fastpath.transformers import (
    ELEMENTWISE,
    MISSING,
    Op,
    elementwise_ops,
    encoder_columns,
    encoding_with_fill,
    imputer_fills,
    is_encoder,
)


@dataclass
class Chain:
    """The blocks of one transformer chain over some input columns."""

    blocks: list[Any] = field(default_factory=list)
    width: int = 0
    sparse: bool = False
    count: int = 0


def _is_passthrough(step: Any) -> bool:
    return step is None or isinstance(step, str) and step == "passthrough"


def flatten(transformer: Any) -> list[Any]:
    """The transformers of a (possibly nested) pipeline in order, without passthrough steps."""
    if _is_passthrough(transformer):
        return []
    if isinstance(transformer, Pipeline):
        return [t for _, step in transformer.steps for t in flatten(step)]
    return [transformer]


def _weight_ops(weight: float | None, width: int) -> list[Op]:
    return [] if weight is None else [Op("mul", np.full(width, float(weight)))]


def compile_chain(
    names: Sequence[str],
    steps: Sequence[Any],
    start: int,
    *,
    one_d: bool = False,
    weight: float | None = None,
) -> Chain:
    """Blocks writing the output of ``steps`` applied to columns ``names`` from ``start``."""
    width = len(names)
    at = next((i for i, step in enumerate(steps) if is_encoder(step)), None)
    if one_d and steps and not (at == 0 and type(steps[0]) is LabelBinarizer):
        raise Unsupported("a 1-D column selection is only supported with LabelBinarizer or None")
    if at is None:
        ops = [op for step in steps for op in elementwise_ops(step, width, sparse=False)]
        ops += _weight_ops(weight, width)
        # scikit-learn's numeric transformers reject infinity; passthrough does not
        block = NumericBlock(names, start, ops, validates=bool(steps))
        return Chain([block], width, False, len(steps))
    fills: list[Any] = [MISSING] * width
    for step in steps[:at]:
        fills = [
            new if old is MISSING else old
            for old, new in zip(fills, imputer_fills(step, width), strict=True)
        ]
    encodings, sparse = encoder_columns(steps[at], width)
    chain = Chain(sparse=sparse, count=len(steps))
    offset = start
    for name, encoding, fill in zip(names, encodings, fills, strict=True):
        chain.blocks.append(EncodeBlock(name, offset, encoding_with_fill(encoding, fill)))
        offset += encoding.width
    chain.width = offset - start
    ops = []
    for step in steps[at + 1 :]:
        if is_encoder(step):
            raise Unsupported(f"{type(step).__name__} after an encoder is not supported")
        ops += elementwise_ops(step, chain.width, sparse)
    ops += _weight_ops(weight, chain.width)
    if ops:
        chain.blocks.append(OpsBlock(start, offset, ops, fix_zero=sparse))
    return chain


def fuse(blocks: Sequence[Any]) -> list[Any]:
    """Adjacent numeric blocks with the same kinds of ops merged into one block."""
    fused: list[Any] = []
    for block in blocks:
        last = fused[-1] if fused else None
        if (
            type(block) is NumericBlock
            and type(last) is NumericBlock
            and last.stop == block.start
            and last.validates == block.validates
            and signature(last.ops) == signature(block.ops)
        ):
            ops = fuse_ops(last.ops, block.ops)
            fused[-1] = NumericBlock(last.names + block.names, last.start, ops, last.validates)
        else:
            fused.append(block)
    return fused


def _layout(chains: Sequence[Chain], sparse_output: bool, fix_zero: bool) -> Layout:
    blocks = fuse([block for chain in chains for block in chain.blocks])
    width = sum(chain.width for chain in chains)
    if width == 0:
        raise Unsupported("the preprocessing produces no columns")
    count = sum(chain.count for chain in chains)
    return Layout(blocks, width, sparse_output, fix_zero, count)


def _mapper_columns(columns: Any) -> tuple[list[str], bool]:
    if isinstance(columns, str):
        return [columns], True
    if isinstance(columns, list) and all(isinstance(c, str) for c in columns):
        return list(columns), False
    raise Unsupported(f"column selection {columns!r} is not supported")


def compile_mapper(mapper: DataFrameMapper) -> Layout:
    """The layout of a fitted sklearn-pandas DataFrameMapper."""
    if mapper.df_out or mapper.default is not False or mapper.input_df:
        raise Unsupported("DataFrameMapper with df_out, default or input_df is not supported")
    features = getattr(mapper, "built_features", None)
    if features is None:
        raise Unsupported("DataFrameMapper is not fitted")
    chains, start = [], 0
    for columns, transformer, options in features:
        try:
            if (options or {}).get("input_df"):
                raise Unsupported("input_df=True is not supported")
            names, one_d = _mapper_columns(columns)
            chains.append(compile_chain(names, flatten(transformer), start, one_d=one_d))
        except Unsupported as error:
            raise error.within(f"columns {columns!r}") from None
        start += chains[-1].width
    any_sparse = any(chain.sparse for chain in chains)
    return _layout(chains, bool(mapper.sparse) and any_sparse, any_sparse)


def compile_column_transformer(ct: ColumnTransformer) -> Layout:
    """The layout of a fitted ColumnTransformer that was fitted on a DataFrame."""
    if not hasattr(ct, "transformers_"):
        raise Unsupported("ColumnTransformer is not fitted")
    names_in = getattr(ct, "feature_names_in_", None)
    if names_in is None:
        raise Unsupported("ColumnTransformer fitted without column names is not supported")
    specs = {name: spec for name, spec, _ in ct.transformers}
    specs["remainder"] = ct.remainder
    weights = ct.transformer_weights or {}
    chains, start = [], 0
    for name, transformer, columns in ct.transformers_:
        indices = ct._transformer_to_input_indices[name]
        if isinstance(transformer, str) and transformer == "drop" or len(indices) == 0:
            continue
        try:
            if np.isscalar(columns):
                raise Unsupported("a scalar column selection is not supported")
            # scikit-learn replaces 'passthrough' with a fitted identity FunctionTransformer
            steps = [] if _is_passthrough(specs[name]) else flatten(transformer)
            names = [str(c) for c in names_in[indices]]
            chain = compile_chain(names, steps, start, weight=weights.get(name))
        except Unsupported as error:
            raise error.within(f"transformer {name!r}") from None
        chains.append(chain)
        start += chain.width
    return _layout(chains, bool(ct.sparse_output_), bool(ct.sparse_output_))


def without_feature_names(estimator: Any) -> Any:
    """A shallow copy that accepts arrays silently: the pipeline never sees column names here."""
    if "feature_names_in_" not in vars(estimator):
        return estimator
    copy = object.__new__(type(estimator))
    copy.__dict__.update(vars(estimator))
    del copy.__dict__["feature_names_in_"]
    return copy


def _later_step(step: Any, width: int | None) -> tuple[Callable[[Any], Any], int | None]:
    """A step after the preprocessing: compiled ops when possible, else its own ``.transform``."""
    if width is not None and type(step) in ELEMENTWISE:
        try:
            return MatrixOps(elementwise_ops(step, width, sparse=False)), width
        except Unsupported:
            pass
    return without_feature_names(step).transform, None


def _compile_first(step: Any) -> Layout:
    if isinstance(step, DataFrameMapper):
        return compile_mapper(step)
    if isinstance(step, ColumnTransformer):
        return compile_column_transformer(step)
    raise Unsupported(f"{type(step).__name__} as the first step is not supported")


def compile_pipeline(pipeline: Any) -> CompiledPipeline:
    """Compile a fitted Pipeline (mapper or ColumnTransformer first); raises Unsupported."""
    if not isinstance(pipeline, Pipeline):
        raise Unsupported(f"{type(pipeline).__name__} is not a scikit-learn Pipeline")
    steps = [(n, s) for n, s in pipeline.steps if not _is_passthrough(s)]
    if len(steps) < 2:
        raise Unsupported("the pipeline needs a preprocessing step and a final estimator")
    (first_name, first), *middle, (last_name, estimator) = steps
    try:
        layout = _compile_first(first)
    except Unsupported as error:
        raise error.within(f"step {first_name!r}") from None
    later, width = [], None if layout.sparse_output else layout.width
    for _, step in middle:
        function, width = _later_step(step, width)
        later.append(function)
    if not hasattr(estimator, "predict"):
        raise Unsupported(f"step {last_name!r}: {type(estimator).__name__} cannot predict")
    return CompiledPipeline(layout, later, without_feature_names(estimator))
