"""The app factory: default model resolution, MODEL_PATH, readiness, promotions, failures."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import cloudpickle
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from flask import Flask
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sqlalchemy.orm import Session

from api.app import create_app
from api.services import StartupError, register_model_file
from db import registry
from db.engine import make_engine, make_session_factory
from settings import Settings
from tests.api.helpers import RECORD
from tests.conftest import TEST_REDIS_URL


@pytest.fixture(scope="module")
def adult_bytes(pg_engine, adult_model) -> tuple[bytes, registry.VersionRecord]:
    """The Adult model's artifact and registry record, to copy into other databases."""
    with Session(pg_engine) as session:
        record = registry.get_version(session, name="adult", version=adult_model.version)
        return registry.get_artifact(session, name="adult", version=record.version), record


def copy_model(url: str, adult_bytes, name: str, promote: bool = True) -> int:
    """Register the Adult artifact under `name` in the database at `url`."""
    data, record = adult_bytes
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        new = registry.register_version(
            session, name=name, artifact=data, sha256=record.sha256, metadata=record.metadata()
        )
        if promote:
            registry.promote(session, name=name, version=new.version)
    engine.dispose()
    return new.version


def make_app(url: str, **settings: object) -> Flask:
    """A quick app: no preloading, no watcher, no compiled path (loads in well under a second)."""
    values = {"database_url": url, "fast_path": False, **settings}
    return create_app(
        {"SETTINGS": Settings(**values), "START_WATCHER": False, "PRELOAD_MODELS": False}
    )


def test_the_only_model_is_the_default(sqlite_url: str, adult_bytes) -> None:
    copy_model(sqlite_url, adult_bytes, "solo")
    client = make_app(sqlite_url).test_client()
    body = client.post("/predict", json=RECORD).get_json()
    assert (body["model"], body["version"]) == ("solo", 1)
    assert client.get("/model").get_json()["name"] == "solo"


def test_two_models_and_no_default_is_not_ready(sqlite_url: str, adult_bytes) -> None:
    copy_model(sqlite_url, adult_bytes, "one")
    copy_model(sqlite_url, adult_bytes, "two")
    client = make_app(sqlite_url).test_client()
    response = client.post("/predict", json=RECORD)
    assert response.status_code == 503
    error = response.get_json()
    assert error["error_code"] == "MODEL_NOT_READY" and "DEFAULT_MODEL" in error["message"]
    assert error["details"] == {"models": ["one", "two"]}
    assert client.post("/models/two/predict", json=RECORD).status_code == 200
    ready = client.get("/ready")
    assert ready.status_code == 503 and "default_model" in ready.get_json()["message"]


def test_a_model_without_production_version_is_not_ready(sqlite_url: str, adult_bytes) -> None:
    copy_model(sqlite_url, adult_bytes, "draft", promote=False)
    client = make_app(sqlite_url, default_model="draft").test_client()
    response = client.post("/predict", json=RECORD)
    assert response.status_code == 503
    assert response.get_json()["error_code"] == "MODEL_NOT_READY"
    assert "promote" in response.get_json()["message"]
    assert client.post("/predict?version=1", json=RECORD).status_code == 200


def test_model_path_is_registered_once_and_promoted(
    sqlite_url: str, adult_bytes, tmp_path: Path
) -> None:
    path = tmp_path / "pipeline.pkl"
    path.write_bytes(adult_bytes[0])
    for _ in range(2):  # a restart must not register the same file again
        client = make_app(sqlite_url, model_path=str(path)).test_client()
        body = client.post("/predict", json=RECORD).get_json()
        assert (body["model"], body["version"]) == ("default", 1)
    engine = make_engine(sqlite_url)
    with Session(engine) as session:
        versions = registry.list_versions(session, name="default")
    engine.dispose()
    assert [(v.version, v.is_production) for v in versions] == [(1, True)]
    assert versions[0].details["registered_from"] == f"MODEL_PATH {path}"
    ids = client.post("/predict", json={"ids": [1]})
    assert ids.status_code == 400 and ids.get_json()["error_code"] == "NO_FEATURE_TABLE"


def test_model_path_uses_default_model_as_its_name(
    sqlite_url: str, adult_bytes, tmp_path: Path
) -> None:
    path = tmp_path / "pipeline.pkl"
    path.write_bytes(adult_bytes[0])
    client = make_app(sqlite_url, model_path=str(path), default_model="seed").test_client()
    assert client.post("/predict", json=RECORD).get_json()["model"] == "seed"


