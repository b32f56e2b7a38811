"""Slow clients and malformed HTTP against real gunicorn (`skserve api`), over raw sockets."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from tests.api.helpers import RECORD
from tests.processes import start_api, stop

pytestmark = pytest.mark.slow

REQUEST_TIMEOUT = 4


@pytest.fixture(scope="module")
def server(pg_url: str, adult_model, tmp_path_factory) -> Iterator[tuple[str, int]]:
    """`skserve api --workers 2` with a short request timeout; (base URL, port)."""
    log = tmp_path_factory.mktemp("slow") / "api.log"
    env = {
        "DATABASE_URL": pg_url,
        "DEFAULT_MODEL": "adult",
        "GUNICORN_REQUEST_TIMEOUT": str(REQUEST_TIMEOUT),
        "GUNICORN_KEEPALIVE": "30",
    }
    base_url, process = start_api(env, log)
    try:
        yield base_url, int(base_url.rsplit(":", 1)[1])
    finally:
        stop(process)


def connect(port: int) -> socket.socket:
    """A TCP connection to the server."""
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def exchange(port: int, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send `raw`, read until the server closes; (status, headers, body)."""
    with connect(port) as sock:
        sock.sendall(raw)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


def predict_body() -> bytes:
    """A single-row prediction body."""
    return json.dumps(RECORD).encode()


class SlowClients:
    """Connections that stall (silent, half a head, half a body) or trickle one byte at a time."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sockets: list[socket.socket] = []
        self.tricklers: list[tuple[socket.socket, bytes]] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._trickle, daemon=True)

    def open(self, silent: int, half_head: int, half_body: int, trickling: int) -> None:
        """Open the connections and start trickling."""
        body = predict_body()
        head = (
            f"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        for count, sent in ((silent, b""), (half_head, head[:30]), (half_body, head + body[:20])):
            for _ in range(count):
                sock = connect(self.port)
                sock.sendall(sent)
                self.sockets.append(sock)
        for _ in range(trickling):
            sock = connect(self.port)
            self.sockets.append(sock)
            self.tricklers.append((sock, head + body))
        self.thread.start()

    def _trickle(self) -> None:
        position = 0
        while not self.stopped.wait(0.5):
            for sock, data in self.tricklers:
                try:
                    sock.send(data[position : position + 1])
                except OSError:
                    pass
            position += 1

    def close(self) -> None:
        """Stop trickling and close every connection."""
        self.stopped.set()
        self.thread.join()
        for sock in self.sockets:
            sock.close()


def timed(call) -> tuple[float, requests.Response]:
    """(seconds, response) of one call."""
    started = time.perf_counter()
    response = call()
    return time.perf_counter() - started, response


def test_200_slow_connections_do_not_stop_health_or_predictions(server) -> None:
    base_url, port = server
    clients = SlowClients(port)
    try:
        clients.open(silent=60, half_head=50, half_body=50, trickling=40)
        time.sleep(1)  # let every connection reach a worker
        body = predict_body()
        latencies = []
        for _ in range(10):
            seconds, health = timed(lambda: requests.get(f"{base_url}/health", timeout=5))
            assert health.status_code == 200
            latencies.append(seconds)
            seconds, answer = timed(
                lambda: requests.post(
                    f"{base_url}/models/adult/predict",
                    data=body,
                    headers={"Content-Type": "application/json"},
                    timeout=5,
                )
            )
            assert answer.status_code == 200, answer.text
            assert len(answer.json()["predictions"]) == 1
            latencies.append(seconds)
            time.sleep(0.3)
        assert max(latencies) < 1.0, latencies
    finally:
        clients.close()


def test_a_request_that_never_completes_gets_408_json(server) -> None:
    _, port = server
    with connect(port) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        deadline = started + REQUEST_TIMEOUT + 5
        received = b""
        while time.monotonic() < deadline:
            sock.sendall(b"X")  # trickle a header line that never ends
            time.sleep(0.5)
            sock.setblocking(False)
            try:
                received += sock.recv(65536)
            except BlockingIOError:
                pass
            finally:
                sock.setblocking(True)
            if b"\r\n\r\n" in received:
                break
    assert received.startswith(b"HTTP/1.1 408"), received[:200]
    body = json.loads(received.partition(b"\r\n\r\n")[2])
    assert body["error_code"] == "REQUEST_TIMEOUT"
    assert time.monotonic() - started < REQUEST_TIMEOUT + 2


def test_a_body_that_stops_half_way_gets_408_json(server) -> None:
    _, port = server
    body = b"x" * 200_000  # above what the worker buffers before giving it a thread
    head = (
        b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    )
    started = time.monotonic()
    status, headers, answer = exchange(port, head + body[:1000])
    assert status == 408
    assert headers["content-type"] == "application/json"
    assert json.loads(answer)["error_code"] == "REQUEST_TIMEOUT"
    assert time.monotonic() - started < REQUEST_TIMEOUT + 2


@pytest.mark.parametrize(
    "raw",
    [
        b"GET /health HTTP/1.1\r\nHost: x\r\n",
        b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100\r\n\r\n[{",
    ],
    ids=["head", "small body"],
)
def test_a_request_that_stalls_gets_408_json_at_its_deadline(server, raw) -> None:
    """Sent in one go, then nothing: no further bytes wake the worker, yet the answer comes
    at the request timeout, before the fixture's 30 s keepalive (which once closed silently)."""
    _, port = server
    started = time.monotonic()
    status, headers, answer = exchange(port, raw)
    assert status == 408
    assert headers["content-type"] == "application/json"
    assert json.loads(answer)["error_code"] == "REQUEST_TIMEOUT"
    assert REQUEST_TIMEOUT - 1 < time.monotonic() - started < REQUEST_TIMEOUT + 2


