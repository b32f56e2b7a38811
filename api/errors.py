"""The errors the API itself raises; api/error_handlers.py maps the core's own exceptions.

Every error reaches the client as `{"error_code", "message", "details"}`.
"""

from __future__ import annotations

from typing import Any

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


class InvalidJSONError(APIError):
    """The body is not parseable JSON."""

    status, error_code = 400, "INVALID_JSON"


class InvalidBodyError(APIError):
    """The body parses but is not one of the accepted shapes."""

    status, error_code = 400, "INVALID_BODY"


class InvalidVersionError(APIError):
    """`?version=` is not a positive integer."""

    status, error_code = 400, "INVALID_VERSION"


class InvalidParameterError(APIError):
    """A path segment or query argument that is not valid text, or outside its characters."""

    status, error_code = 400, "INVALID_PARAMETER"


class NoFeatureTableError(APIError):
    """The model has no feature table to read entities from."""

    status, error_code = 400, "NO_FEATURE_TABLE"


class PayloadTooLargeError(APIError):
    """Too many rows or bytes for one online request."""

    status, error_code = 413, "PAYLOAD_TOO_LARGE"


class UnsupportedMediaTypeError(APIError):
    """A Content-Type the prediction endpoints do not read."""

    status, error_code = 415, "UNSUPPORTED_MEDIA_TYPE"


class UnauthorizedError(APIError):
    """No admin token was sent."""

    status, error_code = 401, "UNAUTHORIZED"


class ForbiddenError(APIError):
    """A wrong admin token, or admin endpoints disabled."""

    status, error_code = 403, "FORBIDDEN"


class ConflictError(APIError):
    """The request conflicts with the current state (e.g. deleting the production version)."""

    status, error_code = 409, "CONFLICT"


class EntityNotFoundError(APIError):
    """No row with that id in the model's feature table."""

    status, error_code = 404, "ENTITY_NOT_FOUND"


class ModelNotReadyError(APIError):
    """No servable model yet: nothing promoted, no default model, or it failed to load."""

    status, error_code = 503, "MODEL_NOT_READY"


class ServiceUnavailableError(APIError):
    """A dependency (database, feature table) cannot be reached or used right now."""

    status, error_code = 503, "SERVICE_UNAVAILABLE"


class JobNotFinishedError(APIError):
    """Results are read once the job has ended."""

    status, error_code = 409, "JOB_NOT_FINISHED"


class NotReadyError(APIError):
    """A readiness check failed (GET /ready, GET /ping)."""

    status, error_code = 503, "NOT_READY"
