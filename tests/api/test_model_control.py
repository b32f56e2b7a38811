"""Registry endpoints, admin auth, uploads, promotion, OpenAPI, request ids, prediction log."""

from __future__ import annotations

import hashlib
import io
import time
import uuid
from dataclasses import replace

import cloudpickle
import pytest
import sqlalchemy as sa
from openapi_spec_validator import validate
from rq import Queue, SimpleWorker
from sqlalchemy.orm import Session

from api.app import create_app
from db import registry
from db.tables import prediction_log
from tests.api.helpers import RECORD
from tests.conftest import TEST_REDIS_URL
from tests.factories import small_adult_spec
from trainer.pipeline import build_pipeline
from trainer.spec import make_estimator
from trainer.train import Promotion, train_model
from worker.context import JobContext, use_context

TOKEN = "s3cret-admin-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def control_model(demo_tables, adult_spec):
    """Model `control`, v1 in production; its own name so the tests may add versions."""
    spec = small_adult_spec(adult_spec, "control")
    train_model(demo_tables, spec, promotion=Promotion.ALWAYS)
    return spec


@pytest.fixture(scope="module")
def admin_client(api_settings, control_model):
    app = create_app(
        {
            "SETTINGS": replace(api_settings, admin_token=TOKEN),
            "START_WATCHER": False,
            "TESTING": True,
        }
    )
    yield app.test_client()
    app.extensions["skserve"].close()


def _versions(pg_engine, name):
    with Session(pg_engine) as session:
        return [(r.version, r.is_production) for r in registry.list_versions(session, name=name)]


def test_lists_models_with_versions_and_production(admin_client, control_model):
    body = admin_client.get("/models").get_json()
    control = next(m for m in body["models"] if m["name"] == "control")
    assert control["production_version"] == 1
    assert control["versions"][0]["version"] == 1 and control["versions"][0]["production"]


def test_shows_model_metadata(admin_client, control_model):
    body = admin_client.get("/models/control").get_json()
    assert body["version"] == 1 and body["production"] is True
    assert body["target"] == "income" and body["classes"] == ["<=50K", ">50K"]
    assert {f["name"] for f in body["features"]} == set(control_model.features)
    assert all(f["required"] for f in body["features"])
    assert body["pipeline_steps"][0]["class"].endswith("DataFrameMapper")
    assert body["estimator"].endswith("GradientBoostingClassifier")
    assert body["metrics"]["roc_auc"] > 0.5
    assert body["training_data"]["table"] == "adult_training"
    assert body["library_versions"]["scikit-learn"]
    assert body["fast_path"] is True and "parity checked" in body["fast_path_reason"]
    assert admin_client.get("/models/control/versions/1").get_json()["version"] == 1
    assert admin_client.get("/models/control/versions/99").get_json()["error_code"] == (
        "VERSION_NOT_FOUND"
    )


def test_artifact_download_carries_its_sha256(admin_client, control_model):
    response = admin_client.get("/models/control/versions/1/artifact")
    assert response.status_code == 200
    assert hashlib.sha256(response.data).hexdigest() == response.headers["X-Model-SHA256"]
    assert hasattr(cloudpickle.loads(response.data), "predict")


ADMIN_ENDPOINTS = [
    ("post", "/models/control/versions"),
    ("post", "/models/control/versions/1/promote"),
    ("post", "/models/control/train"),
    ("delete", "/models/control/versions/1"),
]


@pytest.mark.parametrize(("method", "path"), ADMIN_ENDPOINTS)
@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "UNAUTHORIZED"),
        ({"Authorization": "Bearer wrong"}, 403, "FORBIDDEN"),
        ({"Authorization": f"Basic {TOKEN}"}, 401, "UNAUTHORIZED"),
    ],
)
def test_admin_endpoints_refuse_missing_and_wrong_tokens(
    admin_client, method, path, headers, status, code
):
    response = getattr(admin_client, method)(path, headers=headers, data=b"x")
    assert (response.status_code, response.get_json()["error_code"]) == (status, code)


@pytest.mark.parametrize(("method", "path"), ADMIN_ENDPOINTS)
def test_admin_endpoints_are_disabled_without_a_configured_token(client, method, path):
    response = getattr(client, method)(path, headers=ADMIN, data=b"x")
    assert (response.status_code, response.get_json()["error_code"]) == (403, "FORBIDDEN")
    assert "ADMIN_TOKEN" in response.get_json()["message"]


