"""MLflow's scoring protocol (/invocations, /ping, /version) through the Flask test client."""

from __future__ import annotations

import io
from dataclasses import replace

import pandas as pd
import pytest
from flask.testing import FlaskClient

from api.app import create_app
from tests.api.helpers import expected_answers, features_of
from tests.api.protocol_bodies import MLFLOW_FORMATS, mlflow_body


@pytest.mark.parametrize("shape", MLFLOW_FORMATS)
@pytest.mark.parametrize("path", ["/invocations", "/models/adult/invocations"])
def test_every_format_matches_the_native_route(
    client: FlaskClient, feature_rows: pd.DataFrame, reference_pipelines, shape: str, path: str
) -> None:
    frame = features_of(feature_rows)
    if shape == "instances_rows":  # rows without names follow the schema's order
        order = [t["name"] for t in client.get("/v2/models/adult").get_json()["inputs"]]
        frame = frame[order]
    response = client.post(path, json=mlflow_body(shape, frame))
    assert response.status_code == 200, response.get_json()
    native = client.post(
        "/models/adult/predict",
        json={"dataframe_split": mlflow_body("dataframe_split", frame)["dataframe_split"]},
    ).get_json()
    assert response.get_json() == {"predictions": native["predictions"]}
    pipeline = reference_pipelines("adult", native["version"])
    assert native["predictions"] == expected_answers(pipeline, frame)["predictions"]


def test_csv_and_probabilities(client: FlaskClient, feature_rows: pd.DataFrame) -> None:
    frame = features_of(feature_rows)
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    csv = client.post("/invocations", data=buffer.getvalue(), content_type="text/csv")
    assert csv.status_code == 200, csv.get_json()
    native = client.post("/models/adult/predict", data=buffer.getvalue(), content_type="text/csv")
    assert csv.get_json()["predictions"] == native.get_json()["predictions"]
    expected = [list(p.values()) for p in native.get_json()["probabilities"]]
    body = {
        **mlflow_body("dataframe_records", frame),
        "params": {"predict_method": "predict_proba"},
    }
    assert client.post("/invocations", json=body).get_json()["predictions"] == expected
    by_query = client.post(
        "/invocations?predict_method=predict_proba", json=mlflow_body("dataframe_records", frame)
    )
    assert by_query.get_json()["predictions"] == expected


def test_ping_and_version(client: FlaskClient) -> None:
    assert client.get("/ping").status_code == 200
    version = client.get("/version")
    assert version.status_code == 200 and version.get_data(as_text=True)


def test_ping_is_503_without_a_servable_model(api_settings) -> None:

    settings = replace(api_settings, default_model="not-registered")
    app = create_app({"SETTINGS": settings, "START_WATCHER": False, "PRELOAD_MODELS": False})
    try:
        response = app.test_client().get("/ping")
        assert response.status_code == 503
        assert "not-registered" in response.get_json()["message"]
    finally:
        app.extensions["skserve"].close()
