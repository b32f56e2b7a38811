"""sklearn-pandas works on the newest scikit-learn through the compatibility module."""

import numpy as np
import pandas as pd
import sklearn
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from inference import compat


def _frame(n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "color": rng.choice(["red", "green", "blue"], size=n),
            "y": rng.integers(0, 2, size=n),
        }
    )


def test_tosequence_is_restored_only_when_missing():
    assert hasattr(sklearn.utils, "tosequence")
    assert compat.sklearn_pandas.__version__ == "2.2.0"


def test_dataframe_mapper_pipeline_fits_predicts_and_round_trips():
    frame = _frame()
    mapper = compat.DataFrameMapper(
        [
            (["x"], [SimpleImputer(), StandardScaler()]),
            (["color"], [OneHotEncoder(handle_unknown="ignore")]),
        ]
    )
    pipeline = Pipeline([("mapper", mapper), ("clf", GradientBoostingClassifier(n_estimators=5))])
    pipeline.fit(frame[["x", "color"]], frame["y"])
    before = pipeline.predict_proba(frame[["x", "color"]])

    restored = compat.loads(compat.dumps(pipeline))

    assert np.array_equal(restored.predict_proba(frame[["x", "color"]]), before)
    assert set(restored.predict(frame[["x", "color"]])) <= {0, 1}
