"""Monitoring a version: drift of a window or a batch job, feedback, live performance.

The API routes, the CLI and the drift gauges call these; each takes an open connection (the
caller owns the transaction) and raises the conditions below for the API to answer.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from db import drift, feedback, jobs, registry
from inference.metrics import classification_metrics, regression_metrics
from inference.profiles import PROFILE_KEY, Thresholds, drift_report, positive_class


class NoReferenceProfileError(LookupError):
    """The version was registered without rows to profile, so there is nothing to compare."""

    def __init__(self, name: str, version: int) -> None:
        super().__init__(
            f"model '{name}' version {version} has no reference profile (it was registered "
            "without a sample); register it with `skserve models register --sample CSV` or "
            "upload it with a `sample` field to get one"
        )
        self.name, self.version = name, version


class EmptyWindowError(LookupError):
    """Nothing to compute from: no served rows (or no rows with feedback) in the window."""

    def __init__(self, message: str, details: dict[str, Any]) -> None:
        super().__init__(message)
        self.details = details


class InvalidWindowError(ValueError):
    """A window or bucket that cannot be read: a bad timestamp, since not before until."""

    def __init__(self, message: str, details: dict[str, Any]) -> None:
        super().__init__(message)
        self.details = details


@dataclass(frozen=True)
class Window:
    """A half-open time range [since, until)."""

    since: datetime
    until: datetime

    def to_dict(self) -> dict[str, str]:
        """ISO 8601 bounds."""
        return {"since": self.since.isoformat(), "until": self.until.isoformat()}


DEFAULT_WINDOW = timedelta(hours=24)
BUCKET = re.compile(r"([1-9][0-9]{0,5})([smhd])")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_BUCKETS = 10_000


def parse_window(since: str | None, until: str | None) -> Window:
    """[since, until) from ISO 8601 text; until defaults to now, since to 24 hours before."""
    end = parse_time(until, "until") or datetime.now(UTC)
    start = parse_time(since, "since")
    if start is None:
        start = end - DEFAULT_WINDOW if end.year > 1 else end
    if start >= end:
        raise InvalidWindowError(
            f"since ({start.isoformat()}) must be before until ({end.isoformat()})",
            {"since": start.isoformat(), "until": end.isoformat()},
        )
    return Window(start, end)


def parse_time(raw: str | None, name: str) -> datetime | None:
    """An ISO 8601 timestamp (UTC when it names no zone), None when absent."""
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise InvalidWindowError(
            f"{name} must be an ISO 8601 timestamp such as 2026-12-01T10:00:00Z, got {raw!r:.80}",
            {name: raw},
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_bucket(raw: str, window: Window) -> int:
    """`30m`, `1h`, `1d` ... as seconds, at most MAX_BUCKETS of them in the window."""
    match = BUCKET.fullmatch(raw.strip())
    if match is None:
        raise InvalidWindowError(
            f"bucket must be a count and a unit (s, m, h, d) such as 1h or 15m, got {raw!r:.80}",
            {"bucket": raw},
        )
    seconds = int(match.group(1)) * UNIT_SECONDS[match.group(2)]
    if (window.until - window.since).total_seconds() / seconds > MAX_BUCKETS:
        raise InvalidWindowError(
            f"the window holds more than {MAX_BUCKETS} buckets of {raw}; use a wider bucket",
            {"bucket": raw},
        )
    return seconds


def prepare_transaction(connection: Connection, seconds: float) -> None:
    """Bound this transaction's statements (they may scan large windows), and turn JIT off:
    the drift query's many expressions cost PostgreSQL's JIT about 3 s to compile in every
    parallel worker, more than the whole scan of a sampled window takes."""
    milliseconds = max(int(seconds * 1000), 1)
    connection.execute(sa.text(f"SET LOCAL statement_timeout = {milliseconds}"))
    connection.execute(sa.text("SET LOCAL jit = off"))


def reference_profile(record: registry.VersionRecord) -> dict[str, Any]:
    """The version's reference profile, or NoReferenceProfileError."""
    profile = record.details.get(PROFILE_KEY)
    if not profile:
        raise NoReferenceProfileError(record.name, record.version)
    return profile


def window_drift(
    connection: Connection,
    record: registry.VersionRecord,
    window: Window,
    thresholds: Thresholds,
    max_requests: int = 0,
) -> dict[str, Any]:
    """Drift of the version's served predictions in the window against its profile.

    Windows of more than `max_requests` logged requests are sampled (drift.window_counts).
    """
    profile = reference_profile(record)
    drift.require_postgres(connection)
    counted = drift.window_counts(
        connection,
        model_name=record.name,
        version=record.version,
        since=window.since,
        until=window.until,
        columns=drift.counted_columns(profile),
        max_requests=max_requests,
    )
    report = drift_report(profile, counted.counts, thresholds)
    if report["rows"] == 0:
        raise EmptyWindowError(
            f"no predictions of {record.name} v{record.version} were logged in the window; "
            "widen ?since= / ?until= or pick another ?version=",
            {"model": record.name, "version": record.version, **window.to_dict()},
        )
    sampling = {
        "logged_requests": counted.logged_requests,
        "sampled_one_in": counted.sample_step,
    }
    return {
        "model": record.name,
        "version": record.version,
        **window.to_dict(),
        **report,
        **sampling,
    }


