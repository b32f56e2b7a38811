"""/jobs over HTTP with Redis: submit (JSON and CSV upload), status, results, cancel, errors."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pandas as pd
import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from rq import Queue

from api.app import create_app
from db.job_results import stream_results_csv
from settings import Settings
from tests.conftest import TEST_REDIS_URL
from tests.worker.helpers import NO_WAIT, cancel_active_jobs, get_job, reference_predictions
from worker.context import JobContext
from worker.main import BatchWorker

TOKEN = "jobs-admin"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def jobs_app(pg_url: str, adult_model, demo_tables) -> Iterator[Flask]:
    """An app on the test database and the test Redis index; chunk retries do not wait."""
    settings = Settings(
        database_url=pg_url, redis_url=TEST_REDIS_URL, batch_chunk_rows=1_000, admin_token=TOKEN
    )
    app = create_app(
        {
            "SETTINGS": settings,
            "START_WATCHER": False,
            "TESTING": True,
            "JOB_RETRY_INTERVALS": NO_WAIT,
        }
    )
    yield app
    cancel_active_jobs(app.extensions["skserve"].engine)
    app.extensions["skserve"].engine.dispose()


@pytest.fixture
def client(jobs_app: Flask, redis_conn) -> FlaskClient:
    """A test client; Redis is flushed around each test."""
    return jobs_app.test_client()


@pytest.fixture
def run_worker(jobs_app: Flask, redis_conn):
    """Runs a real RQ worker in this process until the batch queue is empty."""
    svc = jobs_app.extensions["skserve"]
    context = JobContext(svc.settings, svc.engine, svc.sessions, svc.store)

    def run() -> None:
        queue = Queue("batch", connection=redis_conn)
        BatchWorker([queue], connection=redis_conn, context=context, intervals=NO_WAIT).work(
            burst=True, with_scheduler=False
        )

    return run


@pytest.fixture
def engine(jobs_app: Flask) -> sa.Engine:
    """The app's engine."""
    return jobs_app.extensions["skserve"].engine


def read_csv(data: bytes) -> pd.DataFrame:
    """A results CSV, predictions as text."""
    return pd.read_csv(io.BytesIO(data), dtype={"prediction": str})


def csv_upload(frame: pd.DataFrame, **form: str) -> dict:
    """A multipart body with the frame as the CSV `file`."""
    data = frame.to_csv(index=False).encode()
    return {"file": (io.BytesIO(data), "rows.csv"), "model": "adult", **form}


def test_submit_poll_and_read_results(client, run_worker, engine, redis_conn):
    response = client.post("/jobs", json={"model": "adult", "source": {"id_range": [1, 2_500]}})

    assert response.status_code == 202
    job = response.get_json()
    assert response.headers["Location"] == f"/jobs/{job['id']}"
    assert (job["status"], job["rows_total"], job["chunks_total"]) == ("queued", 2_500, 3)
    assert job["source"] == {
        "kind": "id_range",
        "table": "adult_features",
        "id_column": "id",
        "id_range": [1, 2_500],
    }
    assert Queue("batch", connection=redis_conn).count == 3

    run_worker()
    status = client.get(job["links"]["self"]).get_json()
    assert (status["status"], status["rows_done"], status["chunks_done"]) == ("finished", 2_500, 3)
    assert status["rows_per_second"] > 0 and status["error"] is None
    assert status["started_at"] <= status["finished_at"]

    results = client.get(f"/jobs/{job['id']}/results?format=csv")
    assert results.mimetype == "text/csv"
    frame = read_csv(results.data)
    assert list(frame.columns) == ["id", "prediction", "probability_<=50K", "probability_>50K"]
    assert frame["id"].tolist() == list(range(1, 2_501))
    record = get_job(engine, job["id"])
    reference = reference_predictions(engine, record, "adult_features", list(range(1, 2_501)))
    assert frame["prediction"].tolist() == reference.tolist()
    assert (frame["probability_<=50K"] + frame["probability_>50K"]).round(9).eq(1).all()


def test_json_results_are_pages_in_id_order(client, run_worker):
    job = client.post("/jobs", json={"model": "adult", "source": {"ids": [9, 3, 7, 5, 1]}})
    job_id = job.get_json()["id"]
    run_worker()

    first = client.get(f"/jobs/{job_id}/results?limit=2").get_json()
    assert [row["id"] for row in first["results"]] == [1, 3]
    assert first["total"] == 5 and first["classes"] == ["<=50K", ">50K"]
    assert set(first["results"][0]) == {"id", "prediction", "probabilities"}
    assert first["results"][0]["prediction"] in ("<=50K", ">50K")
    assert sum(first["results"][0]["probabilities"].values()) == pytest.approx(1)
    second = client.get(first["next"]).get_json()
    third = client.get(second["next"]).get_json()
    assert [row["id"] for row in second["results"] + third["results"]] == [5, 7, 9]
    assert third["next"] is None
    accept_csv = client.get(f"/jobs/{job_id}/results", headers={"Accept": "text/csv"})
    assert accept_csv.data.decode().splitlines()[1].startswith("1,")


