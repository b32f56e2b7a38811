"""Predictions derived from one pass over the estimator equal scikit-learn's own, bit for bit."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn.base import clone
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import (
    ExtraTreesClassifier,
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.tree import DecisionTreeClassifier, ExtraTreeClassifier

from inference.artifact import ArtifactMetadata, ModelArtifact
from inference.fastpath import check_parity, compile_pipeline, try_compile
from inference.fastpath.outputs import plan_outputs
from inference.model import LoadedModel
from inference.predict import predict_validated
from inference.schema import infer_schema
from inference.validation import ValidatedInput
from tests.inference.fastpath_cases import ADULT_LIKE, CATEGORICAL, NUMERIC, make_frame

ONE_PROBA = "predictions from one predict_proba"
ONE_DECISION = "predictions from one decision_function"
SEPARATE = "predict and predict_proba called separately"


class SubclassedTree(DecisionTreeClassifier):
    """A subclass may override predict: it is asked twice."""


PLANS = [
    (DecisionTreeClassifier(random_state=0), ONE_PROBA),
    (ExtraTreeClassifier(random_state=0), ONE_PROBA),
    (RandomForestClassifier(n_estimators=5, random_state=0), ONE_PROBA),
    (ExtraTreesClassifier(n_estimators=5, random_state=0), ONE_PROBA),
    (GradientBoostingClassifier(n_estimators=5, random_state=0), ONE_DECISION),
    (GradientBoostingClassifier(n_estimators=5, loss="exponential"), ONE_DECISION),
    (GradientBoostingClassifier(n_estimators=5, init=LogisticRegression()), ONE_DECISION),
    (
        # Seeded: an unseeded stratified init draws new samples on every call, in sklearn too.
        GradientBoostingClassifier(
            n_estimators=5, init=DummyClassifier(strategy="stratified", random_state=0)
        ),
        ONE_DECISION,
    ),
    (HistGradientBoostingClassifier(max_iter=5), SEPARATE),
    (LogisticRegression(), SEPARATE),
    (GaussianNB(), SEPARATE),
    (KNeighborsClassifier(n_neighbors=4), SEPARATE),
    (SubclassedTree(random_state=0), SEPARATE),
    (Ridge(), "predict only (no probabilities)"),
]


def _data(target: str) -> tuple[np.ndarray, np.ndarray]:
    """Numeric features with duplicated rows of different labels: tied probabilities."""
    frame = make_frame(120)
    X = frame[["x1", "x3"]].to_numpy()
    X = np.vstack([X, X[:20]])
    y = np.concatenate([frame[target].to_numpy(), np.roll(frame[target].to_numpy()[:20], 1)])
    return X, y


@pytest.mark.parametrize("target", ["binary", "multi"])
@pytest.mark.parametrize(
    ("estimator", "plan"), PLANS, ids=[f"{type(e).__name__}-{p[:12]}" for e, p in PLANS]
)
def test_outputs_equal_predict_and_predict_proba(estimator, plan, target):
    if target == "multi" and getattr(estimator, "loss", None) == "exponential":
        pytest.skip("the exponential loss is binary only")
    X, y = _data("reg" if isinstance(estimator, Ridge) else target)
    fitted = clone(estimator).fit(X, y)

    outputs, described = plan_outputs(fitted)
    predictions, probabilities = outputs(X)

    assert described == plan
    expected = fitted.predict(X)
    assert predictions.dtype == expected.dtype and np.array_equal(predictions, expected)
    if probabilities is None:
        assert not hasattr(fitted, "predict_proba")
    else:
        assert np.array_equal(probabilities, fitted.predict_proba(X))


@pytest.mark.parametrize("target", ["binary", "multi"])
@pytest.mark.parametrize("n_rows", [1, 2, 140])
def test_gradient_boostings_prior_score_computed_once_equals_every_rows_own(target, n_rows):
    X, y = _data(target)
    gb = GradientBoostingClassifier(n_estimators=5, random_state=0).fit(X, y)
    outputs, _ = plan_outputs(gb)

    for _ in range(2):  # the repeated row is never updated in place
        predictions, probabilities = outputs(X[:n_rows])
        assert np.array_equal(gb.decision_function(X[:n_rows]), gb.decision_function(X)[:n_rows])
        assert np.array_equal(predictions, gb.predict(X[:n_rows]))
        assert np.array_equal(probabilities, gb.predict_proba(X[:n_rows]))


def test_tied_tree_probabilities_predict_the_first_class_as_scikit_learn_does():
    X, y = _data("binary")
    tree = DecisionTreeClassifier(random_state=0).fit(X, y)
    outputs, _ = plan_outputs(tree)

    predictions, probabilities = outputs(X)

    tied = probabilities[:, 0] == probabilities[:, 1]
    assert tied.any()
    assert np.array_equal(predictions[tied], tree.predict(X[tied]))


def test_gradient_boosting_at_a_zero_score_is_not_the_argmax_of_its_probabilities():
    X, y = _data("binary")
    gb = GradientBoostingClassifier(n_estimators=2, init="zero").fit(X, y)
    for tree in gb.estimators_.ravel():
        tree.tree_.value[:] = 0.0  # every raw score is exactly 0: probabilities tie at 0.5
    outputs, _ = plan_outputs(gb)

    predictions, probabilities = outputs(X[:3])

    assert np.array_equal(probabilities, np.full((3, 2), 0.5))
    assert list(predictions) == list(gb.predict(X[:3])) == [gb.classes_[1]] * 3
    assert gb.classes_[np.argmax(probabilities, axis=1)][0] == gb.classes_[0]


@pytest.mark.parametrize("bad", [np.nan, np.inf, 1e39])  # 1e39 overflows float32 to inf
def test_gradient_boosting_refuses_what_its_decision_function_refuses(bad):
    X, y = _data("binary")
    gb = GradientBoostingClassifier(n_estimators=3).fit(X, y)
    outputs, _ = plan_outputs(gb)
    rows = X[:2].copy()
    rows[1, 0] = bad

    with pytest.raises(ValueError):
        gb.decision_function(rows)
    with pytest.raises(ValueError, match="NaN or infinity"):
        outputs(rows)


def test_decision_function_derivation_only_on_a_verified_release(monkeypatch):
    X, y = _data("binary")
    gb = GradientBoostingClassifier(n_estimators=3).fit(X, y)
    monkeypatch.setattr(sklearn, "__version__", "1.10.0")

    outputs, described = plan_outputs(gb)

    assert described == SEPARATE
    predictions, probabilities = outputs(X)
    assert np.array_equal(predictions, gb.predict(X))
    assert np.array_equal(probabilities, gb.predict_proba(X))


@pytest.fixture(scope="module")
def gbm() -> tuple[Pipeline, pd.DataFrame]:
    frame = make_frame()
    pipeline = Pipeline(
        [("mapper", clone(ADULT_LIKE)), ("m", GradientBoostingClassifier(n_estimators=10))]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipeline.fit(frame[NUMERIC + CATEGORICAL], frame["binary"])
    return pipeline, make_frame(60, seed=3)[NUMERIC + CATEGORICAL]


def test_summary_names_how_predictions_are_derived(gbm):
    pipeline, sample = gbm

    compiled, summary = try_compile(pipeline, sample, CATEGORICAL, NUMERIC)

    assert compiled is not None and compiled.outputs_plan == ONE_DECISION
    assert summary.endswith(f"; {ONE_DECISION}")


def test_parity_checks_the_derived_predictions(gbm):
    pipeline, sample = gbm
    compiled = compile_pipeline(pipeline)
    derive = compiled._outputs

    def flipped(matrix):
        predictions, probabilities = derive(matrix)
        return predictions[::-1].copy(), probabilities

    compiled._outputs = flipped
    reason = check_parity(pipeline, compiled, sample)

    assert reason is not None and reason.startswith("predictions differ")


def test_predict_validated_serves_the_derived_outputs(gbm):
    pipeline, sample = gbm
    compiled, _ = try_compile(pipeline, sample, CATEGORICAL, NUMERIC)
    metadata = ArtifactMetadata(infer_schema(sample), "classification", classes=["<=50K", ">50K"])
    model = LoadedModel("m", 1, ModelArtifact(pipeline, metadata), fast=compiled)
    columns = {n: sample[n].to_numpy(np.float64 if n in NUMERIC else object) for n in sample}

    result = predict_validated(model, ValidatedInput(columns, len(sample)))

    assert np.array_equal(result.predictions, pipeline.predict(sample))
    assert np.array_equal(result.probabilities, pipeline.predict_proba(sample))