CHUNKED = b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
MALFORMED = [
    ("lower-case method", b"get /health HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    ("unknown method chars", b"G@T /health HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    ("negative Content-Length", b"POST /predict HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
    ("non-numeric Content-Length", b"POST /predict HTTP/1.1\r\nContent-Length: ab\r\n\r\n", 400),
    (
        "two different Content-Lengths",
        b"POST /predict HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        400,
    ),
    (
        "two Content-Lengths, the first beyond the body",
        b"POST /predict HTTP/1.1\r\nContent-Length: 10\r\nContent-Length: 2\r\n\r\nab",
        400,
    ),
    (
        "Content-Length with Transfer-Encoding",
        CHUNKED + b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
    ),
    ("9 KB URL", b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    ("10 KB header", b"GET /health HTTP/1.1\r\nX-Big: " + b"a" * 10_000 + b"\r\n\r\n", 431),
    (
        "too many headers",
        b"GET /health HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(150)) + b"\r\n",
        431,
    ),
    ("bad HTTP version", b"GET /health HTTP/9.9\r\nHost: x\r\n\r\n", 400),
    ("garbage request line", b"\x01\x02\x03 nonsense\r\n\r\n", 400),
    ("header without colon", b"GET /health HTTP/1.1\r\nHost x\r\n\r\n", 400),
    ("space in header name", b"GET /health HTTP/1.1\r\nBad Name: 1\r\n\r\n", 400),
    ("obsolete line folding", b"GET /health HTTP/1.1\r\nX-A: 1\r\n  folded\r\n\r\n", 400),
    ("unknown transfer coding", CHUNKED + b"Transfer-Encoding: gzip\r\n\r\n", 400),
    (
        "malformed chunk size",
        CHUNKED + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
        400,
    ),
    (
        "chunk without its terminator",
        CHUNKED + b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}XX0\r\n\r\n",
        400,
    ),
]


@pytest.mark.parametrize(("name", "raw", "status"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_http_gets_the_json_error_shape(server, name, raw, status) -> None:
    _, port = server
    answer_status, headers, body = exchange(port, raw)
    assert answer_status == status, body[:300]
    assert headers["content-type"] == "application/json"
    answer = json.loads(body)
    assert set(answer) == {"error_code", "message", "details"}
    assert len(body) < 2000  # the offending input is not echoed whole


def test_the_server_still_answers_after_the_malformed_requests(server) -> None:
    base_url, _ = server
    assert requests.get(f"{base_url}/health", timeout=5).status_code == 200