def test_csv_upload_of_10000_rows_gives_10000_result_lines(client, run_worker, engine):
    with engine.connect() as connection:
        rows = pd.read_sql(sa.text("SELECT * FROM adult_features WHERE id <= 10000"), connection)
    upload = rows.drop(columns=["id"]).sample(frac=1, random_state=0)  # no id column: numbered

    response = client.post("/jobs", data=csv_upload(upload), content_type="multipart/form-data")
    assert response.status_code == 202, response.get_json()
    job = response.get_json()
    assert job["source"]["kind"] == "upload"
    assert job["source"]["upload"] == {"filename": "rows.csv", "rows": 10_000}
    run_worker()

    results = client.get(f"/jobs/{job['id']}/results?format=csv")
    lines = results.data.decode().splitlines()
    assert len(lines) == 10_001
    frame = read_csv(results.data)
    assert frame["id"].tolist() == list(range(1, 10_001))  # file order
    expected = reference_predictions(engine, get_job(engine, job["id"]), "adult_features")
    by_position = expected.loc[upload.index + 1].tolist()  # adult_features ids are row + 1
    assert frame["prediction"].tolist() == by_position
    assert not sa.inspect(engine).has_table(job["source"]["table"])  # staging table dropped


def test_a_csv_with_an_id_column_keeps_its_ids(client, run_worker, engine):
    with engine.connect() as connection:
        rows = pd.read_sql(sa.text("SELECT * FROM adult_features WHERE id <= 30"), connection)
    rows["id"] = rows["id"] * 1_000
    form = csv_upload(rows, chunk_rows="7")
    job = client.post("/jobs", data=form, content_type="multipart/form-data").get_json()
    assert job["chunks_total"] == 5
    run_worker()
    frame = read_csv(client.get(f"/jobs/{job['id']}/results?format=csv").data)
    assert frame["id"].tolist() == list(range(1_000, 30_001, 1_000))


ERRORS = [
    ({"model": "nope"}, 404, "MODEL_NOT_FOUND"),
    ({"model": "adult", "version": 999}, 404, "VERSION_NOT_FOUND"),
    ({"model": "adult", "version": "x"}, 400, "INVALID_VERSION"),
    ({"model": "adult", "source": {"table": "nope"}}, 422, "TABLE_NOT_FOUND"),
    ({"model": "adult", "source": {"table": "adult_training"}}, 422, "COLUMN_NOT_FOUND"),
    ({"model": "adult", "source": {"table": "a b"}}, 422, "INVALID_SOURCE"),
    ({"model": "adult", "source": {"ids": ["1; DROP"]}}, 422, "INVALID_SOURCE"),
    ({"model": "adult", "source": {"ids": [1, 99_999_999]}}, 422, "UNKNOWN_IDS"),
    ({"model": "adult", "source": {"id_range": [99_999_990, 99_999_999]}}, 422, "INVALID_SOURCE"),
    ({"model": "adult", "source": {"sql": "SELECT 1"}}, 422, "INVALID_SOURCE"),
    ({"model": "adult", "chunk_rows": 0}, 422, "INVALID_SOURCE"),
    ({"source": {"table": "adult_features"}}, 400, "INVALID_BODY"),
    ([1, 2], 400, "INVALID_BODY"),
]


@pytest.mark.parametrize(("body", "status", "code"), ERRORS)
def test_bad_submissions_are_refused_and_nothing_is_queued(
    client, engine, redis_conn, body, status, code
):
    before = _job_count(engine)
    response = client.post("/jobs", json=body)
    assert (response.status_code, response.get_json()["error_code"]) == (status, code)
    assert response.get_json()["message"]
    assert Queue("batch", connection=redis_conn).count == 0
    assert _job_count(engine) == before


@pytest.mark.parametrize(
    ("data", "content_type", "status", "code"),
    [
        (b"{not json", "application/json", 400, "INVALID_JSON"),
        (b"model=adult", "text/plain", 415, "UNSUPPORTED_MEDIA_TYPE"),
    ],
)
def test_bodies_that_are_not_json(client, data, content_type, status, code):
    response = client.post("/jobs", data=data, content_type=content_type)
    assert (response.status_code, response.get_json()["error_code"]) == (status, code)


@pytest.mark.parametrize(
    ("text", "code", "fragment"),
    [
        ("age,workclass\n39,State-gov\n", "COLUMN_NOT_FOUND", "'fnlwgt'"),
        ('age,workclass\n39,"unterminated\n', "INVALID_CSV", "CSV line"),
        ("", "INVALID_CSV", "bad.csv is empty"),
    ],
)
def test_bad_uploads_are_refused_and_nothing_is_left_behind(
    client, engine, redis_conn, text, code, fragment
):
    tables = set(sa.inspect(engine).get_table_names())
    form = {"file": (io.BytesIO(text.encode()), "bad.csv"), "model": "adult"}
    response = client.post("/jobs", data=form, content_type="multipart/form-data")
    assert (response.status_code, response.get_json()["error_code"]) == (422, code)
    assert fragment in response.get_json()["message"]
    assert set(sa.inspect(engine).get_table_names()) == tables
    assert Queue("batch", connection=redis_conn).count == 0


