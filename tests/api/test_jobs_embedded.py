"""/jobs without Redis: chunks run on a thread pool inside the API, on PostgreSQL and SQLite."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pandas as pd
import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from api.app import create_app
from db import registry
from db.engine import make_engine
from settings import Settings
from tests.worker.helpers import NO_WAIT, cancel_active_jobs, wait_until_ended


def make_app(url: str) -> Flask:
    settings = Settings(database_url=url, redis_url=None, batch_chunk_rows=1_000)
    return create_app(
        {
            "SETTINGS": settings,
            "START_WATCHER": False,
            "TESTING": True,
            "JOB_RETRY_INTERVALS": NO_WAIT,
        }
    )


def close(app: Flask) -> None:
    app.extensions["skserve"].dispatcher.shutdown(wait=True)
    cancel_active_jobs(app.extensions["skserve"].engine)
    app.extensions["skserve"].engine.dispose()


@pytest.fixture(scope="module")
def pg_app(pg_url: str, adult_model, demo_tables) -> Iterator[Flask]:
    """An API on PostgreSQL with no REDIS_URL."""
    app = make_app(pg_url)
    yield app
    close(app)


@pytest.fixture
def sqlite_app(sqlite_url: str, pg_engine, adult_model, demo_tables) -> Iterator[Flask]:
    """An API on a fresh SQLite file holding the Adult model and 300 feature rows."""
    with Session(pg_engine) as session:
        record = registry.get_version(session, name="adult", version=adult_model.version)
        artifact = registry.get_artifact(session, name="adult", version=record.version)
    with pg_engine.connect() as connection:
        rows = pd.read_sql(sa.text("SELECT * FROM adult_features WHERE id <= 300"), connection)
    engine = make_engine(sqlite_url)
    with Session(engine) as session, session.begin():
        registry.register_version(
            session,
            name="adult",
            artifact=artifact,
            sha256=record.sha256,
            metadata=record.metadata(),
        )
        registry.promote(session, name="adult", version=1)
        rows.to_sql("adult_features", session.connection(), index=False)
    engine.dispose()
    app = make_app(sqlite_url)
    yield app
    close(app)


def ended(app: Flask, job_id: str):
    return wait_until_ended(app.extensions["skserve"].engine, job_id)


def results_csv(client, job_id: str) -> pd.DataFrame:
    data = client.get(f"/jobs/{job_id}/results?format=csv").data
    return pd.read_csv(io.BytesIO(data), dtype={"prediction": str})


def test_without_redis_jobs_run_inside_the_api(pg_app):
    client = pg_app.test_client()
    response = client.post("/jobs", json={"model": "adult", "source": {"id_range": [1, 3_500]}})
    assert response.status_code == 202

    job = ended(pg_app, response.get_json()["id"])

    assert (job.status, job.rows_done, job.chunks_done) == ("finished", 3_500, 4)
    assert results_csv(client, job.id)["id"].tolist() == list(range(1, 3_501))


def test_on_sqlite_too(sqlite_app, pg_app):
    client = sqlite_app.test_client()
    job_id = client.post("/jobs", json={"model": "adult", "chunk_rows": 128}).get_json()["id"]

    job = ended(sqlite_app, job_id)

    assert (job.status, job.rows_done, job.chunks_done) == ("finished", 300, 3)
    on_sqlite = results_csv(client, job_id)
    same_rows = pg_app.test_client().post(
        "/jobs", json={"model": "adult", "source": {"id_range": [1, 300]}}
    )
    on_postgres = results_csv(pg_app.test_client(), ended(pg_app, same_rows.get_json()["id"]).id)
    pd.testing.assert_frame_equal(on_sqlite, on_postgres)
    page = client.get(f"/jobs/{job_id}/results?limit=1").get_json()["results"][0]
    assert page["id"] == 1 and set(page["probabilities"]) == {"<=50K", ">50K"}


def test_csv_upload_on_sqlite(sqlite_app):
    client = sqlite_app.test_client()
    engine = sqlite_app.extensions["skserve"].engine
    with engine.connect() as connection:
        rows = pd.read_sql(sa.text("SELECT * FROM adult_features WHERE id <= 40"), connection)
    form = {"file": (io.BytesIO(rows.to_csv(index=False).encode()), "x.csv"), "model": "adult"}

    response = client.post("/jobs", data=form, content_type="multipart/form-data")

    assert response.status_code == 202, response.get_json()
    job = ended(sqlite_app, response.get_json()["id"])
    assert (job.status, job.rows_done) == ("finished", 40)
    assert len(results_csv(client, job.id)) == 40


@pytest.mark.parametrize("backend", ["pg_app", "sqlite_app"])
@pytest.mark.parametrize(
    ("text", "code", "fragment"),
    [
        ("age,workclass\n39,State-gov\n", "COLUMN_NOT_FOUND", "the uploaded CSV 'mine.csv'"),
        ("id,age\n1,39\n1,40\n", "INVALID_CSV", "CSV line 3"),
        ('age,workclass\n39,"unterminated\n', "INVALID_CSV", "CSV line"),
    ],
)
def test_a_refused_upload_names_the_file_and_leaves_no_table(
    request, backend, text, code, fragment
):
    app = request.getfixturevalue(backend)
    engine = app.extensions["skserve"].engine
    tables = set(sa.inspect(engine).get_table_names())
    form = {"file": (io.BytesIO(text.encode()), "mine.csv"), "model": "adult"}

    response = app.test_client().post("/jobs", data=form, content_type="multipart/form-data")

    body = response.get_json()
    assert (response.status_code, body["error_code"]) == (422, code)
    assert fragment in body["message"] and "batch_upload_" not in response.get_data(as_text=True)
    assert set(sa.inspect(engine).get_table_names()) == tables