def job_drift(connection: Connection, job_id: str, thresholds: Thresholds) -> dict[str, Any]:
    """Drift of the rows a batch job has predicted against its version's profile."""
    drift.require_postgres(connection)
    with Session(bind=connection) as session:
        job = jobs.get_job(session, job_id=job_id)
        record = registry.get_version(session, name=job.model_name, version=job.model_version)
    profile = reference_profile(record)
    source = job.source_object()
    counts = drift.job_counts(
        connection,
        job_id=job_id,
        table=source.table,
        id_column=source.id_column,
        classes=[str(c) for c in job.classes] if job.classes else None,
        columns=drift.counted_columns(profile),
    )
    report = drift_report(profile, counts, thresholds)
    if report["rows"] == 0:
        raise EmptyWindowError(
            f"job {job_id} has no predicted rows yet ({job.status})",
            {"job_id": job_id, "status": job.status},
        )
    return {"job_id": job_id, "model": record.name, "version": record.version, **report}


def receive_feedback(
    connection: Connection, *, model_name: str, items: Sequence[Any]
) -> feedback.Outcome:
    """Check and store feedback items; each one is accepted, a duplicate or rejected."""
    drift.require_postgres(connection)
    with Session(bind=connection) as session:
        versions = registry.list_versions(session, name=model_name)
    if not versions:
        raise registry.ModelNotFoundError(model_name)
    classes = {
        v.version: [str(c) for c in v.details["classes"]] if v.details.get("classes") else None
        for v in versions
    }
    outcome = feedback.Outcome()
    parsed = feedback.parse_items(items, outcome)
    resolved = feedback.resolve(connection, model_name=model_name, items=parsed, outcome=outcome)
    checked = feedback.check_truth(resolved, classes, outcome)
    feedback.store(connection, model_name=model_name, items=checked, outcome=outcome)
    if outcome.rejected:
        outcome.rejected.sort(key=lambda rejected: rejected["index"])
    return outcome


def performance(
    connection: Connection,
    record: registry.VersionRecord,
    window: Window,
    bucket_seconds: int,
) -> dict[str, Any]:
    """Live metrics of the version's predictions with feedback, overall and per time bucket.

    A window without feedback answers `live: {"rows": 0}` and no buckets, beside the holdout.
    """
    classes = record.details.get("classes")
    labels = [str(c) for c in classes] if classes else None
    spec = record.details.get("spec") or {}
    positive = str(spec.get("positive_label") or positive_class(labels)) if labels else None
    rows = feedback.labelled_rows(
        connection,
        model_name=record.name,
        version=record.version,
        since=window.since,
        until=window.until,
        bucket_seconds=bucket_seconds,
        classes=labels,
    )
    by_bucket: dict[datetime, list[feedback.LabelledRow]] = defaultdict(list)
    for row in rows:
        by_bucket[row.bucket].append(row)
    return {
        "model": record.name,
        "version": record.version,
        **window.to_dict(),
        "bucket_seconds": bucket_seconds,
        "holdout": _holdout(record.metrics),
        "live": score(rows, labels, positive) if rows else {"rows": 0},
        "buckets": [
            {"start": start.isoformat(), **score(by_bucket[start], labels, positive)}
            for start in sorted(by_bucket)
        ],
    }


HOLDOUT_KEYS = ("accuracy", "roc_auc", "log_loss", "f1", "rmse", "mae", "r2", "holdout_rows")


def _holdout(metrics: dict[str, Any]) -> dict[str, Any]:
    return {key: metrics[key] for key in HOLDOUT_KEYS if key in metrics}


def score(
    rows: list[feedback.LabelledRow], labels: list[str] | None, positive: str | None
) -> dict[str, Any]:
    """scikit-learn's metrics of labelled rows, with their count."""
    truth = [row.truth for row in rows]
    predicted = [row.predicted for row in rows]
    if labels is None:
        return {"rows": len(rows), **regression_metrics(truth, predicted)}
    probabilities = None
    if all(row.probabilities is not None for row in rows):
        probabilities = np.array([row.probabilities for row in rows], dtype=float)
    metrics = classification_metrics(truth, predicted, probabilities, labels, positive)
    return {"rows": len(rows), **metrics}
