"""Open Inference Protocol and MLflow request bodies built from a frame of feature rows."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd


def v2_columns(frame: pd.DataFrame, *, shape_2d: bool = False) -> dict[str, Any]:
    """One tensor per feature (FP64 for numbers, BYTES for strings), flat data."""
    records = json.loads(frame.to_json(orient="split", index=False))
    inputs = []
    for j, name in enumerate(records["columns"]):
        values = [row[j] for row in records["data"]]
        numeric = pd.api.types.is_numeric_dtype(frame[name])
        shape = [len(values), 1] if shape_2d else [len(values)]
        datatype = "FP64" if numeric else "BYTES"
        inputs.append({"name": name, "shape": shape, "datatype": datatype, "data": values})
    return {"inputs": inputs}


def v2_matrix(frame: pd.DataFrame, *, named: bool, nested: bool) -> dict[str, Any]:
    """One 2-D BYTES tensor of every value as text; columns named in parameters or by order."""
    rows = [[None if pd.isna(v) else str(v) for v in row] for row in frame.itertuples(index=False)]
    data: list[Any] = rows if nested else [v for row in rows for v in row]
    tensor: dict[str, Any] = {
        "name": "input-0",
        "shape": [len(rows), frame.shape[1]],
        "datatype": "BYTES",
        "data": data,
    }
    if named:
        tensor["parameters"] = {"columns": list(frame.columns)}
    return {"inputs": [tensor]}


def mlflow_body(shape: str, frame: pd.DataFrame) -> dict[str, Any]:
    """Each JSON input format `mlflow models serve` takes."""
    split = json.loads(frame.to_json(orient="split", index=False))
    records = json.loads(frame.to_json(orient="records"))
    columns = {c: [row[j] for row in split["data"]] for j, c in enumerate(split["columns"])}
    return {
        "dataframe_split": {"dataframe_split": split},
        "dataframe_records": {"dataframe_records": records},
        "instances": {"instances": records},
        "instances_rows": {"instances": split["data"]},
        "inputs": {"inputs": columns},
        "inputs_records": {"inputs": records},
    }[shape]


MLFLOW_FORMATS = [
    "dataframe_split",
    "dataframe_records",
    "instances",
    "instances_rows",
    "inputs",
    "inputs_records",
]
