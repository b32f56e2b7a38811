"""Hostile pickles uploaded to a real gunicorn worker: each is refused with 422 naming what it
hit, the worker process survives (same pid), and predictions keep answering meanwhile. The
server sets API_TOKEN, so the same run checks tokens under gunicorn and `skserve predict`."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from tests.api.helpers import RECORD
from tests.api.hostile_pickles import HOSTILE_PICKLES
from tests.processes import SKSERVE, children, is_alive, start_api, stop

pytestmark = pytest.mark.slow

TOKEN = "isolation-admin"
API_TOKEN = "isolation-client"
AS_CLIENT = {"Authorization": f"Bearer {API_TOKEN}"}
SECONDS = 20  # UPLOAD_INSPECT_SECONDS: a loaded machine starts the child slowly


@pytest.fixture(scope="module")
def server(pg_url: str, adult_model, tmp_path_factory) -> Iterator[tuple[str, int]]:
    """`skserve api` with one worker, so a dead worker could not hide behind another."""
    log = tmp_path_factory.mktemp("isolation") / "api.log"
    env = {
        "DATABASE_URL": pg_url,
        "DEFAULT_MODEL": "adult",
        "ADMIN_TOKEN": TOKEN,
        "API_TOKEN": API_TOKEN,
        "UPLOAD_INSPECT_SECONDS": str(SECONDS),
        "UPLOAD_INSPECT_MEMORY_MIB": "1024",
    }
    base_url, process = start_api(env, log, 1)
    try:
        (worker,) = children(process.pid)
        yield base_url, worker
    finally:
        stop(process)


def test_hostile_pickles_leave_the_worker_serving(server) -> None:
    base_url, worker = server
    predict = f"{base_url}/models/adult/predict"
    assert requests.post(predict, json=RECORD, timeout=10).status_code == 401
    expected = requests.post(predict, json=RECORD, headers=AS_CLIENT, timeout=10).json()
    latencies: list[float] = []
    stop_predicting = threading.Event()

    def keep_predicting() -> None:  # alongside every upload, on the same worker
        while not stop_predicting.is_set():
            started = time.perf_counter()
            answer = requests.post(predict, json=RECORD, headers=AS_CLIENT, timeout=10)
            assert answer.json() == expected
            latencies.append(time.perf_counter() - started)
            time.sleep(0.2)

    predictor = threading.Thread(target=keep_predicting, daemon=True)
    predictor.start()
    try:
        for name, (data, phrase) in HOSTILE_PICKLES.items():
            started = time.perf_counter()
            response = requests.post(
                f"{base_url}/models/hostile/versions",
                data=data,
                headers={
                    "Authorization": f"Bearer {TOKEN}",
                    "Content-Type": "application/octet-stream",
                },
                timeout=SECONDS + 30,
            )
            body = response.json()
            print(f"{name}: {response.status_code} in {time.perf_counter() - started:.1f} s")
            assert (response.status_code, body["error_code"]) == (422, "INVALID_MODEL"), body
            assert phrase in body["message"], (name, body["message"])
            assert is_alive(worker) and children(worker) == [], name
            assert requests.get(f"{base_url}/health", timeout=5).status_code == 200
    finally:
        stop_predicting.set()
        predictor.join(timeout=15)
    assert latencies, "no prediction answered during the uploads"
    print(f"{len(latencies)} predictions during the uploads, slowest {max(latencies):.2f} s")
    assert max(latencies) < 5
    admin = {"Authorization": f"Bearer {TOKEN}"}
    assert requests.get(f"{base_url}/models/hostile", headers=admin, timeout=5).status_code == 404


def test_skserve_predict_sends_the_api_token(server) -> None:
    base_url, _ = server
    args = [str(SKSERVE), "predict", "adult", "--json", json.dumps(RECORD), "--url", base_url]
    env = {k: v for k, v in os.environ.items() if k != "API_TOKEN"}
    refused = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1 and "UNAUTHORIZED" in refused.stderr
    answered = subprocess.run(
        args, env={**env, "API_TOKEN": API_TOKEN}, capture_output=True, text=True, timeout=60
    )
    assert answered.returncode == 0, answered.stderr
    assert json.loads(answered.stdout)["model"] == "adult"
