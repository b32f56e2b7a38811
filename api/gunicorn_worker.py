"""The gunicorn worker: threads that slow clients cannot pin, and errors in the JSON shape.

gunicorn's gthread worker hands a connection to a thread as soon as its first bytes arrive and
then reads the rest of the request with a blocking socket, so a client that stops half-way
holds the thread. This worker reads the head, and a body of known size up to 64 KiB, in
non-blocking steps and gives the connection back to the poller until they are complete: an idle
or trickling client costs a socket, not a thread. A request must arrive within
GUNICORN_REQUEST_TIMEOUT seconds (408 otherwise); larger or chunked bodies are read by the
serving thread within that time of their start. Requests gunicorn cannot parse are answered
`{"error_code", "message", "details"}` like every other error, not with gunicorn's HTML page.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
from typing import Any

from gunicorn import util
from gunicorn.http import errors as http_errors
from gunicorn.workers import gthread
from werkzeug.exceptions import BadRequest, RequestTimeout

# A request is handed to gunicorn's parser once its head (and small body) is complete, or once
# this much has arrived (the parser then refuses an oversized head with 414/431).
MAX_HEAD_BYTES = 64 * 1024
HEAD_ENDS = (b"\r\n\r\n", b"\n\n")
CONTENT_LENGTH = re.compile(rb"\ncontent-length:[ \t]*(\d{1,12})[ \t]*(?=\r?\n)", re.IGNORECASE)
DEFAULT_REQUEST_TIMEOUT = 10.0

# gunicorn's parse errors, most specific first: (class, status, error_code).
PARSE_ERRORS: tuple[tuple[type[Exception], int, str], ...] = (
    (http_errors.InvalidResponseHeader, 500, "INTERNAL_ERROR"),
    (http_errors.InvalidResponseHeaderName, 500, "INTERNAL_ERROR"),
    (http_errors.ConfigurationProblem, 500, "INTERNAL_ERROR"),
    (http_errors.LimitRequestLine, 414, "URI_TOO_LONG"),
    (http_errors.LimitRequestHeaders, 431, "HEADERS_TOO_LARGE"),
    (http_errors.UnsupportedTransferCoding, 501, "NOT_IMPLEMENTED"),
    (http_errors.ExpectationFailed, 417, "EXPECTATION_FAILED"),
    (http_errors.ForbiddenProxyRequest, 403, "FORBIDDEN"),
    (http_errors.ParseException, 400, "INVALID_HTTP"),
)
HEAD_TIMED_OUT = (408, "REQUEST_TIMEOUT")
REASONS = {
    400: "Bad Request",
    403: "Forbidden",
    408: "Request Timeout",
    414: "URI Too Long",
    417: "Expectation Failed",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
}
MAX_REASON_CHARS = 200
INVALID_HTTP_MESSAGE = "the request is not valid HTTP/1.1; check the request line and headers"
LATE_REQUEST_MESSAGE = "the request did not arrive in time; send it whole"
LATE_BODY_MESSAGE = "the request body did not arrive in time; send it whole"


class HeadTimedOut(Exception):
    """The request head did not arrive within the request timeout."""


def request_timeout(environ: dict[str, str] | None = None) -> float:
    """GUNICORN_REQUEST_TIMEOUT: seconds a request head, or a body, may take to arrive."""
    raw = (environ if environ is not None else os.environ).get("GUNICORN_REQUEST_TIMEOUT")
    return float(raw) if raw else DEFAULT_REQUEST_TIMEOUT


def json_error(status: int, error_code: str, message: str, details: dict[str, Any]) -> bytes:
    """A complete HTTP/1.1 response carrying the project's JSON error body."""
    body = json.dumps({"error_code": error_code, "message": message, "details": details})
    head = (
        f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return (head + body).encode("latin-1")


def is_complete(data: bytes) -> bool:
    """True once `data` holds a whole head, and the whole body when it is small and sized.

    Bodies of unknown size (chunked) or above MAX_HEAD_BYTES are read by the thread that
    serves the request, within the request timeout.
    """
    if len(data) >= MAX_HEAD_BYTES:
        return True
    end = next((data.find(mark) + len(mark) for mark in HEAD_ENDS if mark in data), -1)
    if end < 0:
        return False
    found = list(CONTENT_LENGTH.finditer(data, 0, end))
    if len(found) > 1:
        return True  # gunicorn's parser refuses a repeated Content-Length (400), at once
    length = int(found[0].group(1)) if found else 0
    return length > MAX_HEAD_BYTES or len(data) >= end + length


def classify(exc: BaseException) -> tuple[int, str, str]:
    """(status, error_code, message) for an error raised while reading a request."""
    if isinstance(exc, HeadTimedOut):
        return *HEAD_TIMED_OUT, LATE_REQUEST_MESSAGE
    for kind, status, code in PARSE_ERRORS:
        if isinstance(exc, kind):
            if status == 500:
                break
            return status, code, INVALID_HTTP_MESSAGE
    return 500, "INTERNAL_ERROR", "an unexpected error occurred; it has been logged"


class ApiWorker(gthread.ThreadWorker):
    """gthread with non-blocking head reads, bounded body reads and JSON error pages."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request_timeout = request_timeout()

    def load_wsgi(self) -> None:
        """Wrap the app so body reads are bounded in time and parse errors become 4xx."""
        super().load_wsgi()
        self.wsgi = BoundedInput(self.wsgi, self.request_timeout)

    def handle(self, conn: gthread.TConn) -> Any:
        """Serve the connection once its head has arrived; until then give it back."""
        try:
            if not self.request_arrived(conn):
                return gthread._DEFER  # back to the poller: no thread waits for a slow client
        except HeadTimedOut as exc:
            self.handle_error(None, conn.sock, conn.client, exc)
            return False
        except OSError:
            return False
        return super().handle(conn)

    def request_arrived(self, conn: gthread.TConn) -> bool:
        """Read what the socket holds now; True once the request is here (or the client left)."""
        now = time.monotonic()
        if getattr(conn, "head_deadline", None) is None:
            conn.head_deadline = now + self.request_timeout
            conn.head = conn.parser.unreader.take_buffered() if conn.parser else b""
        closed = self._read_available(conn)
        if not (closed or is_complete(conn.head)):
            if now > conn.head_deadline:
                raise HeadTimedOut()
            return False
        data, conn.head_deadline, conn.head = conn.head, None, b""
        conn.data_ready = True
        conn.init()  # creates the parser on a new connection; a no-op on a kept-alive one
        conn.parser.unreader.unread(data)
        return True

    def _read_available(self, conn: gthread.TConn) -> bool:
        """Append the bytes waiting on the socket to conn.head; True when the client closed."""
        conn.sock.setblocking(False)
        try:
            while len(conn.head) < MAX_HEAD_BYTES:
                data = conn.sock.recv(MAX_HEAD_BYTES)
                if not data:
                    return True
                conn.head += data
        except BlockingIOError:
            return False
        finally:
            conn.sock.setblocking(True)
        return False

    def finish_request(self, conn: gthread.TConn, fs: Any) -> None:
        """gthread's; a connection deferred with part of a request waits until that request's
        deadline, not gthread's keepalive timeout after the last bytes."""
        super().finish_request(conn, fs)
        if fs.cancelled() or fs.exception() is not None or fs.result() is not gthread._DEFER:
            return
        if self.alive and getattr(conn, "head", b"") and conn.head_deadline is not None:
            conn.timeout = conn.head_deadline

    def murder_pending(self) -> None:
        """Close the deferred connections whose time is up; one holding part of a request is
        answered 408 first (gthread closed it silently, after its keepalive timeout)."""
        now = time.monotonic()
        for conn in [conn for conn in self.pending_conns if conn.timeout <= now]:
            self.pending_conns.remove(conn)
            try:
                self.poller.unregister(conn.sock)
            except (OSError, KeyError, ValueError):
                pass  # already unregistered
            if getattr(conn, "head", b""):
                self.handle_error(None, conn.sock, conn.client, HeadTimedOut())
            self.nr_conns -= 1
            conn.close()

    def handle_request(self, req: Any, conn: gthread.TConn) -> Any:
        """Bound every socket operation of the request (body reads, response writes)."""
        conn.sock.settimeout(self.request_timeout)
        return super().handle_request(req, conn)

    def handle_error(self, req: Any, client: socket.socket, addr: Any, exc: BaseException) -> None:
        """Answer in the JSON error shape: 4xx for bad requests, a logged 500 for the rest."""
        status, code, message = classify(exc)
        ip = (addr or ("", -1))[0]
        if status < 500:
            self.log.warning("invalid request from ip=%s: %s %s", ip, code, exc)
        else:
            self.log.exception("error handling request from ip=%s", ip)
        details = {"reason": str(exc)[:MAX_REASON_CHARS]} if status < 500 else {}
        try:
            util.write_nonblock(client, json_error(status, code, message, details))
        except Exception:  # the client may be gone; nothing else to tell it
            self.log.debug("failed to send the error response")


class BoundedInput:
    """WSGI middleware: the request body must arrive in time and parse, or the app sees a 4xx."""

    def __init__(self, app: Any, timeout: float) -> None:
        self.app, self.timeout = app, timeout

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        sock = environ.get("gunicorn.socket")
        if sock is not None:
            deadline = time.monotonic() + self.timeout
            environ["wsgi.input"] = BodyReader(environ["wsgi.input"], sock, deadline)
        return self.app(environ, start_response)


class BodyReader:
    """gunicorn's request body with a deadline; its errors as werkzeug's 400 and 408."""

    def __init__(self, body: Any, sock: socket.socket, deadline: float) -> None:
        self._body, self._sock, self._deadline = body, sock, deadline

    def read(self, size: int | None = None) -> bytes:
        """Read like gunicorn's body, within the deadline."""
        return self._guarded(self._body.read, size)

    def readline(self, size: int | None = None) -> bytes:
        """Read one line like gunicorn's body, within the deadline."""
        return self._guarded(self._body.readline, size)

    def readlines(self, hint: int | None = None) -> list[bytes]:
        """Read the remaining lines, within the deadline."""
        return self._guarded(self._body.readlines, hint)

    def __iter__(self) -> BodyReader:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def _guarded(self, read: Any, size: Any) -> Any:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise RequestTimeout(LATE_BODY_MESSAGE)
        previous = self._sock.gettimeout()
        self._sock.settimeout(remaining)
        try:
            return read(size)
        except TimeoutError:
            raise RequestTimeout(LATE_BODY_MESSAGE) from None
        except http_errors.ParseException as exc:
            raise BadRequest(
                f"the request body is malformed: {str(exc)[:MAX_REASON_CHARS]}"
            ) from None
        finally:
            self._sock.settimeout(previous)
