"""Batch jobs: the rows that are the source of truth for job state (chunks: db.job_chunks).

Query functions take the session first and keyword-only arguments; they never commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from db.chunk_plans import ChunkPlan
from db.job_sources import Source
from db.lifecycle import ACTIVE_VALUES, Lifecycle
from db.tables import ChunkStatus, JobStatus, batch_chunks, batch_jobs


class JobNotFoundError(LookupError):
    """No batch job has this id."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"no batch job with id {job_id!r}")
        self.job_id = job_id


class JobNotCancelableError(ValueError):
    """The job already ended (finished or failed), so there is nothing to cancel."""

    def __init__(self, job_id: str, status: str) -> None:
        super().__init__(f"batch job {job_id} is {status}; only queued or started jobs cancel")
        self.job_id, self.status = job_id, status


@dataclass(frozen=True)
class JobRecord(Lifecycle):
    """One row of batch_jobs (its status and timings are in Lifecycle)."""

    model_version: int
    source: dict[str, Any]
    rows_total: int
    rows_done: int
    chunks_total: int
    chunks_done: int
    chunk_rows: int
    classes: list[Any] | None

    @property
    def rows_per_second(self) -> float | None:
        """Throughput so far, None before the first chunk started."""
        seconds = self.seconds
        if not seconds:
            return None
        return self.rows_done / seconds

    def source_object(self) -> Source:
        """The stored source as a Source."""
        return Source.from_dict(self.source)


def _job(row: sa.Row) -> JobRecord:
    return JobRecord(**row._mapping)


def create_job(
    session: Session,
    *,
    model_name: str,
    model_version: int,
    classes: Sequence[Any] | None,
    source: Source,
    chunk_rows: int,
    chunks: Sequence[ChunkPlan],
) -> JobRecord:
    """Insert a queued job and its planned chunks; returns the new job."""
    job_id = str(uuid.uuid4())
    session.execute(
        batch_jobs.insert().values(
            id=job_id,
            model_name=model_name,
            model_version=model_version,
            source=source.to_dict(),
            status=JobStatus.QUEUED.value,
            rows_total=sum(chunk.rows for chunk in chunks),
            rows_done=0,
            chunks_total=len(chunks),
            chunks_done=0,
            chunk_rows=chunk_rows,
            created_at=datetime.now(UTC),
            classes=list(classes) if classes is not None else None,
        )
    )
    session.execute(
        batch_chunks.insert(),
        [
            {
                "job_id": job_id,
                "chunk_index": chunk.index,
                "first_id": chunk.first_id,
                "last_id": chunk.last_id,
                "rows": chunk.rows,
                "status": ChunkStatus.QUEUED.value,
                "attempts": 1,
            }
            for chunk in chunks
        ],
    )
    return get_job(session, job_id=job_id)


def get_job(session: Session, *, job_id: str) -> JobRecord:
    """One job; raises JobNotFoundError."""
    row = session.execute(sa.select(batch_jobs).where(batch_jobs.c.id == job_id)).first()
    if row is None:
        raise JobNotFoundError(job_id)
    return _job(row)


def list_jobs(
    session: Session, *, status: str | None = None, offset: int = 0, limit: int = 50
) -> list[JobRecord]:
    """Jobs newest first, optionally with one status."""
    query = sa.select(batch_jobs).order_by(batch_jobs.c.created_at.desc(), batch_jobs.c.id)
    if status is not None:
        query = query.where(batch_jobs.c.status == status)
    return [_job(row) for row in session.execute(query.offset(offset).limit(limit))]


def count_jobs(session: Session, *, status: str | None = None) -> int:
    """How many jobs there are (with `status`, when given)."""
    query = sa.select(sa.func.count()).select_from(batch_jobs)
    if status is not None:
        query = query.where(batch_jobs.c.status == status)
    return session.scalar(query) or 0


def mark_job_started(session: Session, *, job_id: str) -> None:
    """queued -> started, stamping started_at (a no-op once started or ended)."""
    session.execute(
        batch_jobs.update()
        .where(batch_jobs.c.id == job_id, batch_jobs.c.status == JobStatus.QUEUED.value)
        .values(status=JobStatus.STARTED.value, started_at=datetime.now(UTC))
    )


def fail_job(session: Session, *, job_id: str, error: str) -> None:
    """Fail an active job with `error` (a job that already ended keeps its state)."""
    session.execute(
        batch_jobs.update()
        .where(batch_jobs.c.id == job_id, batch_jobs.c.status.in_(ACTIVE_VALUES))
        .values(
            status=JobStatus.FAILED.value,
            error=sa.func.coalesce(batch_jobs.c.error, error),
            finished_at=datetime.now(UTC),
        )
    )


def cancel_job(session: Session, *, job_id: str) -> JobRecord:
    """Cancel a queued or started job: queued chunks will not run. Canceling twice is fine."""
    job = get_job(session, job_id=job_id)
    if job.status == JobStatus.CANCELED:
        return job
    if not job.active:
        raise JobNotCancelableError(job_id, job.status)
    # Chunks being processed hold their row lock: skip them rather than wait; they see the
    # canceled job when they finish and mark themselves.
    waiting = (
        sa.select(batch_chunks.c.chunk_index)
        .where(
            batch_chunks.c.job_id == job_id,
            batch_chunks.c.status == ChunkStatus.QUEUED.value,
        )
        .with_for_update(skip_locked=True)
    )
    session.execute(
        batch_chunks.update()
        .where(batch_chunks.c.job_id == job_id, batch_chunks.c.chunk_index.in_(waiting))
        .values(status=ChunkStatus.CANCELED.value)
    )
    session.execute(
        batch_jobs.update()
        .where(batch_jobs.c.id == job_id, batch_jobs.c.status.in_(ACTIVE_VALUES))
        .values(status=JobStatus.CANCELED.value, finished_at=datetime.now(UTC))
    )
    return get_job(session, job_id=job_id)


def count_by_status(session: Session) -> dict[str, int]:
    """{status: number of jobs} over every batch job (for /metrics)."""
    query = sa.select(batch_jobs.c.status, sa.func.count()).group_by(batch_jobs.c.status)
    return {status: count for status, count in session.execute(query)}
