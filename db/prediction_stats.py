"""Recent online traffic per model from `prediction_log`: requests per minute, p50/p99 latency."""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from db.tables import prediction_log

# Newest log rows read per model on databases without percentile_cont (SQLite).
_SQLITE_SAMPLE = 10_000


@dataclass(frozen=True)
class TrafficStats:
    """Logged online requests of one model over the last `minutes`."""

    requests: int
    minutes: int
    p50_ms: float | None
    p99_ms: float | None

    def per_minute(self, sample: float) -> float:
        """Requests per minute, scaled up by the log's sample share."""
        return self.requests / self.minutes / sample if sample > 0 else 0.0


def recent_traffic(session: Session, *, name: str, minutes: int = 5) -> TrafficStats:
    """Count and latency percentiles of `name`'s logged requests in the last `minutes`."""
    since = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes)
    where = sa.and_(prediction_log.c.model_name == name, prediction_log.c.logged_at >= since)
    if session.get_bind().dialect.name == "postgresql":
        latency = prediction_log.c.latency_ms
        row = session.execute(
            sa.select(
                sa.func.count(),
                sa.func.percentile_cont(0.5).within_group(latency),
                sa.func.percentile_cont(0.99).within_group(latency),
            ).where(where)
        ).one()
        return TrafficStats(row[0], minutes, row[1], row[2])
    return _traffic_in_python(session, where, minutes)


def _traffic_in_python(session: Session, where: sa.ColumnElement, minutes: int) -> TrafficStats:
    count = session.execute(sa.select(sa.func.count()).where(where)).scalar_one()
    latencies = sorted(
        session.execute(
            sa.select(prediction_log.c.latency_ms)
            .where(where)
            .order_by(prediction_log.c.logged_at.desc())
            .limit(_SQLITE_SAMPLE)
        ).scalars()
    )
    if len(latencies) < 2:
        only = latencies[0] if latencies else None
        return TrafficStats(count, minutes, only, only)
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return TrafficStats(count, minutes, cuts[49], cuts[98])
