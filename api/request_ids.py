"""Request ids on every response and every log line, and structured (JSON) logs."""

from __future__ import annotations

import logging
import os
import re
import time

from flask import Flask, Response, g, has_request_context, request
from pythonjsonlogger.json import JsonFormatter

HEADER = "X-Request-ID"
# A client's id is echoed only when it is short and plain, so it cannot forge log lines.
_ACCEPTED = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
LOG_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s"


def new_request_id() -> str:
    """A UUIDv7 (RFC 9562) as 32 hex digits: milliseconds since 1970, then 74 random bits.

    Ids made later sort later, so the prediction log's request_id index grows at its right
    edge; uuid4's random ids landed all over a growing index, the most expensive part of
    writing a single-row entry (Python 3.14's uuid.uuid7 makes the same layout).
    """
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10))
    value = value & ~(0xF << 76) | 0x7 << 76  # version 7
    value = value & ~(0x3 << 62) | 0x2 << 62  # the RFC 9562 variant
    return f"{value:032x}"


def current_request_id() -> str | None:
    """The id of the request being served, None outside a request."""
    return g.get("request_id") if has_request_context() else None


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every log record ("-" outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id() or "-"
        return True


def init_request_ids(app: Flask) -> None:
    """Accept X-Request-ID or generate one; echo it on the response."""

    @app.before_request
    def _assign() -> None:
        given = request.headers.get(HEADER, "")
        g.request_id = given if _ACCEPTED.match(given) else new_request_id()

    @app.after_request
    def _echo(response: Response) -> Response:
        response.headers[HEADER] = g.get("request_id") or new_request_id()
        return response


def configure_logging(level: str, fmt: str = "json") -> None:
    """One stderr handler with request ids: JSON lines (LOG_FORMAT=json) or plain text.

    Left alone when the host (pytest's capture) already configured the root logger.
    """
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        if fmt == "json":
            handler.setFormatter(JsonFormatter(LOG_FIELDS, rename_fields={"levelname": "level"}))
        else:
            handler.setFormatter(
                logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
            )
        handler.addFilter(RequestIdFilter())
        root.addHandler(handler)
        root.setLevel(level)
    for name in ("api", "db", "inference", "worker", "trainer"):
        logging.getLogger(name).setLevel(level)
