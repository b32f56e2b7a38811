"""Column types of skserve's tables behave the same on PostgreSQL and SQLite."""

from __future__ import annotations

from datetime import UTC

from sqlalchemy.orm import Session

from db import training_runs


def test_timestamps_read_back_in_utc_on_sqlite_too(sqlite_engine, pg_session):
    for session in (Session(sqlite_engine), pg_session):
        with session:
            run = training_runs.create_run(session, model_name="m", spec={}, promotion="no")
            training_runs.start_run(session, run_id=run.id)
            started = training_runs.get_run(session, run_id=run.id)
        for moment in (started.created_at, started.started_at):
            assert moment.utcoffset() is not None and moment.utcoffset().total_seconds() == 0
        assert started.started_at >= started.created_at.astimezone(UTC)
