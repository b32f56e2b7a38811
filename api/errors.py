"""One error hierarchy, one JSON shape: `{"error_code", "message", "details"}` for every 4xx/5xx."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, request
from redis.exceptions import RedisError
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from api.metrics import ERRORS
from inference.json_values import clip_text, echoed

log = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 2_000
BATCH_HINT = "submit a batch job instead: POST /jobs (see GET /usage)"


class APIError(Exception):
    """An error a client can act on; subclasses fix the status and code."""

    status = 500
    error_code = "INTERNAL_ERROR"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        """The JSON body of the error response."""
        return {"error_code": self.error_code, "message": self.message, "details": self.details}


class InvalidJSON(APIError):
    """The body is not parseable JSON."""

    status, error_code = 400, "INVALID_JSON"


class InvalidBody(APIError):
    """The body parses but is not one of the accepted shapes."""

    status, error_code = 400, "INVALID_BODY"


class InvalidVersion(APIError):
    """`?version=` is not a positive integer."""

    status, error_code = 400, "INVALID_VERSION"


class InvalidParameter(APIError):
    """A path segment or query argument that is not valid text, or outside its characters."""

    status, error_code = 400, "INVALID_PARAMETER"


class InvalidId(APIError):
    """An entity id that cannot be an id of the feature table."""

    status, error_code = 400, "INVALID_ID"


class NoFeatureTable(APIError):
    """The model has no feature table to read entities from."""

    status, error_code = 400, "NO_FEATURE_TABLE"


class InvalidInput(APIError):
    """Rows that do not fit the model's schema; details are keyed by feature."""

    status, error_code = 422, "INVALID_INPUT"


class PayloadTooLarge(APIError):
    """Too many rows or bytes for one online request."""

    status, error_code = 413, "PAYLOAD_TOO_LARGE"


class UnsupportedMediaType(APIError):
    """A Content-Type the prediction endpoints do not read."""

    status, error_code = 415, "UNSUPPORTED_MEDIA_TYPE"


class Unauthorized(APIError):
    """No admin token was sent."""

    status, error_code = 401, "UNAUTHORIZED"


class Forbidden(APIError):
    """A wrong admin token, or admin endpoints disabled."""

    status, error_code = 403, "FORBIDDEN"


class Conflict(APIError):
    """The request conflicts with the current state (e.g. deleting the production version)."""

    status, error_code = 409, "CONFLICT"


class InvalidModel(APIError):
    """An uploaded file that cannot be registered as a model."""

    status, error_code = 422, "INVALID_MODEL"


class NotFoundError(APIError):
    """A resource other than a model, version or entity does not exist."""

    status, error_code = 404, "NOT_FOUND"


class ModelNotFound(APIError):
    """No model of that name is registered."""

    status, error_code = 404, "MODEL_NOT_FOUND"


class VersionNotFound(APIError):
    """The model has no such version."""

    status, error_code = 404, "VERSION_NOT_FOUND"


class EntityNotFound(APIError):
    """No row with that id in the model's feature table."""

    status, error_code = 404, "ENTITY_NOT_FOUND"


class ModelNotReady(APIError):
    """No servable model yet: nothing promoted, no default model, or it failed to load."""

    status, error_code = 503, "MODEL_NOT_READY"


class ServiceUnavailable(APIError):
    """A dependency (database, feature table) cannot be reached or used right now."""

    status, error_code = 503, "SERVICE_UNAVAILABLE"


# Batch jobs (api/routes/jobs.py).


class JobNotFound(APIError):
    """No batch job has this id."""

    status, error_code = 404, "JOB_NOT_FOUND"


class InvalidSource(APIError):
    """The job's source cannot be used (names, id column, ids, chunk size)."""

    status, error_code = 422, "INVALID_SOURCE"


class TableNotFoundError(APIError):
    """The source table does not exist."""

    status, error_code = 422, "TABLE_NOT_FOUND"


class ColumnNotFoundError(APIError):
    """The source table lacks the id column or features the model needs."""

    status, error_code = 422, "COLUMN_NOT_FOUND"


class UnknownIdsError(APIError):
    """Some listed ids are not in the feature table."""

    status, error_code = 422, "UNKNOWN_IDS"


class InvalidCSV(APIError):
    """The uploaded CSV cannot be loaded."""

    status, error_code = 422, "INVALID_CSV"


class JobNotCancelable(APIError):
    """The job already finished or failed."""

    status, error_code = 409, "JOB_NOT_CANCELABLE"


class JobNotFinished(APIError):
    """Results are read once the job has ended."""

    status, error_code = 409, "JOB_NOT_FINISHED"


# Codes for werkzeug's own exceptions; anything not listed is named after its status phrase.
HTTP_ERROR_CODES = {
    400: "INVALID_BODY",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
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
    reason = getattr(exc, "orig", None) or exc
    log.error("database error on %s %s: %s", request.method, request.path, reason)
    return error_response(
        503,
        ServiceUnavailable.error_code,
        "the database is unavailable; retry shortly (GET /ready shows what is down)",
    )


def handle_queue_error(exc: Exception) -> Response:
    """Redis failed (down, timing out): log it, tell the client to retry."""
    log.error("redis error on %s %s: %s", request.method, request.path, exc)
    return error_response(
        503,
        ServiceUnavailable.error_code,
        "the job queue (Redis) is unavailable; retry shortly (GET /ready shows what is down)",
    )


def handle_unexpected(exc: Exception) -> Response:
    """Anything else is a bug: log the traceback, answer a generic 500."""
    log.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(
        500,
        "INTERNAL_ERROR",
        "an unexpected error occurred; it has been logged. Retry, and report it if it persists",
    )


def register_error_handlers(app: Flask) -> None:
    """Route every error raised in a request to one of the handlers above."""
    app.register_error_handler(APIError, handle_api_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    for kind in DATABASE_UNAVAILABLE:
        app.register_error_handler(kind, handle_database_error)
    app.register_error_handler(RedisError, handle_queue_error)
    app.register_error_handler(Exception, handle_unexpected)
