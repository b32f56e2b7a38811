"""One table from the core's exceptions to HTTP errors, and the handlers that render every error.

A core exception (registry, jobs, sources, validation, ...) is raised as it is and answered here
with one status, one code and one message per condition; the API's own errors are APIErrors.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, jsonify, request
from redis.exceptions import RedisError
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from api.errors import BATCH_HINT, APIError, ServiceUnavailableError
from api.metrics import ERRORS
from db import jobs, registry, training_runs
from db.comparison import ComparisonUnsupportedError
from db.csv_files import CsvLoadError
from db.entities import InvalidEntityIdError
from db.identifiers import ColumnNotFoundError, InvalidIdentifierError, TableNotFoundError
from db.job_sources import SourceError, UnknownIdsError
from db.job_submission import QueueUnavailableError
from db.traffic import InvalidTrafficError
from inference.artifact import CorruptArtifactError, IncompatibleArtifactError
from inference.inspection import InvalidPipelineError
from inference.json_values import clip_text, echoed
from inference.validation import InvalidInputError

log = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 2_000


@dataclass(frozen=True)
class CoreError:
    """How one core exception is answered: status, code, what to do next, details."""

    status: int
    error_code: str
    hint: str = ""
    details: Callable[[Any], dict[str, Any]] = lambda exc: {}

    def message(self, exc: Exception) -> str:
        """The exception's own words, then what to do about it."""
        return f"{exc}; {self.hint}" if self.hint else str(exc)


NOT_LOADABLE = CoreError(503, "MODEL_NOT_READY", "this server cannot load the model's artifact")

# Looked up along the exception's class hierarchy, so a subclass may have its own row.
CORE_ERRORS: dict[type[Exception], CoreError] = {
    registry.ModelNotFoundError: CoreError(
        404, "MODEL_NOT_FOUND", "GET /usage lists the served models", lambda e: {"model": e.name}
    ),
    registry.VersionNotFoundError: CoreError(
        404,
        "VERSION_NOT_FOUND",
        "omit ?version= to use production; GET /models lists the versions",
        lambda e: {"model": e.name, "version": e.version},
    ),
    registry.NoProductionVersionError: CoreError(
        503, "MODEL_NOT_READY", details=lambda e: {"model": e.name}
    ),
    registry.VersionInProductionError: CoreError(
        409, "CONFLICT", details=lambda e: {"model": e.name, "version": e.version}
    ),
    registry.VersionInTrafficError: CoreError(
        409, "CONFLICT", details=lambda e: {"model": e.name, "version": e.version}
    ),
    InvalidTrafficError: CoreError(
        400,
        "INVALID_TRAFFIC",
        'the body is {"production": N, "canary": {"version": N, "percent": P}, "shadow": [N]}',
        lambda e: {"field": e.field},
    ),
    ComparisonUnsupportedError: CoreError(501, "NOT_IMPLEMENTED"),
    IncompatibleArtifactError: NOT_LOADABLE,
    CorruptArtifactError: NOT_LOADABLE,
    InvalidInputError: CoreError(
        422,
        "INVALID_INPUT",
        "fix them as `details` says; GET /usage describes the expected features",
        lambda e: e.details,
    ),
    InvalidEntityIdError: CoreError(
        400, "INVALID_ID", details=lambda e: {"invalid_ids": e.bad[:5]}
    ),
    InvalidPipelineError: CoreError(422, "INVALID_MODEL", "the file was not registered"),
    jobs.JobNotFoundError: CoreError(
        404, "JOB_NOT_FOUND", "GET /jobs lists them", lambda e: {"id": e.job_id}
    ),
    jobs.JobNotCancelableError: CoreError(
        409, "JOB_NOT_CANCELABLE", details=lambda e: {"status": e.status}
    ),
    training_runs.TrainingRunNotFoundError: CoreError(
        404,
        "NOT_FOUND",
        "the URL comes from POST /models/<name>/train",
        lambda e: {"job_id": e.run_id},
    ),
    TableNotFoundError: CoreError(422, "TABLE_NOT_FOUND", details=lambda e: {"table": e.table}),
    ColumnNotFoundError: CoreError(
        422,
        "COLUMN_NOT_FOUND",
        details=lambda e: {
            **({"table": e.table} if e.label is None else {"source": e.label}),
            "missing": e.missing,
        },
    ),
    UnknownIdsError: CoreError(422, "UNKNOWN_IDS", details=lambda e: e.details),
    SourceError: CoreError(422, "INVALID_SOURCE", details=lambda e: e.details),
    InvalidIdentifierError: CoreError(422, "INVALID_SOURCE"),
    CsvLoadError: CoreError(
        422, "INVALID_CSV", details=lambda e: {"line": e.line} if e.line else {}
    ),
    QueueUnavailableError: CoreError(
        503,
        "SERVICE_UNAVAILABLE",
        "retry shortly (GET /ready shows what is down)",
        lambda e: {"job_id": e.job_id},
    ),
}


