"""Shared by the API tests: request bodies in every format and the in-process reference."""

from __future__ import annotations

import io
import json
import warnings
from typing import Any

import numpy as np
import pandas as pd

# The first Adult row, as a client would send it.
RECORD = {
    "age": 39,
    "workclass": "State-gov",
    "fnlwgt": 77516,
    "education": "Bachelors",
    "education_num": 13,
    "marital_status": "Never-married",
    "occupation": "Adm-clerical",
    "relationship": "Not-in-family",
    "race": "White",
    "sex": "Male",
    "capital_gain": 2174,
    "capital_loss": 0,
    "hours_per_week": 40,
    "native_country": "United-States",
}
FORMATS = [
    "columnar",
    "split",
    "dataframe_split",
    "records",
    "records_key",
    "dataframe_records",
    "csv",
]


def features_of(rows: pd.DataFrame) -> pd.DataFrame:
    """Stored rows without their id, missing values as NaN (what JSON null and empty CSV mean)."""
    frame = rows.drop(columns=["id"]).reset_index(drop=True)
    return frame.astype(object).where(frame.notna(), np.nan).infer_objects()


def body_for(shape: str, frame: pd.DataFrame) -> tuple[str, str]:
    """(content type, body) sending `frame` in one of the accepted formats."""
    if shape == "csv":
        buffer = io.StringIO()
        frame.to_csv(buffer, index=False)
        return "text/csv", buffer.getvalue()
    split = json.loads(frame.to_json(orient="split", index=False))
    records = json.loads(frame.to_json(orient="records"))
    payloads: dict[str, Any] = {
        "columnar": {
            "data": {c: [row[i] for row in split["data"]] for i, c in enumerate(split["columns"])}
        },
        "split": split,
        "dataframe_split": {"dataframe_split": split},
        "records": records,
        "records_key": {"records": records},
        "dataframe_records": {"dataframe_records": records},
    }
    return "application/json", json.dumps(payloads[shape])


def expected_answers(pipeline: Any, frame: pd.DataFrame) -> dict[str, Any]:
    """What the pipeline itself answers for `frame`, in the API's JSON shape."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        predictions = pipeline.predict(frame)
        probabilities = pipeline.predict_proba(frame)
    classes = [str(c) for c in pipeline.classes_]
    return {
        "predictions": predictions.tolist(),
        "probabilities": [dict(zip(classes, row, strict=True)) for row in probabilities.tolist()],
    }


def assert_same_answers(body: dict[str, Any], expected: dict[str, Any]) -> None:
    """Predictions equal; probabilities equal to the last bit."""
    assert body["predictions"] == expected["predictions"]
    assert body["probabilities"] == expected["probabilities"]
