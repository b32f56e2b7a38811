"""Training runs on demand: the rows that are the source of truth for their state.

Query functions take the session first and keyword-only arguments; they never commit.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from db.lifecycle import ACTIVE_VALUES, Lifecycle
from db.tables import JobStatus, training_runs


class TrainingRunNotFoundError(LookupError):
    """No training run of this model has this id."""

    def __init__(self, name: str, run_id: str) -> None:
        super().__init__(f"model {name!r} has no training run {run_id!r}")
        self.name, self.run_id = name, run_id


@dataclass(frozen=True)
class TrainingRunRecord(Lifecycle):
    """One row of training_runs (its status and timings are in Lifecycle)."""

    spec: dict[str, Any]
    promotion: str
    version: int | None
    result: dict[str, Any] | None


def create_run(
    session: Session, *, model_name: str, spec: dict[str, Any], promotion: str
) -> TrainingRunRecord:
    """Insert a queued training run of `spec`; returns it."""
    run_id = str(uuid.uuid4())
    session.execute(
        training_runs.insert().values(
            id=run_id,
            model_name=model_name,
            spec=spec,
            promotion=promotion,
            status=JobStatus.QUEUED.value,
            created_at=datetime.now(UTC),
        )
    )
    return get_run(session, run_id=run_id)


def get_run(session: Session, *, run_id: str, model_name: str | None = None) -> TrainingRunRecord:
    """One run (of `model_name` when given); raises TrainingRunNotFoundError."""
    query = sa.select(training_runs).where(training_runs.c.id == run_id)
    if model_name is not None:
        query = query.where(training_runs.c.model_name == model_name)
    row = session.execute(query).first()
    if row is None:
        raise TrainingRunNotFoundError(model_name or "?", run_id)
    return TrainingRunRecord(**row._mapping)


def start_run(session: Session, *, run_id: str) -> None:
    """Mark a queued run started (a retried run keeps its first start time)."""
    session.execute(
        training_runs.update()
        .where(training_runs.c.id == run_id, training_runs.c.status.in_(ACTIVE_VALUES))
        .values(
            status=JobStatus.STARTED.value,
            started_at=sa.func.coalesce(training_runs.c.started_at, datetime.now(UTC)),
        )
    )


def finish_run(session: Session, *, run_id: str, version: int, result: dict[str, Any]) -> None:
    """Record the version a run registered and its report."""
    _end(session, run_id, status=JobStatus.FINISHED.value, version=version, result=result)


def fail_run(session: Session, *, run_id: str, error: str) -> None:
    """Record why an active run failed."""
    _end(session, run_id, status=JobStatus.FAILED.value, error=error)


def _end(session: Session, run_id: str, **values: Any) -> None:
    session.execute(
        training_runs.update()
        .where(training_runs.c.id == run_id, training_runs.c.status.in_(ACTIVE_VALUES))
        .values(finished_at=datetime.now(UTC), **values)
    )
