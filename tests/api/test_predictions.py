"""Online predictions through the Flask test client, checked against the in-process pipeline."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from db import registry
from inference.artifact import sha256_of
from tests.api.helpers import (
    FORMATS,
    assert_same_answers,
    body_for,
    expected_answers,
    features_of,
)

JSON = {"Accept": "application/json"}


@pytest.mark.parametrize("shape", FORMATS)
def test_every_format_matches_the_pipeline(
    client: FlaskClient, feature_rows: pd.DataFrame, reference_pipelines, shape: str
) -> None:
    frame = features_of(feature_rows)
    content_type, data = body_for(shape, frame)
    response = client.post("/models/adult/predict", data=data, content_type=content_type)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    pipeline = reference_pipelines(body["model"], body["version"])
    assert_same_answers(body, expected_answers(pipeline, frame))


def test_a_flat_record_matches_the_pipeline(
    client: FlaskClient, feature_rows: pd.DataFrame, reference_pipelines
) -> None:
    frame = features_of(feature_rows).iloc[[0]]
    record = json.loads(frame.to_json(orient="records"))[0]
    body = client.post("/models/adult/predict", json=record).get_json()
    assert_same_answers(
        body, expected_answers(reference_pipelines("adult", body["version"]), frame)
    )
    assert "warnings" not in body and "ids" not in body


def test_ids_answer_like_their_features(client: FlaskClient, feature_rows: pd.DataFrame) -> None:
    ids = feature_rows["id"].tolist()
    by_id = client.post("/models/adult/predict", json={"ids": ids}).get_json()
    content_type, data = body_for("split", features_of(feature_rows))
    by_features = client.post("/models/adult/predict", data=data, content_type=content_type)
    assert by_id["ids"] == ids and "not_found" not in by_id
    assert by_id["predictions"] == by_features.get_json()["predictions"]
    assert by_id["probabilities"] == by_features.get_json()["probabilities"]


def test_unknown_ids_are_null_and_listed(client: FlaskClient) -> None:
    body = client.post("/models/adult/predict", json={"ids": [2, 999999999, "1", 2]}).get_json()
    assert body["ids"] == [2, 999999999, 1, 2]
    assert body["predictions"][1] is None and body["probabilities"][1] is None
    assert body["predictions"][0] == body["predictions"][3] is not None
    assert body["not_found"] == [999999999]


def test_entity_endpoint(client: FlaskClient) -> None:
    one = client.get("/models/adult/entities/3/prediction")
    assert one.status_code == 200
    many = client.post("/models/adult/predict", json={"ids": [3]}).get_json()
    assert one.get_json() == many
    missing = client.get("/models/adult/entities/999999999/prediction")
    assert missing.status_code == 404
    assert missing.get_json()["error_code"] == "ENTITY_NOT_FOUND"


def test_query_string_row_is_coerced_by_the_schema(
    client: FlaskClient, feature_rows: pd.DataFrame
) -> None:
    row = features_of(feature_rows).iloc[0].to_dict()
    as_query = client.get("/models/adult/predict", query_string=row)
    as_json = client.post("/models/adult/predict", json=json.loads(json.dumps(row, default=int)))
    assert as_query.status_code == 200, as_query.get_json()
    assert as_query.get_json() == as_json.get_json()
    seed_alias = client.get("/", query_string=row)
    assert seed_alias.get_json() == as_json.get_json()


def test_seed_aliases_use_the_default_model(client: FlaskClient, feature_rows) -> None:
    content_type, data = body_for("split", features_of(feature_rows))
    direct = client.post("/models/adult/predict", data=data, content_type=content_type)
    for path in ("/predict", "/model/predict"):
        alias = client.post(path, data=data, content_type=content_type)
        assert alias.get_json() == direct.get_json()


def test_unknown_category_and_extra_fields_are_warnings(
    client: FlaskClient, feature_rows: pd.DataFrame
) -> None:
    record = json.loads(features_of(feature_rows).iloc[[0]].to_json(orient="records"))[0]
    record.update(native_country="Atlantis", favourite_colour="blue")
    body = client.post("/models/adult/predict", json=record).get_json()
    assert body["predictions"] and len(body["warnings"]) == 2
    assert "Atlantis" in body["warnings"][0] and "favourite_colour" in body["warnings"][1]


def test_every_invalid_feature_is_reported_at_once(
    client: FlaskClient, feature_rows: pd.DataFrame
) -> None:
    record = json.loads(features_of(feature_rows).iloc[[0]].to_json(orient="records"))[0]
    del record["age"]
    record.update(fnlwgt="abc", education_num=None, capital_gain=[1], sex=7)
    response = client.post("/models/adult/predict", json=[record])
    assert response.status_code == 422
    details = response.get_json()["details"]
    assert set(details) == {"age", "fnlwgt", "education_num", "capital_gain", "sex"}
    assert details["age"] == "No age provided"
    assert details["fnlwgt"] == "expected a number, got 'abc'"
    assert details["capital_gain"] == "expected a single value, got an array"


def test_version_pins_a_version(client: FlaskClient, adult_model) -> None:
    body = client.post(
        f"/models/adult/predict?version={adult_model.version}", json={"ids": [1]}
    ).get_json()
    assert body["version"] == adult_model.version


def test_model_and_download_aliases(client: FlaskClient, pg_engine, adult_model) -> None:

    described = client.get("/model").get_json()
    assert described["name"] == "adult" and described["classes"] == ["<=50K", ">50K"]
    assert [f["name"] for f in described["features"]][:2] == ["age", "fnlwgt"]
    assert described["pipeline_steps"][0]["class"].endswith("DataFrameMapper")
    assert described["estimator"].endswith("GradientBoostingClassifier")
    download = client.get("/model/download")
    assert download.status_code == 200
    assert download.headers["X-Model-SHA256"] == sha256_of(download.data)
    with Session(pg_engine) as session:
        stored = registry.get_artifact(session, name="adult", version=described["version"])
    assert download.data == stored
    assert "adult-v" in download.headers["Content-Disposition"]


def test_usage_has_examples_from_a_real_row(client: FlaskClient) -> None:
    usage = client.get("/usage", headers=JSON).get_json()
    assert usage["default_model"] == "adult"
    adult = next(m for m in usage["models"] if m["name"] == "adult")
    assert adult["example_entity_id"] == 1
    assert adult["example_row"]["workclass"] == "State-gov"
    assert "curl -s -X POST http://localhost/models/adult/predict" in adult["examples"]["split"]
    for key in ("split", "record", "query", "csv", "python", "ids", "entity", "seed_query"):
        assert adult["examples"][key]
    assert client.get("/", headers=JSON).get_json() == usage


def test_examples_in_usage_work(client: FlaskClient) -> None:
    usage = client.get("/usage", headers=JSON).get_json()
    adult = next(m for m in usage["models"] if m["name"] == "adult")
    row = adult["example_row"]
    split = {"columns": list(row), "data": [list(row.values())]}
    first = client.post("/models/adult/predict", json=split).get_json()
    csv_body = client.post(
        "/models/adult/predict", data=adult["examples"]["rows.csv"], content_type="text/csv"
    )
    by_id = client.get(f"/models/adult/entities/{adult['example_entity_id']}/prediction")
    assert csv_body.get_json() == first
    assert by_id.get_json()["predictions"] == first["predictions"]


def test_health_and_ready(client: FlaskClient) -> None:
    assert client.get("/health").get_json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 200
    checks = ready.get_json()["checks"]  # anonymous: which checks pass, not how
    assert checks == {name: {"ok": True} for name in ("database", "redis", "default_model")}


def test_csv_with_null_categories(client: FlaskClient, feature_rows, reference_pipelines) -> None:
    frame = features_of(feature_rows)
    nulls = frame[frame["workclass"].isna()]
    assert len(nulls), "the first stored rows include missing categories"
    buffer = io.StringIO()
    nulls.to_csv(buffer, index=False)
    body = client.post(
        "/models/adult/predict", data=buffer.getvalue(), content_type="text/csv"
    ).get_json()
    assert_same_answers(
        body, expected_answers(reference_pipelines("adult", body["version"]), nulls)
    )
