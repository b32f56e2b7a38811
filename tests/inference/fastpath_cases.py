"""Pipeline shapes for the fast-path parity table, fitted on small generated data.

The factories share transformer instances: tests clone a pipeline before fitting it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.ensemble import (
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import (
    LabelBinarizer,
    MaxAbsScaler,
    MinMaxScaler,
    OneHotEncoder,
    OrdinalEncoder,
    RobustScaler,
    StandardScaler,
)
from sklearn.tree import DecisionTreeClassifier

from inference.compat import DataFrameMapper

NUMERIC = ["x1", "x2", "x3"]
CATEGORICAL = ["c1", "c2", "c3"]
MEDIAN = SimpleImputer(strategy="median")
FREQUENT = SimpleImputer(strategy="most_frequent")


def make_frame(n: int = 240, seed: int = 0) -> pd.DataFrame:
    """Numeric and string features with missing values, and three kinds of target."""
    rng = np.random.default_rng(seed)
    x1 = rng.normal(50, 10, n)
    x2 = rng.lognormal(3, 1, n)
    x2[rng.random(n) < 0.1] = np.nan
    x3 = rng.integers(0, 8, n).astype(np.float64)
    c1 = rng.choice(["red", "green", "blue"], n).astype(object)
    c1[rng.random(n) < 0.1] = np.nan
    c2 = rng.choice(list("abcde"), n).astype(object)
    c3 = rng.choice(["yes", "no"], n).astype(object)
    score = (x1 - 50) / 10 + np.isin(c2, ["a", "b"]) - (c3 == "no") + rng.normal(0, 0.5, n)
    frame = pd.DataFrame({"x1": x1, "x2": x2, "x3": x3, "c1": c1, "c2": c2, "c3": c3})
    frame["binary"] = np.where(score > 0, ">50K", "<=50K")
    frame["multi"] = np.select([score < -0.7, score < 0.7], ["low", "mid"], "high")
    frame["reg"] = score
    return frame


@dataclass(frozen=True)
class Case:
    """A pipeline factory and the target it is fitted on."""

    id: str
    build: Callable[[], Pipeline]
    target: str = "binary"


def mapper(*features: tuple, **options: object) -> DataFrameMapper:
    """A DataFrameMapper over ``features``."""
    return DataFrameMapper(list(features), **options)


def numeric(*steps: object) -> list[tuple]:
    """One mapper entry per numeric column (tests clone the pipeline before fitting)."""
    return [([c], list(steps)) for c in NUMERIC]


def categorical(*steps: object) -> list[tuple]:
    """One mapper entry per categorical column (tests clone the pipeline before fitting)."""
    return [([c], list(steps)) for c in CATEGORICAL]


def _pipe(first: object, *rest: object) -> Callable[[], Pipeline]:
    return lambda: Pipeline([("mapper", first), *[(f"s{i}", s) for i, s in enumerate(rest)]])


OHE_IGNORE = OneHotEncoder(handle_unknown="ignore")
LOGIT = LogisticRegression(max_iter=500)
ADULT_LIKE = mapper(*numeric(SimpleImputer(), StandardScaler()), *categorical(FREQUENT, OHE_IGNORE))

CASES = [
    Case("adult-like-gbm", _pipe(ADULT_LIKE, GradientBoostingClassifier(n_estimators=20))),
    Case("adult-like-multiclass", _pipe(ADULT_LIKE, LOGIT), "multi"),
    Case(
        "scaler-flags-logit",
        _pipe(
            mapper(
                (["x1"], [SimpleImputer(), StandardScaler(with_mean=False)]),
                (["x2"], [SimpleImputer(), StandardScaler(with_std=False)]),
                (["x3"], StandardScaler()),
                *categorical(FREQUENT, OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
            ),
            LOGIT,
        ),
    ),
    Case(
        "minmax-clip-multiclass",
        _pipe(
            mapper(
                *numeric(MEDIAN, MinMaxScaler(feature_range=(-1, 2), clip=True)),
                *categorical(FREQUENT, OHE_IGNORE),
            ),
            LOGIT,
        ),
        "multi",
    ),
    Case(
        "maxabs-robust-ridge",
        _pipe(
            mapper(
                (["x1", "x2"], [SimpleImputer(strategy="constant", fill_value=-1), MaxAbsScaler()]),
                (["x3"], [RobustScaler(with_centering=False)]),
                (["c2"], [OneHotEncoder(drop="first")]),
                (["c3"], [OneHotEncoder(drop="if_binary", sparse_output=False)]),
            ),
            Ridge(),
        ),
        "reg",
    ),
    Case(
        "robust-imputers-linear",
        _pipe(
            mapper(
                (["x1"], [SimpleImputer(strategy="most_frequent"), RobustScaler()]),
                (["x2"], [SimpleImputer(strategy="median"), RobustScaler(quantile_range=(10, 90))]),
                (["c1", "c2"], [SimpleImputer(strategy="constant"), OHE_IGNORE]),
            ),
            LinearRegression(),
        ),
        "reg",
    ),
    Case(
        "drop-array-error-unknown",
        _pipe(
            mapper(
                (["x1"], StandardScaler()),
                (["c1", "c2"], OneHotEncoder(drop=["red", "c"], handle_unknown="error")),
                (["c3"], OneHotEncoder(handle_unknown="error", sparse_output=False)),
            ),
            HistGradientBoostingClassifier(max_iter=20),
        ),
    ),
    Case(
        "ordinal-forest",
        _pipe(
            mapper(
                (["x1", "x2", "x3"], None),
                (
                    ["c1", "c2", "c3"],
                    OrdinalEncoder(
                        handle_unknown="use_encoded_value",
                        unknown_value=-1,
                        encoded_missing_value=-2,
                    ),
                ),
            ),
            RandomForestClassifier(n_estimators=10, random_state=0),
        ),
        "multi",
    ),
    Case(
        "label-binarizer-tree",
        _pipe(
            mapper(
                ("x1", None),
                ("c3", LabelBinarizer()),
                ("c2", LabelBinarizer()),
                (["c1"], [FREQUENT, LabelBinarizer()]),
            ),
            DecisionTreeClassifier(random_state=0),
        ),
    ),
    Case(
        "nested-pipelines",
        _pipe(
            mapper(
                (["x1", "x2"], make_pipeline(SimpleImputer(), make_pipeline(StandardScaler()))),
                (["x3"], Pipeline([("skip", "passthrough"), ("scale", MinMaxScaler())])),
                (["c1"], [make_pipeline(FREQUENT, make_pipeline(OHE_IGNORE, MaxAbsScaler()))]),
            ),
            LOGIT,
        ),
    ),
    Case(
        "numeric-categories",
        _pipe(
            mapper(
                (["x3"], OneHotEncoder(handle_unknown="ignore")),
                (
                    ["x2"],
                    [MEDIAN, OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)],
                ),
            ),
            LOGIT,
        ),
    ),
    Case(
        "sparse-mapper-output",
        _pipe(
            mapper(
                *numeric(SimpleImputer(), StandardScaler()),
                *categorical(FREQUENT, OHE_IGNORE, StandardScaler(with_mean=False)),
                sparse=True,
            ),
            LOGIT,
        ),
    ),
    Case(
        "later-steps",
        _pipe(ADULT_LIKE, StandardScaler(), PCA(n_components=4, random_state=0), LOGIT),
    ),
]


def _ct(*transformers: tuple, **options: object) -> ColumnTransformer:
    return ColumnTransformer(list(transformers), **options)


NUM_PIPE = make_pipeline(SimpleImputer(), StandardScaler())
CAT_PIPE = make_pipeline(FREQUENT, OHE_IGNORE)

CASES += [
    Case(
        "ct-gbm",
        _pipe(
            _ct(("num", NUM_PIPE, NUMERIC), ("cat", CAT_PIPE, CATEGORICAL)),
            GradientBoostingClassifier(n_estimators=20),
        ),
    ),
    Case(
        "ct-sparse-remainder",
        _pipe(
            _ct(
                ("cat", CAT_PIPE, CATEGORICAL),
                ("x2", make_pipeline(MEDIAN, MaxAbsScaler()), ["x2"]),
                remainder="passthrough",
                sparse_threshold=0.9,
            ),
            LOGIT,
        ),
        "multi",
    ),
    Case(
        "ct-drop-passthrough-weights",
        _pipe(
            _ct(
                ("scaled", make_pipeline(MEDIAN, MinMaxScaler()), ["x2"]),
                ("raw", "passthrough", ["x1", "x3"]),
                ("gone", "drop", ["c1"]),
                ("cat", OneHotEncoder(drop="first", sparse_output=False), ["c2", "c3"]),
                transformer_weights={"scaled": 2.0, "cat": 0.5},
            ),
            Ridge(),
        ),
        "reg",
    ),
    Case(
        "ct-pandas-output-ordinal",
        lambda: Pipeline(
            [
                (
                    "ct",
                    _ct(
                        ("num", NUM_PIPE, NUMERIC),
                        ("cat", OrdinalEncoder(), CATEGORICAL),
                        verbose_feature_names_out=False,
                    ).set_output(transform="pandas"),
                ),
                ("forest", RandomForestClassifier(n_estimators=10, random_state=0)),
            ]
        ),
    ),
    Case(
        "ct-remainder-estimator",
        _pipe(
            _ct(("cat", CAT_PIPE, CATEGORICAL), remainder=make_pipeline(MEDIAN, StandardScaler())),
            LOGIT,
        ),
    ),
]
