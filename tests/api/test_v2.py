"""The Open Inference Protocol (V2) routes through the Flask test client."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from db.tables import prediction_log
from tests.api.helpers import RECORD, expected_answers, features_of
from tests.api.protocol_bodies import v2_columns, v2_matrix

LAYOUTS = {
    "columns": lambda f: v2_columns(f),
    "columns_n_by_1": lambda f: v2_columns(f, shape_2d=True),
    "matrix_named_flat": lambda f: v2_matrix(f, named=True, nested=False),
    "matrix_ordered_nested": lambda f: v2_matrix(f, named=False, nested=True),
}


def proba_of(body: dict) -> np.ndarray:
    """predict_proba as an [n, k] array, from its flat data and shape."""
    output = next(o for o in body["outputs"] if o["name"] == "predict_proba")
    return np.array(output["data"], dtype=np.float64).reshape(output["shape"])


def predict_of(body: dict) -> list:
    """The predict output's data."""
    return next(o for o in body["outputs"] if o["name"] == "predict")["data"]


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_infer_matches_the_pipeline(
    client: FlaskClient, feature_rows: pd.DataFrame, reference_pipelines, layout: str
) -> None:
    # An unnamed 2-D tensor follows the model's input order, as its metadata lists it.
    order = [t["name"] for t in client.get("/v2/models/adult").get_json()["inputs"]]
    frame = features_of(feature_rows)[order]
    payload = {"id": "req-7", **LAYOUTS[layout](frame)}
    response = client.post("/v2/models/adult/infer", json=payload)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    pipeline = reference_pipelines(body["model_name"], int(body["model_version"]))
    expected = expected_answers(pipeline, frame)
    assert body["id"] == "req-7"
    assert predict_of(body) == expected["predictions"]
    proba = next(o for o in body["outputs"] if o["name"] == "predict_proba")
    assert proba["shape"] == [len(frame), 2]
    assert proba["parameters"]["classes"] == ["<=50K", ">50K"]
    classes = proba["parameters"]["classes"]
    rows = [dict(zip(classes, row, strict=True)) for row in proba_of(body).tolist()]
    assert rows == expected["probabilities"]


def test_outputs_select_predict_only(client: FlaskClient) -> None:
    payload = {**v2_columns(pd.DataFrame([RECORD])), "outputs": [{"name": "predict"}]}
    body = client.post("/v2/models/adult/versions/1/infer", json=payload).get_json()
    assert [o["name"] for o in body["outputs"]] == ["predict"]
    assert body["outputs"][0]["datatype"] == "BYTES"
    assert "id" not in body


def test_integer_and_bool_datatypes_are_read(client: FlaskClient) -> None:
    payload = v2_columns(pd.DataFrame([RECORD]))
    for tensor in payload["inputs"]:
        if tensor["datatype"] == "FP64":
            tensor["datatype"] = "INT32"
    payload["inputs"][-2] = {
        "name": "hours_per_week",
        "shape": [1],
        "datatype": "BOOL",
        "data": [True],
    }
    response = client.post("/v2/models/adult/infer", json=payload)
    assert response.status_code == 200, response.get_json()


def test_server_and_model_metadata(client: FlaskClient) -> None:
    server = client.get("/v2").get_json()
    assert server["name"] == "skserve" and server["extensions"] == []
    assert client.get("/v2/health/live").get_json() == {"live": True}
    assert client.get("/v2/health/ready").get_json() == {"ready": True}
    meta = client.get("/v2/models/adult").get_json()
    assert meta["platform"] == "sklearn" and "1" in meta["versions"]
    assert {"name": "age", "datatype": "FP64", "shape": [-1]} in meta["inputs"]
    assert {"name": "workclass", "datatype": "BYTES", "shape": [-1]} in meta["inputs"]
    assert [o["name"] for o in meta["outputs"]] == ["predict", "predict_proba"]
    assert client.get("/v2/models/adult/versions/1").status_code == 200
    assert client.get("/v2/models/adult/ready").get_json()["ready"] is True
    assert client.get("/v2/models/adult/versions/1/ready").status_code == 200


def test_unknown_model_and_version_are_404_in_the_protocol_shape(client: FlaskClient) -> None:
    for path in ("/v2/models/nope", "/v2/models/nope/ready", "/v2/models/adult/versions/99/ready"):
        response = client.get(path)
        assert response.status_code == 404
        assert "error" in response.get_json()


def test_validation_names_every_feature(client: FlaskClient) -> None:
    payload = v2_columns(pd.DataFrame([RECORD]))
    payload["inputs"] = [t for t in payload["inputs"] if t["name"] not in ("age", "sex")]
    response = client.post("/v2/models/adult/infer", json=payload)
    assert response.status_code == 400
    body = response.get_json()
    assert "age" in body["error"] and "sex" in body["error"]
    assert set(body["details"]) == {"age", "sex"}
    assert body["error_code"] == "INVALID_INPUT"


@pytest.mark.parametrize(
    ("path", "payload", "protocol"),
    [
        ("/v2/models/adult/infer", v2_columns(pd.DataFrame([RECORD, RECORD])), "v2"),
        ("/invocations", {"dataframe_records": [RECORD, RECORD]}, "mlflow"),
    ],
)
def test_logged_and_counted_with_the_protocol(app, client, pg_engine, path, payload, protocol):
    request_id = f"{protocol}-{time.time_ns()}"
    response = client.post(path, json=payload, headers={"X-Request-ID": request_id})
    assert response.status_code == 200
    app.extensions["skserve"].prediction_log.drain()
    with pg_engine.begin() as conn:
        query = sa.select(prediction_log).where(prediction_log.c.request_id == request_id)
        rows = conn.execute(query).mappings().all()
        conn.execute(prediction_log.delete().where(prediction_log.c.request_id == request_id))
    assert len(rows) == 1 and rows[0]["rows"] == 2
    assert rows[0]["outputs"]["protocol"] == protocol
    assert rows[0]["outputs"]["predictions"] == ["<=50K", "<=50K"]
    metrics = client.get("/metrics").get_data(as_text=True)
    assert f'route="{path.replace("adult", "<name>")}",status="200"' in metrics