def test_upload_rejects_garbage_and_unfitted_then_registers_a_valid_pipeline(
    admin_client, control_model, demo_tables, pg_engine
):
    unfitted = cloudpickle.dumps(build_pipeline(control_model, make_estimator(control_model)))
    garbage = admin_client.post("/models/uploaded/versions", headers=ADMIN, data=b"\x80garbage")
    not_fitted = admin_client.post(
        "/models/uploaded/versions",
        headers=ADMIN,
        data={"file": (io.BytesIO(unfitted), "pipeline.pkl")},
    )
    assert (garbage.status_code, garbage.get_json()["error_code"]) == (422, "INVALID_MODEL")
    assert "does not unpickle" in garbage.get_json()["message"]
    assert (not_fitted.status_code, not_fitted.get_json()["error_code"]) == (422, "INVALID_MODEL")
    assert "not fitted" in not_fitted.get_json()["message"]
    assert _versions(pg_engine, "uploaded") == []

    valid = admin_client.get("/models/control/versions/1/artifact").data
    created = admin_client.post(
        "/models/uploaded/versions",
        headers=ADMIN,
        data={"file": (io.BytesIO(valid), "pipeline.pkl")},
    )
    assert created.status_code == 201
    assert created.headers["Location"].endswith("/models/uploaded/versions/1")
    assert _versions(pg_engine, "uploaded") == [(1, False)]


def test_promote_switches_production_and_production_cannot_be_deleted(
    admin_client, control_model, demo_tables, pg_engine
):
    train_model(demo_tables, replace(control_model, name="promoted"), promotion=Promotion.ALWAYS)
    train_model(demo_tables, replace(control_model, name="promoted"))

    before = admin_client.post("/models/promoted/predict", json=RECORD).get_json()
    promoted = admin_client.post("/models/promoted/versions/2/promote", headers=ADMIN)
    after = admin_client.post("/models/promoted/predict", json=RECORD).get_json()
    refused = admin_client.delete("/models/promoted/versions/2", headers=ADMIN)
    deleted = admin_client.delete("/models/promoted/versions/1", headers=ADMIN)

    assert (before["version"], promoted.status_code, after["version"]) == (1, 200, 2)
    assert (refused.status_code, refused.get_json()["error_code"]) == (409, "CONFLICT")
    assert deleted.status_code == 204
    assert _versions(pg_engine, "promoted") == [(2, True)]


def test_training_on_demand_needs_redis(admin_client, control_model):
    response = admin_client.post("/models/control/train", headers=ADMIN)
    assert (response.status_code, response.get_json()["error_code"]) == (503, "SERVICE_UNAVAILABLE")
    assert "REDIS_URL" in response.get_json()["message"]


def test_training_on_demand_runs_on_a_real_worker(
    api_settings, control_model, redis_conn, pg_engine
):

    settings = replace(api_settings, admin_token=TOKEN, redis_url=TEST_REDIS_URL)
    app = create_app({"SETTINGS": settings, "START_WATCHER": False, "TESTING": True})
    try:
        client = app.test_client()
        queued = client.post("/models/control/train?promote=always", headers=ADMIN)
        assert queued.status_code == 202
        status_url = queued.get_json()["status_url"]
        assert client.get(status_url).get_json()["status"] == "queued"

        use_context(JobContext.from_settings(settings))
        SimpleWorker([Queue("train", connection=redis_conn)], connection=redis_conn).work(
            burst=True
        )
        done = client.get(status_url).get_json()
    finally:
        use_context(None)
        app.extensions["skserve"].close()
    assert done["status"] == "finished", done
    assert done["result"]["version"] == 2 and done["result"]["promoted"] is True
    assert _versions(pg_engine, "control")[-1] == (2, True)


