"""Canary and shadow versions across real gunicorn workers (2 workers, 4 clients)."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter

import pytest
import requests
import sqlalchemy as sa

from db.tables import prediction_log
from tests.api.helpers import RECORD
from tests.factories import small_adult_spec
from tests.processes import start_api, stop
from trainer.train import Promotion, train_model

pytestmark = pytest.mark.slow
TOKEN = "canary-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
MODEL = "canary"
CLIENTS = 4


@pytest.fixture(scope="module")
def server(pg_url, demo_tables, adult_spec, tmp_path_factory):
    """Model `canary` with v1 in production and v2, v3 registered, on 2 gunicorn workers."""
    for trees, promotion in ((3, Promotion.ALWAYS), (6, Promotion.NO), (9, Promotion.NO)):
        train_model(demo_tables, small_adult_spec(adult_spec, MODEL, trees), promotion=promotion)
    log = tmp_path_factory.mktemp("gunicorn") / "api.log"
    base_url, process = start_api(
        {"DATABASE_URL": pg_url, "DEFAULT_MODEL": MODEL, "ADMIN_TOKEN": TOKEN}, log
    )
    yield base_url
    stop(process)


def put_traffic(server: str, body: dict) -> None:
    response = requests.put(
        f"{server}/models/{MODEL}/traffic", json=body, headers=ADMIN, timeout=30
    )
    assert response.status_code == 200, response.text


def run_clients(server: str, keys: list[list[str]]) -> list[tuple[str, str, int, int | None]]:
    """Each client sends one request per key (X-Routing-Key); (key, request id, status, version)."""
    results: list[tuple[str, str, int, int | None]] = []

    def client(own: list[str]) -> None:
        with requests.Session() as session:
            for key in own:
                request_id = f"t-{uuid.uuid4().hex[:16]}"
                headers = {"X-Routing-Key": key, "X-Request-ID": request_id}
                try:
                    response = session.post(
                        f"{server}/models/{MODEL}/predict", json=RECORD, headers=headers, timeout=10
                    )
                    results.append(
                        (key, request_id, response.status_code, response.json()["version"])
                    )
                except (requests.RequestException, ValueError, KeyError):
                    results.append((key, request_id, 0, None))

    threads = [threading.Thread(target=client, args=(own,)) for own in keys]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def logged_counts(pg_engine, request_ids: list[str]) -> dict[tuple[int, str], int]:
    """Logged rows of these requests by (version, role)."""
    with pg_engine.connect() as conn:
        logged = conn.execute(
            sa.select(prediction_log.c.model_version, prediction_log.c.role, sa.func.count())
            .where(prediction_log.c.request_id.in_(request_ids))
            .group_by(prediction_log.c.model_version, prediction_log.c.role)
        ).all()
    return {(version, role): n for version, role, n in logged}


def settled_counts(pg_engine, request_ids: list[str]) -> dict[tuple[int, str], int]:
    """logged_counts once two reads a flush apart agree (the workers' writers flush every
    second, the shadows' rows a little after their served rows), at most 20 s."""
    deadline = time.monotonic() + 20
    counts = logged_counts(pg_engine, request_ids)
    while time.monotonic() < deadline:
        time.sleep(1.5)
        again = logged_counts(pg_engine, request_ids)
        if again == counts and sum(again.values()):
            break
        counts = again
    return counts


def test_a_ten_percent_canary_with_a_shadow_under_gunicorn(server, pg_engine):
    put_traffic(server, {"production": 1, "canary": {"version": 2, "percent": 10}, "shadow": [3]})
    time.sleep(2.5)  # every worker follows within 2 s
    keys = [[f"user-{c}-{i}" for i in range(500)] for c in range(CLIENTS)]
    results = run_clients(server, keys)

    assert len(results) == 2_000 and all(status == 200 for _, _, status, _ in results)
    versions = Counter(version for _, _, _, version in results)
    assert set(versions) == {1, 2}  # the shadow v3 never answers
    assert 0.08 <= versions[2] / 2_000 <= 0.12, versions

    request_ids = [request_id for _, request_id, _, _ in results]
    counts = settled_counts(pg_engine, request_ids)
    print(f"canary share {versions[2] / 2_000:.3f}; logged rows by (version, role): {counts}")
    assert counts[(3, "shadow")] >= 0.98 * 2_000, counts
    assert counts[(1, "production")] == versions[1]
    assert counts[(2, "canary")] == versions[2]
    assert counts.get((1, "shadow"), 0) >= 0.98 * versions[2]  # production shadows the canary


def test_the_same_routing_key_always_meets_the_same_version(server):
    put_traffic(server, {"production": 1, "canary": {"version": 2, "percent": 30}, "shadow": []})
    time.sleep(2.5)
    shared = [f"entity-{i}" for i in range(40)]
    results = run_clients(server, [shared * 3 for _ in range(CLIENTS)])
    by_key: dict[str, set[int | None]] = {}
    for key, _, status, version in results:
        assert status == 200
        by_key.setdefault(key, set()).add(version)
    assert all(len(seen) == 1 for seen in by_key.values()), by_key
    assert {v for seen in by_key.values() for v in seen} == {1, 2}


def test_back_to_production_only_reaches_every_worker_within_two_seconds(server):
    put_traffic(server, {"production": 1, "canary": {"version": 2, "percent": 50}, "shadow": [3]})
    time.sleep(2.5)
    stop_at = threading.Event()
    results: list[tuple[float, int, int | None]] = []

    def client() -> None:
        with requests.Session() as session:
            while not stop_at.is_set():
                sent = time.monotonic()
                try:
                    response = session.post(
                        f"{server}/models/{MODEL}/predict", json=RECORD, timeout=10
                    )
                    results.append((sent, response.status_code, response.json().get("version")))
                except (requests.RequestException, ValueError):
                    results.append((sent, 0, None))

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    time.sleep(1.5)
    put_traffic(server, {"production": 1, "canary": None, "shadow": []})
    changed_at = time.monotonic()  # committed when the call returns
    time.sleep(4)
    stop_at.set()
    for thread in threads:
        thread.join()

    assert results and all(status == 200 for _, status, _ in results)
    assert any(v == 2 for sent, _, v in results if sent < changed_at)
    late = [v for sent, _, v in results if sent > changed_at + 2]
    assert late and set(late) == {1}
    traffic = requests.get(f"{server}/models/{MODEL}/traffic", timeout=10).json()
    assert (traffic["canary"], traffic["shadow"]) == (None, [])
