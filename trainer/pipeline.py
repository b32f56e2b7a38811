"""Build the sklearn-pandas pipeline a spec describes."""

from __future__ import annotations

from sklearn.base import BaseEstimator
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from inference.compat import DataFrameMapper
from trainer.spec import TrainingSpec


def build_mapper(spec: TrainingSpec) -> DataFrameMapper:
    """Numeric: median imputer + scaler; categorical: mode imputer + one-hot (unknowns ignored)."""
    numeric = [
        ([name], [SimpleImputer(strategy="median"), StandardScaler()]) for name in spec.numeric
    ]
    categorical = [
        (
            [name],
            [
                SimpleImputer(strategy="most_frequent"),
                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
            ],
        )
        for name in spec.categorical
    ]
    return DataFrameMapper(numeric + categorical, df_out=False)


def build_pipeline(spec: TrainingSpec, estimator: BaseEstimator) -> Pipeline:
    """The mapper followed by the estimator."""
    return Pipeline([("mapper", build_mapper(spec)), ("estimator", estimator)])