# What a lookup of a model can raise that a client can act on: the API's errors and the core's.
ANSWERABLE = (APIError, *CORE_ERRORS)


def describe(exc: Exception) -> tuple[str, dict[str, Any]]:
    """The message and details an APIError or a core exception is answered with."""
    if isinstance(exc, APIError):
        return exc.message, exc.details
    row = core_error(exc)
    return (row.message(exc), row.details(exc)) if row else (str(exc), {})


def core_error(exc: Exception) -> CoreError | None:
    """The table's row for `exc`, or None when the core exception is not a client's concern."""
    for cls in type(exc).__mro__:
        if cls in CORE_ERRORS:
            return CORE_ERRORS[cls]
    return None


# Codes for werkzeug's own exceptions; anything not listed is named after its status phrase.
HTTP_ERROR_CODES = {
    400: "INVALID_BODY",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    408: "REQUEST_TIMEOUT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
}


def error_response(status: int, error_code: str, message: str, details: dict | None = None):
    """A JSON error response in the one shape; echoed input is clipped and NaN-free."""
    body = {
        "error_code": error_code,
        "message": clip_text(message, MAX_MESSAGE_CHARS),
        "details": echoed(details or {}),
    }
    ERRORS.labels(error_code).inc()
    response = jsonify(body)
    response.status_code = status
    return response


def _http_message(exc: HTTPException) -> tuple[str, dict[str, Any]]:
    if exc.code == 404:
        return f"no endpoint at {request.path}; GET /usage lists the endpoints", {}
    if exc.code == 405:
        allowed = sorted(m for m in (exc.valid_methods or []) if m not in ("HEAD", "OPTIONS"))
        return (
            f"{request.method} is not allowed on {request.path}; use {' or '.join(allowed)}",
            {"allowed_methods": allowed},
        )
    if exc.code == 413:
        limit = request.max_content_length
        return f"the request body exceeds {limit} bytes; {BATCH_HINT}", {"max_bytes": limit}
    return exc.description or exc.name, {}


def handle_api_error(exc: APIError) -> Response:
    """Render an APIError."""
    return error_response(exc.status, exc.error_code, exc.message, exc.details)


def handle_core_error(exc: Exception) -> Response:
    """Render a core exception by its row in CORE_ERRORS."""
    row = core_error(exc)
    if row is None:
        return handle_unexpected(exc)
    return error_response(row.status, row.error_code, row.message(exc), row.details(exc))


def handle_http_exception(exc: HTTPException) -> Response:
    """Render werkzeug's HTTP exceptions (404, 405, 413, ...) in the same shape."""
    code = exc.code or 500
    error_code = HTTP_ERROR_CODES.get(code, exc.name.upper().replace(" ", "_").replace("'", ""))
    message, details = _http_message(exc)
    response = error_response(code, error_code, message, details)
    if code == 405 and exc.valid_methods:
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response


# The database is down, hung or out of connections: the request may succeed later (503).
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError, DisconnectionError, PoolTimeout)


def handle_database_error(exc: Exception) -> Response:
    """The database failed: log it, tell the client to retry (never the SQL or the trace)."""
    return _unavailable("database", "the database", getattr(exc, "orig", None) or exc)


def handle_queue_error(exc: Exception) -> Response:
    """Redis failed (down, timing out): log it, tell the client to retry."""
    return _unavailable("redis", "the job queue (Redis)", exc)


def _unavailable(service: str, described: str, reason: Exception) -> Response:
    """A 503 for a dependency that failed: the reason goes to the log, not to the client."""
    log.error("%s error on %s %s: %s", service, request.method, request.path, reason)
    return error_response(
        503,
        ServiceUnavailableError.error_code,
        f"{described} is unavailable; retry shortly (GET /ready shows what is down)",
    )


def handle_unexpected(exc: Exception) -> Response:
    """Anything else is a bug: log the traceback, answer a generic 500."""
    log.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(
        500,
        "INTERNAL_ERROR",
        "an unexpected error occurred; it has been logged. Retry, and report it if it persists",
    )


def render_error(exc: Exception) -> Response:
    """The response the app's handlers give `exc` (for protocol layers that reshape it)."""
    if isinstance(exc, APIError):
        return handle_api_error(exc)
    if isinstance(exc, HTTPException):
        return handle_http_exception(exc)
    if isinstance(exc, DATABASE_UNAVAILABLE):
        return handle_database_error(exc)
    if isinstance(exc, RedisError):
        return handle_queue_error(exc)
    return handle_core_error(exc)


def register_error_handlers(app: Flask) -> None:
    """Route every error raised in a request to one of the handlers above."""
    app.register_error_handler(APIError, handle_api_error)
    for core_class in CORE_ERRORS:
        app.register_error_handler(core_class, handle_core_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    for kind in DATABASE_UNAVAILABLE:
        app.register_error_handler(kind, handle_database_error)
    app.register_error_handler(RedisError, handle_queue_error)
    app.register_error_handler(Exception, handle_unexpected)
