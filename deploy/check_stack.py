"""Drives a running compose stack from the host: wait, the README tour, slow clients."""

from __future__ import annotations

import socket
import statistics
import sys
import time
from typing import Any
from urllib.parse import urlsplit

import requests

TIMEOUT = 10
RECORD = {
    "age": 39, "workclass": "State-gov", "fnlwgt": 77516, "education": "Bachelors",
    "education_num": 13, "marital_status": "Never-married", "occupation": "Adm-clerical",
    "relationship": "Not-in-family", "race": "White", "sex": "Male", "capital_gain": 2174,
    "capital_loss": 0, "hours_per_week": 40, "native_country": "United-States",
}  # fmt: skip


def wait(base: str, seconds: str) -> None:
    """Poll /ready through the proxy until it answers 200."""
    deadline = time.monotonic() + float(seconds)
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base}/ready", timeout=3).status_code == 200:
                print(f"    ready after {time.monotonic() - deadline + float(seconds):.0f} s")
                return
        except requests.RequestException:
            pass
        time.sleep(2)
    sys.exit(f"{base}/ready did not answer 200 within {seconds} s")


def ok(response: requests.Response, status: int = 200) -> Any:
    """The JSON body of a response that must have `status`."""
    assert response.status_code == status, (response.status_code, response.text[:300])
    return response.json() if "json" in response.headers.get("Content-Type", "") else None


def poll(url: str, done: set[str], seconds: float = 300) -> dict[str, Any]:
    """GET url until its status is one of `done`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        body = ok(requests.get(url, timeout=TIMEOUT))
        if body["status"] in done:
            return body
        time.sleep(1)
    raise AssertionError(f"{url} not {done} within {seconds} s")


def tour(base: str, token: str) -> None:
    """The README's tour: payload, by id, batch to CSV, train + promote, /metrics."""
    body = ok(requests.post(f"{base}/models/adult/predict", json=RECORD, timeout=TIMEOUT))
    print(f"    predict by payload: {body['predictions']} (version {body['version']})")
    body = ok(requests.get(f"{base}/models/adult/entities/1/prediction", timeout=TIMEOUT))
    print(f"    predict by id 1: {body.get('predictions', body)}")
    job = requests.post(
        f"{base}/jobs", json={"model": "adult", "source": {"table": "adult_features"}}, timeout=30
    )
    ok(job, 202)
    job_url = base + job.headers["Location"]
    body = poll(job_url, {"succeeded", "finished", "failed", "canceled"})
    assert body["status"] in ("succeeded", "finished"), body
    csv = requests.get(f"{job_url}/results?format=csv", timeout=120)
    lines = ok(csv) or csv.text.count("\n")
    print(f"    batch job over adult_features: {body['status']}, CSV of {lines} lines")
    admin = {"Authorization": f"Bearer {token}"}
    run = ok(requests.post(f"{base}/models/adult/train", headers=admin, timeout=30), 202)
    body = poll(base + run["status_url"], {"finished", "failed"}, seconds=600)
    assert body["status"] == "finished", body
    versions = ok(requests.get(f"{base}/models", timeout=TIMEOUT))
    version = max(
        v["version"] for m in versions["models"] if m["name"] == "adult" for v in m["versions"]
    )
    ok(requests.post(f"{base}/models/adult/versions/{version}/promote", headers=admin, timeout=30))
    print(f"    trained and promoted version {version} over HTTP")
    metrics = requests.get(f"{base}/metrics", timeout=TIMEOUT)
    ok(metrics)
    print(f"    /metrics: {len(metrics.text.splitlines())} lines")


def slow_clients(base: str, count: int = 200) -> None:
    """Hold `count` connections that trickle or stall; /health and a prediction stay < 1 s."""
    url = urlsplit(base)
    sockets = []
    for i in range(count):
        sock = socket.create_connection((url.hostname, url.port), timeout=5)
        head = "POST /models/adult/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n"
        sock.sendall((head if i % 2 else "GET /health HTTP/1.1\r\nHost: x\r\n").encode())
        sockets.append(sock)
    latencies = []
    for _ in range(20):
        for sock in sockets[::10]:
            try:
                sock.send(b"X")  # trickle one byte
            except OSError:
                pass
        for method, path, kwargs in (
            ("GET", "/health", {}),
            ("POST", "/models/adult/predict", {"json": RECORD}),
        ):
            started = time.perf_counter()
            ok(requests.request(method, f"{base}{path}", timeout=5, **kwargs))
            latencies.append(time.perf_counter() - started)
        time.sleep(0.25)
    for sock in sockets:
        sock.close()
    worst = max(latencies)
    print(
        f"    {count} slow connections held; {len(latencies)} requests: "
        f"median {statistics.median(latencies) * 1000:.0f} ms, max {worst * 1000:.0f} ms"
    )
    assert worst < 1.0, f"a request took {worst:.2f} s behind {count} slow clients"


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    {"wait": wait, "tour": tour, "slow-clients": slow_clients}[command](*args)