def test_model_path_that_cannot_be_used_fails_at_start(sqlite_url: str, tmp_path: Path) -> None:
    with pytest.raises(StartupError, match="cannot be read"):
        make_app(sqlite_url, model_path=str(tmp_path / "missing.pkl"))
    junk = tmp_path / "junk.pkl"
    junk.write_bytes(b"not a pickle")
    with pytest.raises(StartupError, match="cannot be registered"):
        make_app(sqlite_url, model_path=str(junk))


def test_workers_racing_on_model_path_register_one_version(
    pg_url: str, adult_bytes, tmp_path: Path
) -> None:
    name = f"race_{uuid.uuid4().hex[:8]}"
    path = tmp_path / "pipeline.pkl"
    path.write_bytes(adult_bytes[0])
    engine = make_engine(pg_url)
    sessions = make_session_factory(engine)
    barrier, failures = threading.Barrier(3), []

    def start_worker() -> None:
        barrier.wait()
        try:
            register_model_file(sessions, str(path), name)
        except Exception as exc:  # the test asserts there are none
            failures.append(exc)

    threads = [threading.Thread(target=start_worker) for _ in range(3)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with sessions() as session:
            versions = registry.list_versions(session, name=name)
        assert failures == []
        assert [(v.version, v.is_production) for v in versions] == [(1, True)]
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text("DELETE FROM model_versions WHERE name = :n"), {"n": name})
        engine.dispose()


def test_unknown_category_is_rejected_when_the_encoder_cannot_ignore_it(
    sqlite_url: str, tmp_path: Path
) -> None:
    frame = pd.DataFrame({"x": np.arange(40.0), "c": ["a", "b"] * 20})
    encoder = ColumnTransformer([("x", StandardScaler(), ["x"]), ("c", OneHotEncoder(), ["c"])])
    pipeline = Pipeline([("ct", encoder), ("lr", LogisticRegression())])
    path = tmp_path / "strict.pkl"
    path.write_bytes(cloudpickle.dumps(pipeline.fit(frame, frame["x"] > 20)))
    client = make_app(sqlite_url, model_path=str(path), default_model="strict").test_client()
    assert client.post("/predict", json={"x": 1.0, "c": "a"}).status_code == 200
    response = client.post("/predict", json={"x": 1.0, "c": "z"})
    assert response.status_code == 422
    assert "unknown category 'z'" in response.get_json()["details"]["c"]


def test_ready_pings_redis_when_configured(sqlite_url: str, adult_bytes, redis_conn) -> None:
    copy_model(sqlite_url, adult_bytes, "adult")
    admin = {"Authorization": "Bearer ready-admin"}
    app = make_app(sqlite_url, redis_url=TEST_REDIS_URL, admin_token="ready-admin")
    ready = app.test_client().get("/ready", headers=admin)
    assert ready.status_code == 200
    assert ready.get_json()["checks"]["redis"] == {"ok": True, "detail": "ping ok"}
    down = make_app(sqlite_url, redis_url="redis://127.0.0.1:1/0").test_client().get("/ready")
    assert down.status_code == 503
    error = down.get_json()
    assert error["error_code"] == "NOT_READY" and "redis" in error["message"]
    assert error["details"]["checks"]["database"]["ok"]


def test_a_database_that_is_down_is_reported_not_raised() -> None:
    client = make_app("postgresql+psycopg2://postgres@127.0.0.1:1/none").test_client()
    assert client.get("/health").status_code == 200
    ready = client.get("/ready")
    assert ready.status_code == 503
    checks = ready.get_json()["details"]["checks"]
    assert not checks["database"]["ok"] and not checks["default_model"]["ok"]
    response = client.post("/models/adult/predict", json=RECORD)
    assert response.status_code == 503
    assert response.get_json()["error_code"] == "SERVICE_UNAVAILABLE"


def test_a_promotion_is_served_without_restart(sqlite_url: str, adult_bytes) -> None:
    copy_model(sqlite_url, adult_bytes, "live")
    settings = Settings(database_url=sqlite_url, fast_path=False, model_poll_seconds=0.1)
    app = create_app({"SETTINGS": settings})
    client = app.test_client()
    try:
        assert client.post("/models/live/predict", json=RECORD).get_json()["version"] == 1
        copy_model(sqlite_url, adult_bytes, "live")  # v2, promoted
        deadline = time.monotonic() + 2.0
        while client.post("/models/live/predict", json=RECORD).get_json()["version"] != 2:
            assert time.monotonic() < deadline, "v2 not served within 2 s"
            time.sleep(0.05)
    finally:
        app.extensions["skserve"].close()
