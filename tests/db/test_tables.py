"""Column types of skserve's tables behave the same on PostgreSQL and SQLite."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from db import training_runs
from db.tables import prediction_log


def test_timestamps_read_back_in_utc_on_sqlite_too(sqlite_engine, pg_session):
    for session in (Session(sqlite_engine), pg_session):
        with session:
            run = training_runs.create_run(session, model_name="m", spec={}, promotion="no")
            training_runs.start_run(session, run_id=run.id)
            started = training_runs.get_run(session, run_id=run.id)
        for moment in (started.created_at, started.started_at):
            assert moment.utcoffset() is not None and moment.utcoffset().total_seconds() == 0
        assert started.started_at >= started.created_at.astimezone(UTC)


def _log_row(inputs: object) -> dict:
    return {
        "logged_at": datetime.now(UTC),
        "model_name": "m",
        "model_version": 1,
        "rows": 1,
        "latency_ms": 1.0,
        "inputs": inputs,
    }


def test_log_json_text_reads_back_parsed_on_both_backends(sqlite_engine, pg_session):
    for session in (Session(sqlite_engine), pg_session):
        with session:
            session.execute(prediction_log.insert(), _log_row({"age": [39, None]}))
            stored = session.execute(
                sa.select(prediction_log.c.inputs).where(prediction_log.c.model_name == "m")
            ).scalar_one()
        assert stored == {"age": [39, None]}


def test_log_json_text_refuses_nan_as_json_would(sqlite_engine):
    with (
        sqlite_engine.begin() as conn,
        pytest.raises(sa.exc.StatementError, match="not JSON compliant"),
    ):
        conn.execute(prediction_log.insert(), _log_row({"age": [float("nan")]}))
