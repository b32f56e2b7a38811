"""`skserve up` end to end: real PostgreSQL, Redis, gunicorn and an RQ worker, then Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from db.engine import make_engine
from tests.api.helpers import RECORD as ADULT_ROW
from tests.conftest import TEST_DATABASE_URL, TEST_REDIS_URL
from tests.processes import SKSERVE, descendants, free_port, is_alive

SMALL_SPEC = Path(__file__).with_name("small_adult.toml")
UP_DATABASE = "skserve_up_test"
UP_REDIS_DB = 13  # an index of its own (conftest's TEST_REDIS_URL defaults to 15)
BANNER = "skserve is up at"
SETTINGS_VARIABLES = (
    "DATABASE_URL",
    "REDIS_URL",
    "DEFAULT_MODEL",
    "ADMIN_TOKEN",
    "MODEL_PATH",
    "HOST",
    "PORT",
    "WEB_CONCURRENCY",
)


@pytest.fixture
def up_database_url() -> Iterator[str]:
    """A fresh, empty database of its own, so `up` migrates, loads and trains from scratch."""
    target = sa.make_url(TEST_DATABASE_URL).set(database=UP_DATABASE)
    admin = make_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    statements = [
        f"DROP DATABASE IF EXISTS {UP_DATABASE} WITH (FORCE)",
        f"CREATE DATABASE {UP_DATABASE}",
    ]
    try:
        with admin.connect() as conn:
            for statement in statements:
                conn.execute(sa.text(statement))
        yield target.render_as_string(hide_password=False)
        with admin.connect() as conn:
            conn.execute(sa.text(statements[0]))
    finally:
        admin.dispose()


@pytest.fixture
def up_redis_url() -> Iterator[str]:
    """A Redis database index of its own, flushed before and after."""
    import redis

    url = TEST_REDIS_URL.rsplit("/", 1)[0] + f"/{UP_REDIS_DB}"
    connection = redis.Redis.from_url(url)
    connection.flushdb()
    yield url
    connection.flushdb()
    connection.close()


def request(url: str, body: object | None = None) -> tuple[int, dict]:
    """(status, JSON body) of a GET, or of a POST when `body` is given."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def wait_until_up(base_url: str, process: subprocess.Popen, log: Path, timeout: float) -> None:
    """Wait for `up` to announce itself and /ready to answer 200; fail with `up`'s output."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"skserve up exited early:\n{log.read_text()}"
        if BANNER in log.read_text():
            assert request(f"{base_url}/ready")[0] == 200
            return
        time.sleep(0.5)
    pytest.fail(f"skserve up was not up within {timeout} s:\n{log.read_text()}")


def test_up_serves_predictions_and_stops_every_process_on_ctrl_c(
    tmp_path, up_database_url, up_redis_url
):
    env = {key: value for key, value in os.environ.items() if key not in SETTINGS_VARIABLES}
    env.update(DATABASE_URL=up_database_url, REDIS_URL=up_redis_url, WEB_CONCURRENCY="1")
    port = free_port()
    argv = [str(SKSERVE), "up", "--workers", "1", "--port", str(port), "--spec", str(SMALL_SPEC)]
    log = tmp_path / "up.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            argv, cwd=tmp_path, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    base_url = f"http://127.0.0.1:{port}"
    started: set[int] = set()
    try:
        wait_until_up(base_url, process, log, timeout=120)
        started = descendants(process.pid)
        status, body = request(f"{base_url}/models/adult/predict", ADULT_ROW)
        assert status == 200, body
        assert body["model"] == "adult" and len(body["predictions"]) == 1
        assert body["predictions"][0] in ("<=50K", ">50K")
        status, body = request(f"{base_url}/models/adult/entities/1/prediction")
        assert status == 200, body
        assert f"Console: {base_url}/ui/" in log.read_text()
    finally:
        started |= descendants(process.pid)
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            pytest.fail(f"skserve up did not stop within 60 s:\n{log.read_text()}")
    output = log.read_text()
    assert process.returncode == 0, output
    # gunicorn master and worker(s) plus the RQ worker, at least.
    assert len(started) >= 3, output
    survivors = {pid for pid in started if is_alive(pid)}
    assert not survivors, f"still running after Ctrl-C: {survivors}\n{output}"
    assert output.rstrip().endswith("Stopped."), output
