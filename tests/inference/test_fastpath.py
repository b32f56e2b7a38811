"""The compiled fast path is bit-identical to scikit-learn, or refuses to compile."""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    KBinsDiscretizer,
    OneHotEncoder,
    PolynomialFeatures,
    StandardScaler,
)

from inference.compat import DataFrameMapper
from inference.fastpath import (
    Unsupported,
    check_parity,
    columns_from_frame,
    columns_from_record,
    compile_pipeline,
    edge_rows,
    try_compile,
)
from tests.inference.fastpath_cases import (
    ADULT_LIKE,
    CASES,
    CATEGORICAL,
    NUMERIC,
    Case,
    make_frame,
    mapper,
)

FEATURES = NUMERIC + CATEGORICAL
ADULT_CSV = Path(__file__).resolve().parents[2] / "db" / "data" / "adult.csv.gz"
ADULT_NUMERIC = "age fnlwgt education_num capital_gain capital_loss hours_per_week".split()
ADULT_CATEGORICAL = (
    "workclass education marital_status occupation relationship race sex native_country".split()
)


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return make_frame()


def _fit(build: Pipeline, frame: pd.DataFrame, target: str = "binary") -> Pipeline:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return clone(build).fit(frame[FEATURES], frame[target])


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_compiled_pipeline_is_bit_identical(case: Case, frame: pd.DataFrame):
    pipeline = _fit(case.build(), frame, case.target)
    sample = make_frame(60, seed=1)[FEATURES]

    compiled, summary = try_compile(pipeline, sample, CATEGORICAL, NUMERIC)

    assert compiled is not None, summary
    assert summary.startswith("compiled: ") and "parity checked on" in summary
    assert check_parity(pipeline, compiled, edge_rows(sample, CATEGORICAL, NUMERIC)) is None
    matrix = compiled.transform(columns_from_frame(sample))
    assert matrix.dtype == np.float64 and matrix.flags["C_CONTIGUOUS"]


UNSUPPORTED = [
    ("function-transformer", [(["x1"], FunctionTransformer(np.log1p))], "FunctionTransformer"),
    (
        "polynomial",
        [(["x1", "x3"], [StandardScaler(), PolynomialFeatures()])],
        "PolynomialFeatures",
    ),
    ("indicator", [(["x2"], SimpleImputer(add_indicator=True))], "add_indicator"),
    (
        "infrequent",
        [(["c2"], OneHotEncoder(min_frequency=0.3, handle_unknown="infrequent_if_exist"))],
        "infrequent",
    ),
]


@pytest.mark.parametrize(
    ("features", "named"), [u[1:] for u in UNSUPPORTED], ids=[u[0] for u in UNSUPPORTED]
)
def test_unsupported_transformer_falls_back_with_reason(features, named, frame):
    pipeline = _fit(Pipeline([("mapper", mapper(*features)), ("m", LogisticRegression())]), frame)

    compiled, reason = try_compile(pipeline, frame[FEATURES], CATEGORICAL, NUMERIC)

    assert compiled is None
    assert named in reason and reason.startswith("step 'mapper': columns ")


def test_unsupported_in_column_transformer_names_step_and_transformer(frame):
    ct = ColumnTransformer([("bins", KBinsDiscretizer(n_bins=3), ["x1"])])
    pipeline = _fit(Pipeline([("prep", ct), ("m", LogisticRegression())]), frame)

    with pytest.raises(Unsupported, match=r"step 'prep': transformer 'bins': KBinsDiscretizer"):
        compile_pipeline(pipeline)


@pytest.mark.parametrize(
    "pipeline",
    [
        LogisticRegression(),
        Pipeline(
            [
                ("mapper", mapper((["x1"], StandardScaler()), default=None)),
                ("m", LogisticRegression()),
            ]
        ),
        Pipeline([("scale", StandardScaler()), ("m", LogisticRegression())]),
    ],
    ids=["not-a-pipeline", "mapper-default", "first-step-scaler"],
)
def test_other_shapes_are_refused_not_raised(pipeline, frame):
    compiled, reason = try_compile(pipeline, frame[FEATURES], CATEGORICAL, NUMERIC)

    assert compiled is None and reason


