"""Every error code the server answers with: its status (read from the classes and tables that
raise it) and when it happens. /usage, the OpenAPI document and README's table come from here.

`python -m api.error_codes` prints README's table.
"""

from __future__ import annotations

from dataclasses import dataclass

from api import errors
from api.error_handlers import CORE_ERRORS, HTTP_ERROR_CODES
from api.gunicorn_worker import HEAD_TIMED_OUT, PARSE_ERRORS

WHEN = {
    "INVALID_JSON": "the body is not valid (UTF-8) JSON, or is empty",
    "INVALID_BODY": "not one of the accepted shapes, an unparseable CSV, no rows, a repeated "
    "query argument, a bad query parameter",
    "INVALID_PARAMETER": "the URL path or query string is not valid UTF-8 text or holds NUL; a "
    "model name or job id outside its characters (checked before any query)",
    "INVALID_VERSION": "`?version=` (or a version in a path) is not a positive integer",
    "INVALID_ID": "an id that cannot be a value of the id column (SQL text included)",
    "NO_FEATURE_TABLE": "ids sent to a model without a feature table",
    "INVALID_TRAFFIC": "a traffic setting that cannot be served (wrong types, percent outside "
    "0-100, a version in two roles or twice, other features than production); `details.field` "
    "names the part",
    "INVALID_HTTP": "gunicorn cannot parse the request (bad request line or method, bad "
    "`Content-Length`, `Content-Length` with `Transfer-Encoding`, a malformed header or "
    "chunked body)",
    "UNAUTHORIZED": "an admin endpoint, or with `API_TOKEN` set any guarded route, without "
    "`Authorization: Bearer ...`",
    "FORBIDDEN": "a wrong token, the API token on an admin endpoint, or admin endpoints "
    "disabled (no `ADMIN_TOKEN`)",
    "MODEL_NOT_FOUND": "no model of that name",
    "VERSION_NOT_FOUND": "the model has no such version",
    "ENTITY_NOT_FOUND": 'an unknown entity id (or none of `{"ids": [...]}` exists)',
    "JOB_NOT_FOUND": "no batch job with that id",
    "NOT_FOUND": "no such endpoint, or no training run of that id for that model",
    "METHOD_NOT_ALLOWED": "the path exists for other methods (`Allow` header)",
    "REQUEST_TIMEOUT": "the request did not arrive within `GUNICORN_REQUEST_TIMEOUT`",
    "CONFLICT": "deleting the production, canary or a shadow version; retraining a model "
    "registered without a spec",
    "JOB_NOT_CANCELABLE": "canceling a job that has ended",
    "JOB_NOT_FINISHED": "results of a job that is still queued or running",
    "PAYLOAD_TOO_LARGE": "more than `MAX_ROWS_PER_REQUEST` rows or a body above "
    "`MAX_BODY_BYTES`; the message points to batch jobs",
    "URI_TOO_LONG": "a request line over 8,190 bytes",
    "UNSUPPORTED_MEDIA_TYPE": "a `Content-Type` the endpoint does not read",
    "EXPECTATION_FAILED": "an `Expect` header other than `100-continue`",
    "INVALID_INPUT": "features missing, mistyped, null where training saw none, infinite, out "
    "of range or not encodable; `details` keyed by feature, every one at once",
    "INVALID_MODEL": "an uploaded file that cannot be registered (does not unpickle, not a "
    "fitted pipeline, inputs unknown, or its check in a child process passed "
    "`UPLOAD_INSPECT_SECONDS` or `UPLOAD_INSPECT_MEMORY_MIB` or killed that process)",
    "INVALID_SOURCE": "a batch job's source is malformed; nothing is queued",
    "TABLE_NOT_FOUND": "a batch job's table does not exist; nothing is queued",
    "COLUMN_NOT_FOUND": "a batch job's table lacks the id column or a feature; nothing is queued",
    "UNKNOWN_IDS": "some of a batch job's ids are not in the feature table; nothing is queued",
    "INVALID_CSV": "an uploaded CSV that cannot be loaded (the line is in `details`)",
    "HEADERS_TOO_LARGE": "a header over 8,190 bytes, or more than 100 headers",
    "INTERNAL_ERROR": "a bug: logged with its traceback, answered with a generic message",
    "NOT_IMPLEMENTED": "a transfer coding gunicorn does not support; drift, feedback, "
    "performance or `GET /models/<name>/comparison` on the embedded SQLite database (they run "
    "in PostgreSQL)",
    "INVALID_WINDOW": "a monitoring window or bucket that cannot be read: a timestamp that is not "
    "ISO 8601, `since` not before `until`, a bucket other than e.g. `15m`, `1h`, `1d`, or more "
    "than 10,000 buckets",
    "NO_REFERENCE_PROFILE": "drift of a version registered without a sample, so without a "
    "reference profile",
    "EMPTY_WINDOW": "drift over a window with no logged predictions of that version; drift of "
    "a job with no predicted rows",
    "INVALID_FEEDBACK": "every feedback item was rejected (unknown request id or entity, row "
    "out of range, label not a class, malformed item); `details.rejected` says why per item",
    "MODEL_NOT_READY": "no production version yet, no default model, or the artifact cannot be "
    "loaded here",
    "SERVICE_UNAVAILABLE": "the database is unavailable or did not answer within "
    "`DB_STATEMENT_TIMEOUT`, or no pooled connection came within `DB_POOL_TIMEOUT`; Redis is "
    "unavailable; training on demand without Redis",
    "NOT_READY": "`GET /ready` (or `/ping`, `/v2/health/ready`) when a check fails",
}


@dataclass(frozen=True)
class ErrorCode:
    """One code, the status it is answered with, and when."""

    status: int
    code: str
    when: str


def raised_codes() -> dict[str, int]:
    """code -> status, from the API's error classes, the core table and the server's own."""
    return dict(raised_pairs())


def raised_pairs() -> set[tuple[str, int]]:
    """Every (code, status) the classes and tables raise (a code has one status: tested)."""
    api_errors = [errors.APIError, *_subclasses(errors.APIError)]
    return {
        *((cls.error_code, cls.status) for cls in api_errors),
        *((row.error_code, row.status) for row in CORE_ERRORS.values()),
        *((code, status) for status, code in HTTP_ERROR_CODES.items()),
        *((code, status) for _, status, code in PARSE_ERRORS),
        (HEAD_TIMED_OUT[1], HEAD_TIMED_OUT[0]),
    }


def _subclasses(cls: type) -> list[type]:
    return [sub for direct in cls.__subclasses__() for sub in (direct, *_subclasses(direct))]


def error_codes() -> list[ErrorCode]:
    """Every code, by status then code."""
    return sorted(
        (ErrorCode(status, code, WHEN[code]) for code, status in raised_codes().items()),
        key=lambda e: (e.status, e.code),
    )


def markdown_table() -> str:
    """README's error-code table."""
    lines = ["| status | `error_code` | when |", "| --- | --- | --- |"]
    lines += [f"| {e.status} | `{e.code}` | {e.when} |" for e in error_codes()]
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown_table())
