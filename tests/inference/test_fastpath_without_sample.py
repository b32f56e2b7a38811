"""Pipelines registered without sample rows still get the fast path, parity-checked on rows
built from what the fitted pipeline knows."""

from __future__ import annotations

import warnings

import cloudpickle
import pytest
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, PolynomialFeatures, StandardScaler

from inference.fastpath.parity import columns_from_frame
from inference.fastpath.synthetic import synthetic_rows
from inference.inspection import inspect_pipeline
from inference.model import load_model
from tests.inference.fastpath_cases import CASES, CATEGORICAL, NUMERIC, Case, make_frame

FEATURES = NUMERIC + CATEGORICAL
# A numeric column one-hot encoded: a registered pipeline's schema calls it categorical, so it
# is served text the fitted encoder never saw as such; parity catches that and falls back.
NUMERIC_CATEGORIES = "numeric-categories"
SHAPES = [c for c in CASES if c.id != NUMERIC_CATEGORIES]


def registered(pipeline):
    """A LoadedModel exactly as `skserve models register` would serve it: no sample rows."""
    data = cloudpickle.dumps(pipeline)
    metadata = inspect_pipeline(data)
    assert metadata.sample == []
    return load_model("m", 1, data, metadata)


def fitted(build, target: str = "binary", *, complete: bool = False):
    frame = make_frame().dropna() if complete else make_frame()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return clone(build).fit(frame[FEATURES], frame[target])


@pytest.mark.parametrize("case", SHAPES, ids=[c.id for c in SHAPES])
def test_every_parity_shape_gets_the_fast_path_without_stored_rows(case: Case):
    model = registered(fitted(case.build(), case.target))
    assert model.fast is not None, model.fast_path_reason
    assert "built from the fitted pipeline" in model.fast_path_reason


def test_user_column_transformer_with_sparse_output_and_gbc():
    # The pipeline: ColumnTransformer's default sparse_threshold gives the tree CSR input.
    pre = ColumnTransformer(
        [
            ("num", StandardScaler(), NUMERIC),
            ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
        ],
        sparse_threshold=1.0,
    )
    pipeline = fitted(
        make_pipeline(pre, GradientBoostingClassifier(n_estimators=10)), complete=True
    )
    model = registered(pipeline)
    assert model.fast is not None, model.fast_path_reason
    assert "parity checked on" in model.fast_path_reason
    # The trees are given the dense matrix instead of scikit-learn's CSR one: still the very
    # same probabilities, on rows the parity check never saw.
    frame = make_frame().dropna()[FEATURES]
    predictions, probabilities = model.fast.predict_outputs(columns_from_frame(frame))
    assert (predictions == pipeline.predict(frame)).all()
    assert (probabilities == pipeline.predict_proba(frame)).all()


def test_built_rows_cover_every_fitted_category():
    pipeline = fitted(CASES[0].build())
    schema = inspect_pipeline(cloudpickle.dumps(pipeline)).schema
    rows = synthetic_rows(pipeline, schema)
    for feature in schema.features:
        if feature.kind == "categorical":
            assert set(feature.categories) <= set(rows[feature.name]), feature.name
        else:
            assert rows[feature.name].nunique() >= 5


def test_an_unsupported_step_still_falls_back_and_is_named():
    pre = ColumnTransformer([("poly", PolynomialFeatures(), NUMERIC)])
    model = registered(
        fitted(make_pipeline(pre, GradientBoostingClassifier(n_estimators=5)), complete=True)
    )
    assert model.fast is None and "PolynomialFeatures" in model.fast_path_reason


def test_numeric_categories_fall_back_with_the_difference_named():
    case = next(c for c in CASES if c.id == NUMERIC_CATEGORIES)
    model = registered(fitted(case.build(), case.target))
    assert model.fast is None and "parity failed" in model.fast_path_reason
