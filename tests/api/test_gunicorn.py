"""`skserve api` under real gunicorn (2 workers) on PostgreSQL, driven over HTTP."""

from __future__ import annotations

import io
import json
import subprocess
import time
from collections.abc import Iterator

import pandas as pd
import pytest
import requests

from tests.api.helpers import (
    FORMATS,
    assert_same_answers,
    body_for,
    expected_answers,
    features_of,
)
from tests.processes import SKSERVE, children, start_api, stop

pytestmark = pytest.mark.slow

MAX_BODY_BYTES = 1_000_000


@pytest.fixture(scope="module")
def server(pg_url: str, adult_model, tmp_path_factory) -> Iterator[tuple[str, subprocess.Popen]]:
    """`skserve api --workers 2` on a free port against the test database; stopped afterwards."""
    log = tmp_path_factory.mktemp("gunicorn") / "api.log"
    env = {"DATABASE_URL": pg_url, "DEFAULT_MODEL": "adult", "MAX_BODY_BYTES": str(MAX_BODY_BYTES)}
    base_url, process = start_api(env, log)
    try:
        yield base_url, process
    finally:
        stop(process)


def test_two_workers_serve(server) -> None:
    _, process = server
    # The first worker answering /ready does not mean the second has been forked yet: in the
    # compose test image the check once saw one child. Both must be there within seconds.
    deadline = time.monotonic() + 10
    while len(children(process.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(children(process.pid)) == 2


def test_workers_run_with_two_malloc_arenas(server) -> None:
    _, process = server
    for pid in [process.pid, *children(process.pid)]:
        with open(f"/proc/{pid}/environ", "rb") as environ:
            assert b"MALLOC_ARENA_MAX=2" in environ.read().split(b"\0")


def test_every_format_matches_the_in_process_pipeline(
    server, feature_rows: pd.DataFrame, reference_pipelines
) -> None:
    base_url, _ = server
    frame = features_of(feature_rows)
    for shape in FORMATS:
        content_type, data = body_for(shape, frame)
        response = requests.post(
            f"{base_url}/models/adult/predict",
            data=data.encode(),
            headers={"Content-Type": content_type},
            timeout=30,
        )
        assert response.status_code == 200, (shape, response.text)
        body = response.json()
        pipeline = reference_pipelines(body["model"], body["version"])
        assert_same_answers(body, expected_answers(pipeline, frame))


def test_single_rows_match_the_pipeline(
    server, feature_rows: pd.DataFrame, reference_pipelines
) -> None:
    base_url, _ = server
    frame = features_of(feature_rows)
    for i in range(0, len(frame), 7):
        row = frame.iloc[[i]]
        record = json.loads(row.to_json(orient="records"))[0]
        flat = requests.post(f"{base_url}/models/adult/predict", json=record, timeout=10).json()
        seed = requests.post(f"{base_url}/predict", json=record, timeout=10).json()
        expected = expected_answers(reference_pipelines("adult", flat["version"]), row)
        assert_same_answers(flat, expected)
        assert seed == flat
        query = {k: "" if v is None else v for k, v in record.items()}
        by_query = requests.get(f"{base_url}/models/adult/predict", params=query, timeout=10)
        assert by_query.json() == flat
        assert requests.get(f"{base_url}/", params=query, timeout=10).json() == flat


def test_ids_answer_like_their_features(server, feature_rows: pd.DataFrame) -> None:
    base_url, _ = server
    ids = feature_rows["id"].tolist()
    by_id = requests.post(f"{base_url}/models/adult/predict", json={"ids": ids}, timeout=10)
    content_type, data = body_for("split", features_of(feature_rows))
    by_features = requests.post(
        f"{base_url}/models/adult/predict",
        data=data.encode(),
        headers={"Content-Type": content_type},
        timeout=10,
    ).json()
    assert by_id.json()["predictions"] == by_features["predictions"]
    assert by_id.json()["probabilities"] == by_features["probabilities"]
    one = requests.get(f"{base_url}/models/adult/entities/{ids[3]}/prediction", timeout=10).json()
    assert one["predictions"] == [by_features["predictions"][3]]
    assert one["probabilities"] == [by_features["probabilities"][3]]


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "error_code"),
    [
        ("GET", "/nowhere", {}, 404, "NOT_FOUND"),
        ("DELETE", "/predict", {}, 405, "METHOD_NOT_ALLOWED"),
        (
            "POST",
            "/predict",
            {"data": b"{", "headers": {"Content-Type": "application/json"}},
            400,
            "INVALID_JSON",
        ),
        ("POST", "/predict", {"data": b"x" * (MAX_BODY_BYTES + 1)}, 413, "PAYLOAD_TOO_LARGE"),
        (
            "POST",
            "/predict",
            {"data": b"age=1", "headers": {"Content-Type": "text/plain"}},
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        ("GET", "/models/adult/entities/1%3B%20DROP/prediction", {}, 400, "INVALID_ID"),
        ("GET", "/models/adult/predict?version=abc&age=1", {}, 400, "INVALID_VERSION"),
    ],
)
def test_errors_are_json_over_http(server, method, path, kwargs, status, error_code) -> None:
    base_url, _ = server
    response = requests.request(method, f"{base_url}{path}", timeout=10, **kwargs)
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["error_code"] == error_code


def test_predict_command_talks_to_the_server(server, feature_rows: pd.DataFrame, tmp_path) -> None:
    base_url, _ = server
    frame = features_of(feature_rows).head(3)
    csv_path = tmp_path / "rows.csv"
    frame.to_csv(csv_path, index=False)
    record = json.loads(frame.head(1).to_json(orient="records"))[0]

    def run(*args: str) -> subprocess.CompletedProcess:
        command = [str(SKSERVE), "predict", "adult", "--url", base_url, *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=60)

    by_json, by_ids, by_csv = (
        run("--json", json.dumps(record)),
        run("--ids", "1,2,3"),
        run("--csv", str(csv_path)),
    )
    for result in (by_json, by_ids, by_csv):
        assert result.returncode == 0, result.stderr
    assert json.loads(by_ids.stdout)["predictions"] == json.loads(by_csv.stdout)["predictions"]
    assert json.loads(by_json.stdout)["predictions"] == json.loads(by_csv.stdout)["predictions"][:1]
    failed = run("--ids", "1,abc")
    assert failed.returncode == 1 and "INVALID_ID" in failed.stderr
    assert run("--ids", "1", "--model-version", "1").returncode == 0


def test_csv_of_many_rows(server, feature_rows: pd.DataFrame, reference_pipelines) -> None:
    base_url, _ = server
    frame = pd.concat([features_of(feature_rows)] * 20, ignore_index=True)  # 800 rows
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    response = requests.post(
        f"{base_url}/models/adult/predict",
        data=buffer.getvalue().encode(),
        headers={"Content-Type": "text/csv"},
        timeout=30,
    )
    body = response.json()
    assert_same_answers(
        body, expected_answers(reference_pipelines("adult", body["version"]), frame)
    )
