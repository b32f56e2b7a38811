"""Hot promotion and metrics across real gunicorn workers."""

from __future__ import annotations

import re
import threading
import time

import psutil
import pytest
import requests

from tests.api.helpers import RECORD
from tests.factories import small_adult_spec
from tests.processes import start_api, stop
from trainer.train import Promotion, train_model

pytestmark = pytest.mark.slow
TOKEN = "promotion-token"


@pytest.fixture(scope="module")
def server(pg_url, demo_tables, adult_spec, tmp_path_factory):
    """Model `hot` with v1 in production and v2 registered, served by 2 gunicorn workers:
    (base URL, the gunicorn master's process)."""
    spec = small_adult_spec(adult_spec, "hot")
    train_model(demo_tables, spec, promotion=Promotion.ALWAYS)
    train_model(demo_tables, spec)
    log = tmp_path_factory.mktemp("gunicorn") / "api.log"
    base_url, process = start_api(
        {"DATABASE_URL": pg_url, "DEFAULT_MODEL": "hot", "ADMIN_TOKEN": TOKEN}, log
    )
    yield base_url, process
    stop(process)


def test_promotion_reaches_every_worker_within_two_seconds_without_failures(server):
    server, _ = server
    stop_at = threading.Event()
    results: list[tuple[float, int, int | None]] = []  # (sent at, status, version)

    def client() -> None:
        with requests.Session() as session:
            while not stop_at.is_set():
                sent = time.monotonic()
                try:
                    response = session.post(f"{server}/models/hot/predict", json=RECORD, timeout=10)
                    version = response.json().get("version")
                    results.append((sent, response.status_code, version))
                except requests.RequestException:
                    results.append((sent, 0, None))

    threads = [threading.Thread(target=client) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(1.5)
    asked_at = time.monotonic()
    promotion = requests.post(
        f"{server}/models/hot/versions/2/promote",
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=30,
    )
    promoted_at = time.monotonic()  # the promotion is committed when the call returns
    time.sleep(4)
    stop_at.set()
    for thread in threads:
        thread.join()

    assert promotion.status_code == 200, promotion.text
    assert results and all(status == 200 for _, status, _ in results)
    assert any(v == 1 for sent, _, v in results if sent < asked_at)
    late = [v for sent, _, v in results if sent > promoted_at + 2]
    assert late and set(late) == {2}


def _counter(text: str, route: str) -> float:
    pattern = (
        rf'skserve_http_requests_total{{method="POST",route="{re.escape(route)}",'
        rf'status="200"}} ([0-9.e+]+)'
    )
    match = re.search(pattern, text)
    return float(match.group(1)) if match else 0.0


def test_workers_forked_after_a_promotion_serve_the_promoted_version(server):
    # The master loaded v1 before its first fork; workers it forks now inherit that copy and
    # must still serve v2, promoted by the test above.
    server, master = server
    old = psutil.Process(master.pid).children()
    assert len(old) == 2
    for worker in old:
        worker.kill()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        new = [w.pid for w in psutil.Process(master.pid).children()]
        if len(new) == 2 and not {w.pid for w in old} & set(new) and _ready(server):
            break
        time.sleep(0.2)
    else:
        pytest.fail("gunicorn did not replace both workers within 60 s")
    versions = set()
    for _ in range(20):  # a new connection each time, so both workers take requests
        response = requests.post(f"{server}/models/hot/predict", json=RECORD, timeout=10)
        assert response.status_code == 200, response.text
        versions.add(response.json()["version"])
    assert versions == {2}


def _ready(server: str) -> bool:
    """GET /ready answers 200 (while both workers boot the request waits in the backlog)."""
    try:
        return requests.get(f"{server}/ready", timeout=5).status_code == 200
    except requests.RequestException:
        return False


def test_metrics_count_every_request_across_workers(server):
    server, _ = server
    before = _counter(requests.get(f"{server}/metrics", timeout=10).text, "/predict")
    for _ in range(60):  # a new connection each time, so both workers take requests
        assert requests.post(f"{server}/predict", json=RECORD, timeout=10).status_code == 200
    after = _counter(requests.get(f"{server}/metrics", timeout=10).text, "/predict")
    assert after - before == 60
