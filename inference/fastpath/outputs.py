"""A final estimator's predictions and probabilities from one pass over its input.

``predict`` and ``predict_proba`` each validate their input again, and on one row that
validation costs more than the model. Where scikit-learn's own source derives ``predict`` from a
value that ``predict_proba`` also computes, that value is computed once and both answers are
derived from it with scikit-learn's own expressions; every other estimator is asked twice.

Read in scikit-learn 1.9.1 (the exact classes, never subclasses, which may override):

- DecisionTree/ExtraTree and RandomForest/ExtraTrees classifiers, one output: ``predict`` is
  ``classes_.take(argmax(predict_proba(X), axis=1))``, ties going to the first class.
- GradientBoostingClassifier: ``predict`` thresholds ``decision_function`` (``>= 0``, or argmax)
  and ``predict_proba`` is ``_loss.predict_proba(decision_function(X))``. Not the argmax of the
  probabilities: a raw score of 0 predicts the second class while its probabilities tie.
  ``decision_function`` is ``validate_data`` (float32, C order, finite) then ``_raw_predict``
  (``_init_raw_predictions`` + ``predict_stages``); the input checks cost 150 µs of its 190 µs on
  one row, so the compiled path, whose matrix is already dense and validated, does the float32
  conversion and the finiteness check itself and calls the two functions directly. The default
  init estimator, ``DummyClassifier(strategy="prior")``, gives every row the same raw score
  (the link of ``class_prior_``) and costs a third of the rest; that row is computed once, by
  ``_init_raw_predictions`` itself, and repeated.
- Not derived, so asked twice: HistGradientBoosting (``raw > 0``), LogisticRegression
  (``decision > 0``), GaussianNB (argmax of the joint log likelihood, before ``exp`` can tie
  values) and KNeighbors (a mode of the neighbours' labels on most fit methods).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import sklearn
from sklearn.ensemble import (
    ExtraTreesClassifier,
    GradientBoostingClassifier,
    RandomForestClassifier,
)

try:  # private, so allowed to vanish: then GradientBoosting is asked through its public methods
    from sklearn.ensemble._gb import _init_raw_predictions
    from sklearn.ensemble._gradient_boosting import predict_stages
except ImportError:  # pragma: no cover - only on scikit-learn releases not in DECISION_VERIFIED
    _init_raw_predictions = predict_stages = None
from scipy import sparse
from sklearn.dummy import DummyClassifier
from sklearn.tree import DecisionTreeClassifier, ExtraTreeClassifier

Outputs = Callable[[Any], tuple[np.ndarray, np.ndarray | None]]

ARGMAX_OF_PROBA = (
    DecisionTreeClassifier,
    ExtraTreeClassifier,
    RandomForestClassifier,
    ExtraTreesClassifier,
)
# The decision-function derivation uses private names (`_loss`, `_init_raw_predictions`,
# `predict_stages`); it is enabled only on scikit-learn releases whose source was read for it,
# and, like every compiled path, only after the parity check passes on the model's own rows.
DECISION_VERIFIED = ("1.9",)


def _argmax_of_proba(estimator: Any, matrix: Any) -> tuple[np.ndarray, np.ndarray]:
    proba = estimator.predict_proba(matrix)
    return estimator.classes_.take(np.argmax(proba, axis=1), axis=0), proba


def _float32(matrix: Any) -> Any:
    # What validate_data hands the trees: C-ordered float32, or float32 CSR for sparse input
    # (predict_stages walks the CSR matrix itself, as the estimator does).
    if sparse.issparse(matrix):
        features = sparse.csr_matrix(matrix, dtype=np.float32)
        return features, features.data
    features = np.ascontiguousarray(matrix, dtype=np.float32)
    return features, features


def _constant_init(estimator: Any) -> np.ndarray | None:
    """The one raw init row every input gets from a prior init estimator; else None."""
    init = estimator.init_
    if type(init) is not DummyClassifier or init.strategy != "prior":
        return None
    one_row = np.zeros((1, estimator.n_features_in_), dtype=np.float32)
    return _init_raw_predictions(one_row, init, estimator._loss, True)


def _decision_function(
    estimator: Any, matrix: Any, init_row: np.ndarray | None = None
) -> np.ndarray:
    """``estimator.decision_function(matrix)`` (dense or CSR) without re-validating it."""
    features, values = _float32(matrix)
    if not np.isfinite(values).all():
        raise ValueError("Input contains NaN or infinity.")  # as validate_data would
    if estimator.init_ == "zero":
        raw = np.zeros((features.shape[0], estimator.n_trees_per_iteration_), dtype=np.float64)
    elif init_row is not None:
        raw = np.repeat(init_row, features.shape[0], axis=0)  # a fresh array: updated in place
    else:
        raw = _init_raw_predictions(features, estimator.init_, estimator._loss, True)
    predict_stages(estimator.estimators_, features, estimator.learning_rate, raw)
    return raw.ravel() if raw.shape[1] == 1 else raw


def _from_decision(
    estimator: Any, init_row: np.ndarray | None, matrix: Any
) -> tuple[np.ndarray, np.ndarray]:
    raw = _decision_function(estimator, matrix, init_row)
    encoded = (raw >= 0).astype(int) if raw.ndim == 1 else np.argmax(raw, axis=1)
    return estimator.classes_[encoded], estimator._loss.predict_proba(raw)


def _both(estimator: Any, matrix: Any) -> tuple[np.ndarray, np.ndarray]:
    return estimator.predict(matrix), estimator.predict_proba(matrix)


def _predict_only(estimator: Any, matrix: Any) -> tuple[np.ndarray, None]:
    return estimator.predict(matrix), None


def _release() -> str:
    return ".".join(sklearn.__version__.split(".")[:2])


def _by_decision(estimator: Any) -> bool:
    return (
        type(estimator) is GradientBoostingClassifier
        and _release() in DECISION_VERIFIED
        and predict_stages is not None
        and hasattr(getattr(estimator, "_loss", None), "predict_proba")
    )


def reads_dense_for_sparse(estimator: Any) -> bool:
    """Whether plan_outputs' function may be given the dense matrix where scikit-learn would
    hand the estimator a CSR one: the trees compare the same float32 values either way, and the
    parity check proves the outputs bit-identical for each model before it serves. Building the
    CSR matrix cost a single-row request 85 µs, a fifth of its time."""
    return _by_decision(estimator)


def plan_outputs(estimator: Any) -> tuple[Outputs, str]:
    """How to get ``(predictions, probabilities or None)`` from ``estimator``, and in words."""
    kind = type(estimator)
    if kind in ARGMAX_OF_PROBA and getattr(estimator, "n_outputs_", None) == 1:
        return partial(_argmax_of_proba, estimator), "predictions from one predict_proba"
    if _by_decision(estimator):
        init_row = _constant_init(estimator)
        return partial(
            _from_decision, estimator, init_row
        ), "predictions from one decision_function"
    if not hasattr(estimator, "predict_proba"):
        return partial(_predict_only, estimator), "predict only (no probabilities)"
    return partial(_both, estimator), "predict and predict_proba called separately"