def test_training_status_survives_a_redis_flush_and_names_only_training_runs(
    api_settings, control_model, redis_conn
):

    settings = replace(api_settings, admin_token=TOKEN, redis_url=TEST_REDIS_URL)
    app = create_app({"SETTINGS": settings, "START_WATCHER": False, "TESTING": True})
    try:
        client = app.test_client()
        queued = client.post("/models/control/train?promote=no", headers=ADMIN).get_json()
        redis_conn.flushdb()
        status = client.get(queued["status_url"])
        redis_conn.set("rq:job:chunk-x-0-1", "not a training run")
        other_model = client.get(f"/models/adult/train/{queued['job_id']}")
        not_a_run = client.get("/models/control/train/chunk-x-0-1")
    finally:
        app.extensions["skserve"].close()
    body = status.get_json()
    assert status.status_code == 200
    assert (body["status"], body["model"], body["promote"]) == ("queued", "control", "no")
    assert body["created_at"].endswith("+00:00") and body["finished_at"] is None
    assert (other_model.status_code, other_model.get_json()["error_code"]) == (404, "NOT_FOUND")
    assert (not_a_run.status_code, not_a_run.get_json()["error_code"]) == (404, "NOT_FOUND")


def test_openapi_document_validates_and_docs_are_served_locally(client):
    document = client.get("/openapi.json").get_json()
    validate(document)
    for path in ("/models/{name}/predict", "/jobs", "/models/{name}/versions/{version}/promote"):
        assert path in document["paths"]
    page = client.get("/docs")
    assert page.status_code == 200 and b"/docs/swagger-ui-bundle.js" in page.data
    assert b"https://" not in page.data
    asset = client.get("/docs/swagger-ui-bundle.js")
    assert asset.status_code == 200 and len(asset.data) > 100_000


def test_request_ids_are_echoed_or_generated(client):
    given = client.get("/health", headers={"X-Request-ID": "abc-123"})
    generated = client.get("/health")
    forged = client.get("/health", headers={"X-Request-ID": "bad id {with} spaces"})
    assert given.headers["X-Request-ID"] == "abc-123"
    assert len(generated.headers["X-Request-ID"]) == 32
    assert forged.headers["X-Request-ID"] != "bad id {with} spaces"
    error = client.get("/no/such/path", headers={"X-Request-ID": "err-1"})
    assert error.headers["X-Request-ID"] == "err-1"


def test_generated_request_ids_are_uuid7_in_time_order(client):
    first = client.get("/health").headers["X-Request-ID"]
    time.sleep(0.002)  # the next millisecond: ids within one share their time prefix
    later = [client.get("/health").headers["X-Request-ID"] for _ in range(20)]
    parsed = uuid.UUID(first)
    assert (parsed.version, parsed.variant) == (7, uuid.RFC_4122)
    assert abs(int(first[:12], 16) - time.time_ns() // 1_000_000) < 60_000
    assert all(first < other for other in later)
    assert len(set(later)) == len(later)


def test_predictions_are_logged_off_the_request_path(app, client, pg_engine):
    request_id = f"log-{time.time_ns()}"
    response = client.post(
        "/models/adult/predict", json=[RECORD, RECORD], headers={"X-Request-ID": request_id}
    )
    assert response.status_code == 200
    app.extensions["skserve"].prediction_log.drain()
    with pg_engine.begin() as conn:
        rows = (
            conn.execute(sa.select(prediction_log).where(prediction_log.c.request_id == request_id))
            .mappings()
            .all()
        )
        conn.execute(prediction_log.delete().where(prediction_log.c.request_id == request_id))
    assert len(rows) == 1
    row = rows[0]
    assert (row["model_name"], row["model_version"], row["rows"]) == ("adult", 1, 2)
    assert row["inputs"]["age"] == [39, 39]
    answer = response.get_json()
    assert row["outputs"]["predictions"] == answer["predictions"]
    assert row["outputs"]["probabilities"][">50K"] == [p[">50K"] for p in answer["probabilities"]]
    assert row["latency_ms"] > 0


def test_metrics_count_requests_predictions_and_errors(client):
    client.post("/models/adult/predict", json=RECORD)
    client.post("/models/adult/predict", json={"age": "x"})
    text = client.get("/metrics").get_data(as_text=True)
    assert (
        'skserve_http_requests_total{method="POST",route="/models/<name>/predict",status="200"}'
        in text
    )
    assert 'skserve_predictions_total{model="adult",version="1"}' in text
    assert 'skserve_errors_total{error_code="INVALID_INPUT"}' in text
    assert "skserve_http_request_duration_seconds_bucket" in text
    assert "skserve_batch_jobs" in text
