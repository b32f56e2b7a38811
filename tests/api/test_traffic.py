"""Canary and shadow versions in one process: the setting, routing, shadows, the comparison."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np
import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from api.traffic import in_canary
from db import registry
from db.tables import model_traffic, model_versions, prediction_feedback, prediction_log
from db.traffic import Traffic, set_traffic
from settings import Settings
from tests.api.helpers import RECORD, body_for, features_of
from tests.factories import small_adult_spec
from trainer.train import Promotion, train_model

TOKEN = "traffic-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
MODEL = "split"


@pytest.fixture(scope="module")
def traffic_app(pg_url, demo_tables, adult_spec) -> Iterator[Flask]:
    """Model `split` with v1 in production and v2, v3 registered (more trees each)."""
    from api.app import create_app

    for trees in (3, 6, 9):
        spec = small_adult_spec(adult_spec, MODEL, n_estimators=trees)
        train_model(demo_tables, spec, promotion=Promotion.NO)
    with Session(demo_tables) as session, session.begin():
        registry.promote(session, name=MODEL, version=1)
    settings = Settings(database_url=pg_url, admin_token=TOKEN, max_rows_per_request=50)
    app = create_app({"SETTINGS": settings, "START_WATCHER": False, "TESTING": True})
    yield app
    app.extensions["skserve"].close()


@pytest.fixture
def api(traffic_app: Flask) -> Iterator[FlaskClient]:
    """A client; the test starts and ends with v1 in production and no canary or shadow."""
    client = traffic_app.test_client()
    reset = {"production": 1, "canary": None, "shadow": []}
    assert client.put(f"/models/{MODEL}/traffic", json=reset, headers=ADMIN).status_code == 200
    yield client
    assert client.put(f"/models/{MODEL}/traffic", json=reset, headers=ADMIN).status_code == 200


def put(client: FlaskClient, body: object) -> tuple[int, dict]:
    response = client.put(f"/models/{MODEL}/traffic", json=body, headers=ADMIN)
    return response.status_code, response.get_json()


def drain(app: Flask) -> None:
    services = app.extensions["skserve"]
    services.shadows.drain()
    services.prediction_log.drain()


def test_put_sets_production_canary_and_shadow_at_once_and_get_shows_them(api, pg_engine):
    status, body = put(
        api, {"production": 2, "canary": {"version": 3, "percent": 10}, "shadow": [1]}
    )
    assert status == 200, body
    assert (body["production"], body["canary"], body["shadow"]) == (
        2,
        {"version": 3, "percent": 10.0},
        [1],
    )
    shown = api.get(f"/models/{MODEL}/traffic").get_json()
    assert shown["canary"] == {"version": 3, "percent": 10.0} and shown["shadow"] == [1]
    assert shown["this_process"]["shadow_queue"]["dropped"] == 0
    with pg_engine.connect() as conn:
        production = conn.scalar(
            sa.select(model_versions.c.version).where(
                model_versions.c.name == MODEL, model_versions.c.is_production
            )
        )
    assert production == 2


def test_promoting_the_canary_clears_it_and_promoting_another_keeps_it(api):
    put(api, {"canary": {"version": 3, "percent": 25}, "shadow": [2]})
    assert api.post(f"/models/{MODEL}/versions/2/promote", headers=ADMIN).status_code == 200
    shown = api.get(f"/models/{MODEL}/traffic").get_json()
    assert shown["production"] == 2 and shown["canary"] == {"version": 3, "percent": 25.0}
    assert shown["shadow"] == []  # the promoted shadow left its role
    assert api.post(f"/models/{MODEL}/versions/3/promote", headers=ADMIN).status_code == 200
    shown = api.get(f"/models/{MODEL}/traffic").get_json()
    assert (shown["production"], shown["canary"], shown["shadow"]) == (3, None, [])


def test_a_canary_or_shadow_version_cannot_be_deleted(api):
    put(api, {"canary": {"version": 3, "percent": 5}})
    response = api.delete(f"/models/{MODEL}/versions/3", headers=ADMIN)
    assert response.status_code == 409 and response.get_json()["error_code"] == "CONFLICT"


def test_the_canary_answers_its_share_and_production_shadows_it(api, traffic_app, pg_engine):
    put(api, {"canary": {"version": 2, "percent": 100}})
    request_id = f"canary-{uuid.uuid4().hex[:12]}"
    body = api.post(
        f"/models/{MODEL}/predict", json=RECORD, headers={"X-Request-ID": request_id}
    ).get_json()
    assert body["version"] == 2
    drain(traffic_app)
    assert logged_roles(pg_engine, request_id) == [(1, "shadow"), (2, "canary")]


def test_a_pinned_version_is_answered_by_itself(api, traffic_app, pg_engine):
    put(api, {"canary": {"version": 2, "percent": 100}, "shadow": [3]})
    request_id = f"pinned-{uuid.uuid4().hex[:12]}"
    response = api.post(
        f"/models/{MODEL}/predict?version=1", json=RECORD, headers={"X-Request-ID": request_id}
    )
    assert response.get_json()["version"] == 1
    v2 = api.post(f"/v2/models/{MODEL}/versions/3/infer", json=v2_body()).get_json()
    assert v2["model_version"] == "3"
    drain(traffic_app)
    assert logged_roles(pg_engine, request_id) == [(1, "pinned")]


def test_v2_and_mlflow_requests_are_routed_like_native_ones(api):
    put(api, {"canary": {"version": 3, "percent": 100}})
    assert api.post(f"/v2/models/{MODEL}/infer", json=v2_body()).get_json()["model_version"] == "3"
    put(api, {"canary": None})
    assert api.post(f"/v2/models/{MODEL}/infer", json=v2_body()).get_json()["model_version"] == "1"


def test_routing_is_sticky_by_key_and_near_the_percent():
    keys = [f"user-{i}" for i in range(20_000)]
    share = sum(in_canary(MODEL, key, 10) for key in keys) / len(keys)
    assert 0.09 < share < 0.11
    assert [in_canary(MODEL, k, 10) for k in keys[:500]] == [
        in_canary(MODEL, k, 10) for k in keys[:500]
    ]
    assert not any(in_canary(MODEL, k, 0) for k in keys[:500])
    assert all(in_canary(MODEL, k, 100) for k in keys[:500])


def test_shadow_outputs_are_logged_with_the_request_id_and_compared(
    api, traffic_app, pg_engine, feature_rows, reference_pipelines
):
    put(api, {"shadow": [3]})
    since = datetime.now(UTC)
    frame = features_of(feature_rows).head(30)
    request_ids = [f"cmp-{uuid.uuid4().hex[:12]}" for _ in range(3)]
    for i, request_id in enumerate(request_ids):
        content_type, data = body_for("records", frame.iloc[i * 10 : (i + 1) * 10])
        response = api.post(
            f"/models/{MODEL}/predict",
            data=data,
            headers={"X-Request-ID": request_id, "Content-Type": content_type},
        )
        assert response.status_code == 200 and response.get_json()["version"] == 1
    drain(traffic_app)
    assert logged_roles(pg_engine, request_ids[0]) == [(1, "production"), (3, "shadow")]

    labels = ["<=50K" if i % 3 else ">50K" for i in range(10)]
    with pg_engine.begin() as conn:
        conn.execute(
            prediction_feedback.insert(),
            [
                {
                    "model_name": MODEL,
                    "feedback_key": f"request:{request_ids[0]}:{row}",
                    "request_id": request_ids[0],
                    "row_index": row,
                    "label": label,
                }
                for row, label in enumerate(labels)
            ],
        )
    found = api.get(
        f"/models/{MODEL}/comparison?version=3&since={since.isoformat().replace('+00:00', 'Z')}"
    ).get_json()

    production, shadow = reference_pipelines(MODEL, 1), reference_pipelines(MODEL, 3)
    base, cand = production.predict(frame), shadow.predict(frame)
    difference = np.abs(production.predict_proba(frame) - shadow.predict_proba(frame)).mean()
    assert (found["requests"], found["rows"], found["production"]) == (3, 30, 1)
    assert found["agreement"] == pytest.approx(float(np.mean(base == cand)))
    assert found["mean_abs_probability_difference"] == pytest.approx(difference, abs=1e-9)
    assert found["labelled_rows"] == 10
    truth = np.array(labels)
    assert found["accuracy"]["production"] == pytest.approx(float(np.mean(base[:10] == truth)))
    assert found["accuracy"]["version"] == pytest.approx(float(np.mean(cand[:10] == truth)))


def test_a_version_that_fails_to_load_is_never_routed_to(api, traffic_app, pg_engine):
    store = traffic_app.extensions["skserve"].store
    with Session(pg_engine) as session, session.begin():
        good = registry.get_artifact(session, name=MODEL, version=3)
        session.execute(
            model_versions.update()
            .where(model_versions.c.name == MODEL, model_versions.c.version == 3)
            .values(artifact=b"not a pickle")
        )
        set_traffic(session, name=MODEL, wanted=Traffic(None, 3, 100.0, ()))
    store._loaded.pop((MODEL, 3), None)  # as a process that never loaded v3
    store._applied.pop(MODEL, None)
    try:
        store.refresh()
        assert store.traffic(MODEL).canary is None
        assert (MODEL, 3) in store.traffic_failures
        body = api.post(f"/models/{MODEL}/predict", json=RECORD).get_json()
        assert body["version"] == 1
        failures = api.get(f"/models/{MODEL}/traffic").get_json()["this_process"]
        assert failures["load_failures"][0]["version"] == 3
    finally:
        with Session(pg_engine) as session, session.begin():
            session.execute(model_traffic.delete().where(model_traffic.c.model_name == MODEL))
            session.execute(
                model_versions.update()
                .where(model_versions.c.name == MODEL, model_versions.c.version == 3)
                .values(artifact=good)
            )
        store.refresh()


BAD_TRAFFIC = [
    ("empty body", b"", 400, "INVALID_TRAFFIC"),
    ("not JSON", b"{canary", 400, "INVALID_JSON"),
    ("a list", b"[1, 2]", 400, "INVALID_TRAFFIC"),
    ("unknown field", b'{"canaries": []}', 400, "INVALID_TRAFFIC"),
    ("production as text", b'{"production": "2"}', 400, "INVALID_TRAFFIC"),
    ("production as bool", b'{"production": true}', 400, "INVALID_TRAFFIC"),
    ("unknown production", b'{"production": 99}', 404, "VERSION_NOT_FOUND"),
    ("unknown canary", b'{"canary": {"version": 42, "percent": 5}}', 404, "VERSION_NOT_FOUND"),
    ("unknown shadow", b'{"shadow": [77]}', 404, "VERSION_NOT_FOUND"),
    ("percent above 100", b'{"canary": {"version": 2, "percent": 101}}', 400, "INVALID_TRAFFIC"),
    ("percent below 0", b'{"canary": {"version": 2, "percent": -1}}', 400, "INVALID_TRAFFIC"),
    ("percent as text", b'{"canary": {"version": 2, "percent": "10"}}', 400, "INVALID_TRAFFIC"),
    ("percent missing", b'{"canary": {"version": 2}}', 400, "INVALID_TRAFFIC"),
    ("canary as number", b'{"canary": 2}', 400, "INVALID_TRAFFIC"),
    ("canary is production", b'{"canary": {"version": 1, "percent": 5}}', 400, "INVALID_TRAFFIC"),
    ("shadow is production", b'{"shadow": [1]}', 400, "INVALID_TRAFFIC"),
    (
        "shadow is canary",
        b'{"canary": {"version": 2, "percent": 5}, "shadow": [2]}',
        400,
        "INVALID_TRAFFIC",
    ),
    ("shadow twice", b'{"shadow": [2, 2]}', 400, "INVALID_TRAFFIC"),
    ("shadow not a list", b'{"shadow": 2}', 400, "INVALID_TRAFFIC"),
    ("shadow of text", b'{"shadow": ["2"]}', 400, "INVALID_TRAFFIC"),
    ("version zero", b'{"shadow": [0]}', 400, "INVALID_TRAFFIC"),
]


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [case[1:] for case in BAD_TRAFFIC],
    ids=[case[0] for case in BAD_TRAFFIC],
)
def test_malformed_traffic_gets_a_clear_4xx(api, raw, status, code):
    response = api.put(
        f"/models/{MODEL}/traffic",
        data=raw,
        headers={**ADMIN, "Content-Type": "application/json"},
    )
    assert (response.status_code, response.get_json()["error_code"]) == (status, code)
    assert response.get_json()["message"]
    assert api.get(f"/models/{MODEL}/traffic").get_json()["canary"] is None


BAD_REQUESTS = [
    ("no token", "PUT", f"/models/{MODEL}/traffic", {}, 401, "UNAUTHORIZED"),
    (
        "wrong token",
        "PUT",
        f"/models/{MODEL}/traffic",
        {"Authorization": "Bearer x"},
        403,
        "FORBIDDEN",
    ),
    ("unknown model", "GET", "/models/nope/traffic", {}, 404, "MODEL_NOT_FOUND"),
    ("unknown model put", "PUT", "/models/nope/traffic", ADMIN, 404, "MODEL_NOT_FOUND"),
    ("no version", "GET", f"/models/{MODEL}/comparison", {}, 400, "INVALID_PARAMETER"),
    ("bad version", "GET", f"/models/{MODEL}/comparison?version=x", {}, 400, "INVALID_VERSION"),
    (
        "unknown version",
        "GET",
        f"/models/{MODEL}/comparison?version=9",
        {},
        404,
        "VERSION_NOT_FOUND",
    ),
    ("production", "GET", f"/models/{MODEL}/comparison?version=1", {}, 400, "INVALID_PARAMETER"),
    (
        "bad since",
        "GET",
        f"/models/{MODEL}/comparison?version=2&since=yesterday",
        {},
        400,
        "INVALID_PARAMETER",
    ),
    (
        "since after until",
        "GET",
        f"/models/{MODEL}/comparison?version=2&since=2026-12-02&until=2026-12-01",
        {},
        400,
        "INVALID_PARAMETER",
    ),
    (
        "unknown model comparison",
        "GET",
        "/models/nope/comparison?version=2",
        {},
        404,
        "MODEL_NOT_FOUND",
    ),
]


@pytest.mark.parametrize(
    ("method", "url", "headers", "status", "code"),
    [case[1:] for case in BAD_REQUESTS],
    ids=[case[0] for case in BAD_REQUESTS],
)
def test_bad_traffic_and_comparison_requests_get_a_clear_4xx(
    api, method, url, headers, status, code
):
    body = b'{"shadow": [2]}' if method == "PUT" else None
    response = api.open(
        url, method=method, data=body, headers={**headers, "Content-Type": "application/json"}
    )
    assert (response.status_code, response.get_json()["error_code"]) == (status, code)


def logged_roles(engine: sa.Engine, request_id: str) -> list[tuple[int, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(prediction_log.c.model_version, prediction_log.c.role)
            .where(prediction_log.c.request_id == request_id)
            .order_by(prediction_log.c.model_version)
        )
        return [tuple(row) for row in rows]


def v2_body() -> dict:
    inputs = []
    for name, value in RECORD.items():
        datatype = "BYTES" if isinstance(value, str) else "INT64"
        inputs.append({"name": name, "shape": [1], "datatype": datatype, "data": [value]})
    return {"inputs": inputs}
