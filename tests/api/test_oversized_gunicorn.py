"""A 28 MB, 1,000,000-row CSV or JSON body is refused early by a real gunicorn worker: 413 in
under 50 ms, without the worker's memory growing by more than 10 MB."""

from __future__ import annotations

import json
import socket
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.api.helpers import RECORD
from tests.processes import children, start_api, stop

pytestmark = pytest.mark.slow

ROWS = 1_000_000
ATTEMPTS = 7


@pytest.fixture(scope="module")
def server(pg_url: str, adult_model, tmp_path_factory) -> Iterator[tuple[str, int]]:
    """`skserve api` with one worker and the default limits (10,000 rows, 32 MiB bodies)."""
    log = tmp_path_factory.mktemp("oversized") / "api.log"
    base_url, process = start_api({"DATABASE_URL": pg_url, "DEFAULT_MODEL": "adult"}, log, 1)
    try:
        (worker,) = children(process.pid)
        yield base_url, worker
    finally:
        stop(process)


def oversized_csv() -> bytes:
    """28 bytes a row: the Adult header, then a million short rows."""
    row = ",".join("1" if isinstance(v, int) else "a" for v in RECORD.values())
    body = (",".join(RECORD) + "\n" + (row + "\n") * ROWS).encode()
    assert 27_000_000 < len(body) < 30_000_000, len(body)
    return body


def rss_kib(pid: int) -> int:
    """The process's resident set size, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def oversized_json() -> bytes:
    """28 MB of short records in the split orient (over half a million rows), within
    MAX_BODY_BYTES: refused by the JSON byte cap, not by the body-size limit."""
    row = json.dumps([1 if isinstance(v, int) else "a" for v in RECORD.values()])
    rows = ",".join([row] * (28_000_000 // (len(row) + 1)))
    body = ('{"columns": ' + json.dumps(list(RECORD)) + ', "data": [' + rows + "]}").encode()
    assert 27_000_000 < len(body) < 30_000_000, len(body)
    return body


def post_raw(base_url: str, body: bytes, content_type: str = "text/csv") -> tuple[float, int, dict]:
    """POST `body` over a raw socket, sending on a thread while reading the answer as soon as
    it comes (the server stops reading the body early); (seconds, status, JSON body)."""
    host, port = base_url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    head = (
        f"POST /models/adult/predict HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()

    def send() -> None:
        try:
            sock.sendall(head + body)
        except OSError:  # the server answered and closed before reading it all: expected
            pass

    started = time.perf_counter()
    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    received = b""
    while b"\r\n\r\n" not in received or not _complete(received):
        chunk = sock.recv(65536)
        if not chunk:
            break
        received += chunk
    elapsed = time.perf_counter() - started
    sock.close()
    sender.join(timeout=10)
    status_line, _, rest = received.partition(b"\r\n")
    payload = rest.partition(b"\r\n\r\n")[2]
    return elapsed, int(status_line.split()[1]), json.loads(payload)


def _complete(received: bytes) -> bool:
    head, _, payload = received.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(payload) >= int(line.split(b":")[1])
    return False


@pytest.mark.parametrize(
    ("content_type", "make_body"),
    [("text/csv", oversized_csv), ("application/json", oversized_json)],
    ids=["csv", "json"],
)
def test_a_million_row_body_is_refused_early(server, content_type, make_body) -> None:
    base_url, worker = server
    small = (",".join(RECORD) + "\n" + ",".join(map(str, RECORD.values())) + "\n").encode()
    ok = requests.post(
        f"{base_url}/models/adult/predict", data=small, headers={"Content-Type": "text/csv"}
    )
    assert ok.status_code == 200, ok.text
    body = make_body()
    post_raw(base_url, body, content_type)  # the first refusal warms the code path up
    before = rss_kib(worker)
    timings = []
    for _ in range(ATTEMPTS):
        seconds, status, error = post_raw(base_url, body, content_type)
        assert status == 413, error
        assert error["error_code"] == "PAYLOAD_TOO_LARGE" and "POST /jobs" in error["message"]
        assert "max_rows_per_request" in error["details"]  # our check, not the size limit
        timings.append(seconds)
    growth_mib = (rss_kib(worker) - before) / 1024
    median_ms = statistics.median(timings) * 1000
    print(
        f"413 for a {len(body) / 1e6:.1f} MB {content_type} body: "
        f"median {median_ms:.1f} ms over {ATTEMPTS}, "
        f"worker RSS {growth_mib:+.1f} MiB"
    )
    assert median_ms < 50
    assert growth_mib < 10
    assert (
        requests.post(
            f"{base_url}/models/adult/predict", data=small, headers={"Content-Type": "text/csv"}
        ).json()
        == ok.json()
    )