def test_unknown_category_raises_when_the_encoder_would(frame):
    features = [(["c2"], OneHotEncoder(handle_unknown="error"))]
    pipeline = _fit(Pipeline([("mapper", mapper(*features)), ("m", LogisticRegression())]), frame)
    compiled = compile_pipeline(pipeline)
    columns = columns_from_record({"c2": "zzz"}, NUMERIC)

    with pytest.raises(ValueError, match="unknown categor"):
        compiled.predict(columns)
    with pytest.raises(ValueError):
        pipeline.predict(pd.DataFrame(columns))


def test_single_record_matches_the_pipeline(frame):
    pipeline = _fit(Pipeline([("mapper", clone(ADULT_LIKE)), ("m", LogisticRegression())]), frame)
    compiled = compile_pipeline(pipeline)
    record = {"x1": 51.5, "x2": None, "x3": 3, "c1": None, "c2": "b", "c3": "zzz"}

    columns = columns_from_record(record, NUMERIC)

    assert columns["x2"].dtype == np.float64 and np.isnan(columns["x2"][0])
    assert columns["c1"].dtype == object and np.isnan(columns["c1"][0])
    expected = pipeline.predict_proba(pd.DataFrame(columns))
    assert np.array_equal(compiled.predict_proba(columns), expected)
    assert list(compiled.classes_) == list(pipeline.classes_)


def test_regressor_has_no_probabilities(frame):
    case = next(c for c in CASES if c.id == "maxabs-robust-ridge")
    compiled = compile_pipeline(_fit(case.build(), frame, case.target))

    assert compiled.predict_proba(columns_from_frame(frame.head(3))) is None
    assert compiled.classes_ is None


def test_estimator_fitted_on_named_columns_does_not_warn(frame):
    case = next(c for c in CASES if c.id == "ct-pandas-output-ordinal")
    pipeline = _fit(case.build(), frame)
    compiled = compile_pipeline(pipeline)

    assert hasattr(pipeline[-1], "feature_names_in_")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compiled.predict_proba(columns_from_frame(frame.head(5)))


def test_check_parity_reports_differences(frame):
    pipeline = _fit(Pipeline([("mapper", clone(ADULT_LIKE)), ("m", LogisticRegression())]), frame)
    shifted = frame.assign(x1=frame["x1"] + 1e-9)
    other = compile_pipeline(_fit(pipeline, shifted))

    reason = check_parity(pipeline, other, frame.head(40))

    assert reason is not None and "differ on" in reason and "of 40 rows" in reason


def test_edge_rows_cover_unknowns_nulls_and_extremes(frame):
    rows = edge_rows(frame[FEATURES], CATEGORICAL, NUMERIC)

    assert rows["x1"].dtype == np.float64
    assert (rows["c2"] == "__skserve_unseen_category__").any()
    assert rows[FEATURES].isna().all(axis=1).any()
    assert {1e12, -1e12, 0.0} <= set(rows["x3"])


@pytest.fixture(scope="module")
def adult() -> tuple[Pipeline, pd.DataFrame]:
    data = pd.read_csv(ADULT_CSV, nrows=4000)
    data[ADULT_NUMERIC] = data[ADULT_NUMERIC].astype(np.float64)
    features = [([c], [SimpleImputer(), StandardScaler()]) for c in ADULT_NUMERIC] + [
        ([c], [SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")])
        for c in ADULT_CATEGORICAL
    ]
    pipeline = Pipeline(
        [("mapper", DataFrameMapper(features)), ("m", GradientBoostingClassifier(n_estimators=20))]
    )
    pipeline.fit(data.iloc[:3000], data["income"].iloc[:3000])
    return pipeline, data.iloc[3000:][ADULT_NUMERIC + ADULT_CATEGORICAL]


def test_adult_pipeline_compiles_and_one_row_is_fast(adult):
    pipeline, sample = adult
    compiled, summary = try_compile(pipeline, sample.head(200), ADULT_CATEGORICAL, ADULT_NUMERIC)
    assert compiled is not None, summary
    record = sample.iloc[0].to_dict()
    columns = columns_from_record(record, ADULT_NUMERIC)
    frame = pd.DataFrame(columns)

    compiled_time = _median_seconds(lambda: compiled.transform(columns), 200)
    pipeline_time = _median_seconds(lambda: pipeline[:-1].transform(frame), 20)

    assert compiled_time * 10 < pipeline_time
    assert np.array_equal(compiled.predict_proba(columns), pipeline.predict_proba(frame))


def _median_seconds(function, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return float(np.median(times))
