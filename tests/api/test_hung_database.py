"""A private PostgreSQL frozen with SIGSTOP under a running `skserve api`, then thawed."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
import requests
import sqlalchemy as sa

from db.demo import load_demo_data
from db.engine import create_database, make_engine
from db.migrate import upgrade
from tests.api.helpers import RECORD
from tests.factories import small_adult_spec
from tests.faults import PrivatePostgres
from tests.processes import start_api, stop
from trainer.train import Promotion, train_model

pytestmark = pytest.mark.slow

STATEMENT_TIMEOUT = 2.0
FROZEN_SECONDS = 30


@pytest.fixture(scope="module")
def postgres(adult_spec) -> Iterator[PrivatePostgres]:
    """A private server holding the demo tables and a small Adult model in production."""
    server = PrivatePostgres().start()
    try:
        url = str(sa.make_url(server.url).set(database="skserve"))
        create_database(url)
        upgrade(url)
        engine = make_engine(url)
        load_demo_data(engine)
        train_model(engine, small_adult_spec(adult_spec, "adult"), promotion=Promotion.ALWAYS)
        engine.dispose()
        server.database_url = url
        yield server
    finally:
        server.remove()


@pytest.fixture(scope="module")
def api(postgres: PrivatePostgres, tmp_path_factory) -> Iterator[str]:
    """`skserve api` (2 workers) on the private server, with short database timeouts."""
    log = tmp_path_factory.mktemp("hung-api") / "api.log"
    env = {
        "DATABASE_URL": postgres.database_url,
        "DEFAULT_MODEL": "adult",
        "DB_STATEMENT_TIMEOUT": str(STATEMENT_TIMEOUT),
        "DB_CONNECT_TIMEOUT": "2",
        "DB_POOL_TIMEOUT": "1",
    }
    base_url, process = start_api(env, log)
    try:
        yield base_url
    finally:
        stop(process)


def timed_get(url: str) -> tuple[float, requests.Response]:
    """(seconds, response) of a GET with a generous client timeout."""
    started = time.perf_counter()
    response = requests.get(url, timeout=STATEMENT_TIMEOUT + 10)
    return time.perf_counter() - started, response


def predict(base_url: str) -> tuple[float, requests.Response]:
    """(seconds, response) of a single-row payload prediction."""
    started = time.perf_counter()
    response = requests.post(
        f"{base_url}/models/adult/predict",
        data=json.dumps(RECORD),
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    return time.perf_counter() - started, response


def test_frozen_database_fails_fast_and_recovers(api: str, postgres: PrivatePostgres) -> None:
    by_id = f"{api}/models/adult/entities/1/prediction"
    for _ in range(4):  # warm every worker's pools
        assert timed_get(by_id)[1].status_code == 200
    postgres.freeze()
    frozen_at = time.monotonic()
    slowest = {"payload": 0.0, "by_id": 0.0, "ready": 0.0}
    try:
        while time.monotonic() - frozen_at < FROZEN_SECONDS:
            seconds, response = predict(api)
            assert response.status_code == 200, response.text
            slowest["payload"] = max(slowest["payload"], seconds)
            seconds, response = timed_get(by_id)
            assert response.status_code == 503, response.text
            assert response.json()["error_code"] == "SERVICE_UNAVAILABLE"
            slowest["by_id"] = max(slowest["by_id"], seconds)
            seconds, response = timed_get(f"{api}/ready")
            assert response.status_code == 503, response.text
            assert response.json()["error_code"] == "NOT_READY"
            slowest["ready"] = max(slowest["ready"], seconds)
            assert timed_get(f"{api}/health")[1].status_code == 200
    finally:
        postgres.thaw()
    print(f"slowest answers while frozen {FROZEN_SECONDS} s: {slowest}")
    assert slowest["payload"] < 1.0, slowest
    assert slowest["by_id"] < STATEMENT_TIMEOUT + 1.0, slowest
    assert slowest["ready"] < STATEMENT_TIMEOUT + 1.0, slowest
    recovered = wait_for_recovery(by_id, f"{api}/ready")
    print(f"by-id and /ready answered 200 again {recovered:.1f} s after the thaw")
    assert recovered < 10


def wait_for_recovery(*urls: str) -> float:
    """Seconds until every url answers 200 (on both workers: a few answers in a row)."""
    started = time.monotonic()
    streak = 0
    while time.monotonic() - started < 30:
        ok = all(timed_get(url)[1].status_code == 200 for url in urls)
        streak = streak + 1 if ok else 0
        if streak >= 6:
            return time.monotonic() - started
        time.sleep(0.2)
    pytest.fail("the API did not recover within 30 s of the database thawing")


def test_stopped_database_is_503_not_500(api: str, postgres: PrivatePostgres) -> None:
    by_id = f"{api}/models/adult/entities/1/prediction"
    assert timed_get(by_id)[1].status_code == 200
    postgres.stop()
    try:
        for _ in range(6):
            seconds, response = timed_get(by_id)
            assert response.status_code == 503, response.text
            assert response.json()["error_code"] == "SERVICE_UNAVAILABLE"
            assert seconds < STATEMENT_TIMEOUT + 1.0
            assert predict(api)[1].status_code == 200
    finally:
        postgres.start()
    wait_for_recovery(by_id)
