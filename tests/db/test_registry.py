"""Registering pipelines made elsewhere: validated first, nothing stored on failure."""

import cloudpickle
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from db import registry
from inference.compat import DataFrameMapper
from inference.inspection import InvalidPipelineError


def _frame(n=200):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=n), "c": rng.choice(["a", "b"], n)})
    return frame, (frame["x"] > 0).astype(int)


def _mapper_pipeline():
    mapper = DataFrameMapper(
        [(["x"], StandardScaler()), (["c"], OneHotEncoder(handle_unknown="ignore"))]
    )
    return Pipeline([("mapper", mapper), ("gb", GradientBoostingClassifier(n_estimators=5))])


def test_registers_a_fitted_mapper_pipeline_with_its_schema(pg_session):
    frame, y = _frame()
    data = cloudpickle.dumps(_mapper_pipeline().fit(frame, y))

    record = registry.register_pipeline(pg_session, name="external", data=data)

    assert record.version == 1
    features = {f["name"]: f for f in record.schema["features"]}
    assert features["x"]["kind"] == "numeric"
    assert (features["c"]["categories"], features["c"]["unknown"]) == (["a", "b"], "ignore")
    assert record.details["classes"] == [0, 1]


def test_registers_a_column_transformer_pipeline(pg_session):
    frame, y = _frame()
    transformer = ColumnTransformer(
        [("num", StandardScaler(), ["x"]), ("cat", OneHotEncoder(), ["c"])]
    )
    pipeline = Pipeline([("ct", transformer), ("lr", LogisticRegression())]).fit(frame, y)

    record = registry.register_pipeline(
        pg_session, name="external_ct", data=cloudpickle.dumps(pipeline)
    )

    kinds = {f["name"]: (f["kind"], f["unknown"]) for f in record.schema["features"]}
    assert kinds == {"x": ("numeric", "error"), "c": ("categorical", "error")}


@pytest.mark.parametrize(
    ("make_bytes", "message"),
    [
        (lambda: cloudpickle.dumps({"not": "a pipeline"}), "holds a dict, not a scikit-learn"),
        (lambda: cloudpickle.dumps(_mapper_pipeline()), "not fitted"),
        (lambda: cloudpickle.dumps(_mapper_pipeline().fit(*_frame()))[:500], "does not unpickle"),
        (lambda: b"garbage bytes", "does not unpickle"),
        (
            lambda: cloudpickle.dumps(
                GradientBoostingClassifier(n_estimators=2).fit(
                    np.arange(20).reshape(10, 2), [0, 1] * 5
                )
            ),
            "cannot tell which input features",
        ),
    ],
)
def test_rejects_bad_files_and_registers_nothing(pg_session, make_bytes, message):
    with pytest.raises(InvalidPipelineError, match=message):
        registry.register_pipeline(pg_session, name="rejected", data=make_bytes())
    assert registry.list_versions(pg_session, name="rejected") == []
