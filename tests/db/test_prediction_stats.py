"""Recent traffic from the prediction log, on PostgreSQL (percentile_cont) and SQLite."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from db.prediction_stats import recent_traffic
from db.tables import prediction_log


def _log_rows(session: Session, name: str, latencies: list[float], age: dt.timedelta) -> None:
    moment = dt.datetime.now(dt.UTC) - age
    session.execute(
        prediction_log.insert(),
        [
            {
                "logged_at": moment,
                "model_name": name,
                "model_version": 1,
                "rows": 1,
                "latency_ms": latency,
            }
            for latency in latencies
        ],
    )


@pytest.fixture(params=["postgresql", "sqlite"])
def session(request, pg_session, sqlite_engine):
    if request.param == "postgresql":
        yield pg_session
    else:
        with Session(sqlite_engine) as sqlite_session:
            yield sqlite_session


def test_counts_and_percentiles_cover_only_the_window_and_the_model(session):
    _log_rows(session, "stats", [float(n) for n in range(1, 101)], dt.timedelta(seconds=5))
    _log_rows(session, "stats", [5000.0] * 10, dt.timedelta(minutes=10))  # before the window
    _log_rows(session, "other", [9000.0] * 10, dt.timedelta(seconds=5))
    session.flush()
    stats = recent_traffic(session, name="stats", minutes=5)
    assert stats.requests == 100
    assert stats.p50_ms == pytest.approx(50.5)
    assert stats.p99_ms == pytest.approx(99.01)
    assert stats.per_minute(1.0) == 20 and stats.per_minute(0.5) == 40


def test_no_traffic_has_no_percentiles(session):
    stats = recent_traffic(session, name="quiet")
    assert (stats.requests, stats.p50_ms, stats.p99_ms) == (0, None, None)