def test_an_upload_needs_a_file_and_a_model(client):
    no_file = client.post("/jobs", data={"model": "adult"}, content_type="multipart/form-data")
    assert no_file.get_json()["error_code"] == "INVALID_BODY"
    form = {"file": (io.BytesIO(b"age\n1\n"), "a.csv")}
    no_model = client.post("/jobs", data=form, content_type="multipart/form-data")
    assert no_model.get_json()["error_code"] == "INVALID_BODY"


def _job_count(engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(sa.text("SELECT count(*) FROM batch_jobs"))


def test_cancel_a_queued_job(client, run_worker):
    job = client.post("/jobs", json={"model": "adult", "source": {"id_range": [1, 3_000]}})
    job_id = job.get_json()["id"]

    anonymous = client.delete(f"/jobs/{job_id}")
    assert (anonymous.status_code, anonymous.get_json()["error_code"]) == (401, "UNAUTHORIZED")
    wrong = client.delete(f"/jobs/{job_id}", headers={"Authorization": "Bearer nope"})
    assert (wrong.status_code, wrong.get_json()["error_code"]) == (403, "FORBIDDEN")
    assert client.get(f"/jobs/{job_id}").get_json()["status"] == "queued"
    canceled = client.delete(f"/jobs/{job_id}", headers=ADMIN)
    assert (canceled.status_code, canceled.get_json()["status"]) == (200, "canceled")
    twice = client.delete(f"/jobs/{job_id}", headers=ADMIN)
    assert twice.status_code == 200  # canceling twice is fine
    run_worker()
    ended = client.get(f"/jobs/{job_id}").get_json()
    assert (ended["status"], ended["chunks_done"], ended["rows_done"]) == ("canceled", 0, 0)
    empty = client.get(f"/jobs/{job_id}/results").get_json()
    assert (empty["total"], empty["results"]) == (0, [])


def test_an_ended_job_cannot_be_canceled_and_an_active_one_has_no_results(client, run_worker):
    job_id = client.post("/jobs", json={"model": "adult", "source": {"ids": [1]}}).get_json()["id"]
    not_yet = client.get(f"/jobs/{job_id}/results")
    assert (not_yet.status_code, not_yet.get_json()["error_code"]) == (409, "JOB_NOT_FINISHED")
    run_worker()
    refused = client.delete(f"/jobs/{job_id}", headers=ADMIN)
    assert (refused.status_code, refused.get_json()["error_code"]) == (409, "JOB_NOT_CANCELABLE")


@pytest.mark.parametrize("method", ["get", "delete"])
def test_unknown_jobs_are_404(client, method):
    response = getattr(client, method)("/jobs/00000000-0000-0000-0000-000000000000", headers=ADMIN)
    assert (response.status_code, response.get_json()["error_code"]) == (404, "JOB_NOT_FOUND")


def test_list_jobs_newest_first_filtered_and_paged(client, run_worker):
    ids = [
        client.post("/jobs", json={"model": "adult", "source": {"ids": [n]}}).get_json()["id"]
        for n in (1, 2, 3)
    ]
    client.delete(f"/jobs/{ids[1]}", headers=ADMIN)
    run_worker()

    listed = client.get("/jobs?limit=3").get_json()
    assert [job["id"] for job in listed["jobs"]] == ids[::-1]
    canceled = client.get("/jobs?status=canceled&limit=1000").get_json()
    assert ids[1] in [job["id"] for job in canceled["jobs"]]
    assert all(job["status"] == "canceled" for job in canceled["jobs"])
    page = client.get("/jobs?offset=1&limit=1").get_json()
    assert [job["id"] for job in page["jobs"]] == [ids[1]]
    for bad in ("status=done", "limit=0", "limit=x", "offset=-1"):
        assert client.get(f"/jobs?{bad}").get_json()["error_code"] == "INVALID_BODY"


def test_csv_results_stream_in_batches(client, run_worker, engine):
    body = {"model": "adult", "source": {"id_range": [1, 30]}}
    job_id = client.post("/jobs", json=body).get_json()["id"]
    run_worker()

    parts = list(stream_results_csv(engine, job_id=job_id, classes=["<=50K", ">50K"], batch_rows=7))

    assert len(parts) == 1 + 5  # the header, then ceil(30 / 7) batches
    rows = list(csv.reader(io.StringIO(b"".join(parts).decode())))
    assert [int(row[0]) for row in rows[1:]] == list(range(1, 31))
    assert b"".join(parts) == client.get(f"/jobs/{job_id}/results?format=csv").data
