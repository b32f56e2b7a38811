"""Monitoring over HTTP: drift of a window or a batch job, feedback, live performance.

Reads are open like every other read; feedback needs the admin token, because it writes the
ground truth that live metrics (and so promotion decisions) rest on. Drift, feedback and
performance need PostgreSQL (501 NOT_IMPLEMENTED on the embedded SQLite database).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import Blueprint, request

from api import errors
from api.auth import admin_required
from api.codecs import parse_json
from api.openapi.declare import Served, documented
from api.openapi.schemas import OK, VERSION_QUERY, query_parameter
from api.services import Services, parse_version, services
from db import monitoring, registry
from inference.json_values import json_safe
from inference.profiles import Thresholds

bp = Blueprint("monitoring", __name__)

TIME = {"type": "string", "format": "date-time"}
WINDOW_QUERY = (
    VERSION_QUERY,
    query_parameter("since", "Window start, ISO 8601 (default: 24 hours before until)", TIME),
    query_parameter("until", "Window end, ISO 8601, excluded (default: now)", TIME),
)
BUCKET_QUERY = query_parameter(
    "bucket", "Bucket width: a count and s, m, h or d (default 1h)", {"type": "string"}
)


def feedback_body(served: Served) -> dict[str, Any]:
    """A list of items, each naming a logged prediction and its true label or value."""
    item = {
        "type": "object",
        "properties": {
            "request_id": {"type": "string", "description": "X-Request-ID of the prediction"},
            "row": {"type": "integer", "minimum": 0},
            "id": {"type": "integer", "description": "entity id, instead of request_id + row"},
            "time": {**TIME, "description": "with id: the prediction at or before this time"},
            "label": {"description": "the true class (classifiers)"},
            "value": {"type": "number", "description": "the true value (regressors)"},
        },
    }
    example = [{"request_id": "3f2a9c", "row": 0, "label": ">50K"}, {"id": 17, "label": "<=50K"}]
    schema = {"type": "array", "items": item, "minItems": 1, "maxItems": served.max_rows}
    return {"application/json": {"schema": schema, "example": example}}


@bp.get("/models/<name>/drift")
@documented(
    "Drift: PSI, nulls, unseen categories and out-of-range values per feature and output of a "
    "version's logged predictions in a window, each with a verdict",
    responses=OK,
    errors=(404, 409, 422, 501, 503),
    query=WINDOW_QUERY,
)
def model_drift(name: str) -> dict[str, Any]:
    """PSI per feature and output of the version's logged predictions in ?since=..&until=."""
    _check_args({"version", "since", "until"})
    svc = services()
    record = _record(svc, name)
    window = _window()
    with svc.engine.connect() as connection, connection.begin():
        monitoring.prepare_transaction(connection, svc.settings.monitoring_statement_timeout)
        report = monitoring.window_drift(
            connection, record, window, thresholds(svc), svc.settings.drift_max_requests
        )
    return json_safe(report)


@bp.get("/jobs/<job_id>/drift")
@documented(
    "Drift of the rows a batch job predicted, against its version's reference profile",
    responses=OK,
    errors=(404, 409, 422, 501, 503),
)
def job_drift(job_id: str) -> dict[str, Any]:
    """PSI per feature and output of the rows a batch job predicted."""
    _check_args(set())
    svc = services()
    with svc.engine.connect() as connection, connection.begin():
        monitoring.prepare_transaction(connection, svc.settings.monitoring_statement_timeout)
        report = monitoring.job_drift(connection, job_id, thresholds(svc))
    return json_safe(report)


@bp.post("/models/<name>/feedback")
@admin_required
@documented(
    "Admin: true labels (or values) of logged predictions, by request id and row or by entity "
    "id; idempotent, with a report per rejected item",
    responses=OK,
    errors=(404, 422, 501, 503),
    body=feedback_body,
)
def post_feedback(name: str) -> tuple[dict[str, Any], int]:
    """Store true labels (or values) of logged predictions; a report per rejected item."""
    svc = services()
    items = parse_json(request.get_data(cache=False))
    if not isinstance(items, list) or not items:
        raise errors.InvalidBodyError(
            'send a non-empty JSON list: [{"request_id": "...", "row": 0, "label": ">50K"}, '
            '{"id": 17, "label": "<=50K"}]'
        )
    limit = svc.settings.max_rows_per_request
    if len(items) > limit:
        raise errors.PayloadTooLargeError(
            f"{len(items)} feedback items; send at most {limit} per request",
            {"max_rows_per_request": limit},
        )
    with svc.engine.connect() as connection, connection.begin():
        outcome = monitoring.receive_feedback(connection, model_name=name, items=items)
    body = {
        "accepted": outcome.accepted,
        "duplicates": outcome.duplicates,
        "rejected": outcome.rejected or [],
    }
    if outcome.accepted + outcome.duplicates == 0:
        raise errors.InvalidFeedbackError("no feedback item could be accepted", body)
    return body, 200


@bp.get("/models/<name>/performance")
@documented(
    "Live accuracy, ROC AUC, log loss and F1 (or RMSE, MAE, R²) of a version's predictions "
    "with feedback, per time bucket, next to its holdout metrics",
    responses=OK,
    errors=(404, 422, 501, 503),
    query=(*WINDOW_QUERY, BUCKET_QUERY),
)
def model_performance(name: str) -> dict[str, Any]:
    """Live accuracy, ROC AUC, log loss, F1 (or RMSE, MAE, R²) per ?bucket=, next to holdout."""
    _check_args({"version", "since", "until", "bucket"})
    svc = services()
    record = _record(svc, name)
    window = _window()
    seconds = monitoring.parse_bucket(request.args.get("bucket", "1h"), window)
    with svc.engine.connect() as connection, connection.begin():
        monitoring.prepare_transaction(connection, svc.settings.monitoring_statement_timeout)
        report = monitoring.performance(connection, record, window, seconds)
    return json_safe(report)


def thresholds(svc: Services) -> Thresholds:
    """The verdict thresholds from DRIFT_MODERATE_PSI and DRIFT_SHIFTED_PSI."""
    return Thresholds(svc.settings.drift_moderate_psi, svc.settings.drift_shifted_psi)


def _record(svc: Services, name: str) -> registry.VersionRecord:
    version = parse_version(request.args.get("version"))
    with svc.sessions() as session:
        return registry.get_version(session, name=name, version=version)


def _check_args(allowed: Iterable[str]) -> None:
    allowed = set(allowed)
    unknown = sorted(set(request.args) - allowed)
    if unknown:
        shown = ", ".join(sorted(allowed)) or "none"
        raise errors.InvalidBodyError(
            f"unknown query argument(s) {', '.join(unknown)[:200]}; this endpoint takes {shown}",
            {"unknown": unknown},
        )
    repeated = sorted(key for key, values in request.args.lists() if len(values) > 1)
    if repeated:
        raise errors.InvalidBodyError(
            f"{', '.join(repeated)} given more than once", {"repeated": repeated}
        )


def _window() -> monitoring.Window:
    return monitoring.parse_window(request.args.get("since"), request.args.get("until"))
