"""Batch jobs and their chunks: the rows that are the source of truth for job state.

Query functions take the session first and keyword-only arguments; they never commit.
A chunk is processed inside one transaction that holds its row lock (`lock_chunk`), so a
chunk row that can be locked while unfinished is not being worked on by anyone.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from db.job_sources import ChunkPlan, Source
from db.tables import ChunkStatus, JobStatus, batch_chunks, batch_jobs

ACTIVE = (JobStatus.QUEUED, JobStatus.STARTED)
TERMINAL = (JobStatus.FINISHED, JobStatus.FAILED, JobStatus.CANCELED)


class JobNotFound(LookupError):
    """No batch job has this id."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"no batch job with id {job_id!r}")
        self.job_id = job_id


class JobNotCancelable(ValueError):
    """The job already ended (finished or failed), so there is nothing to cancel."""

    def __init__(self, job_id: str, status: str) -> None:
        super().__init__(f"batch job {job_id} is {status}; only queued or started jobs cancel")
        self.job_id, self.status = job_id, status


@dataclass(frozen=True)
class JobRecord:
    """One row of batch_jobs."""

    id: str
    model_name: str
    model_version: int
    source: dict[str, Any]
    status: str
    rows_total: int
    rows_done: int
    chunks_total: int
    chunks_done: int
    chunk_rows: int
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    classes: list[Any] | None

    @property
    def active(self) -> bool:
        """True while the job is queued or started."""
        return self.status in ACTIVE

    @property
    def seconds(self) -> float | None:
        """Seconds from the first chunk starting to the job ending (or to now)."""
        if self.started_at is None:
            return None
        end = self.finished_at or datetime.now(UTC)
        return max((end - self.started_at).total_seconds(), 0.0)

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


@dataclass(frozen=True)
class ChunkRecord:
    """One row of batch_chunks."""

    job_id: str
    chunk_index: int
    first_id: int | None
    last_id: int | None
    rows: int
    status: str
    attempts: int
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None


def _job(row: sa.Row) -> JobRecord:
    return JobRecord(**row._mapping)


def _chunk(row: sa.Row) -> ChunkRecord:
    return ChunkRecord(**row._mapping)


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
    """One job; raises JobNotFound."""
    row = session.execute(sa.select(batch_jobs).where(batch_jobs.c.id == job_id)).first()
    if row is None:
        raise JobNotFound(job_id)
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


def list_chunks(session: Session, *, job_id: str) -> list[ChunkRecord]:
    """The job's chunks in order."""
    query = (
        sa.select(batch_chunks)
        .where(batch_chunks.c.job_id == job_id)
        .order_by(batch_chunks.c.chunk_index)
    )
    return [_chunk(row) for row in session.execute(query)]


def mark_job_started(session: Session, *, job_id: str) -> None:
    """queued -> started, stamping started_at (a no-op once started or ended)."""
    session.execute(
        batch_jobs.update()
        .where(batch_jobs.c.id == job_id, batch_jobs.c.status == JobStatus.QUEUED.value)
        .values(status=JobStatus.STARTED.value, started_at=datetime.now(UTC))
    )


def lock_chunk(session: Session, *, job_id: str, chunk_index: int) -> ChunkRecord:
    """The chunk row, locked FOR UPDATE until the caller's transaction ends."""
    row = session.execute(
        sa.select(batch_chunks)
        .where(batch_chunks.c.job_id == job_id, batch_chunks.c.chunk_index == chunk_index)
        .with_for_update()
    ).first()
    if row is None:
        raise JobNotFound(job_id)
    return _chunk(row)


def finish_chunk(
    session: Session, *, job_id: str, chunk_index: int, rows: int, started_at: datetime
) -> JobRecord:
    """Mark a locked chunk finished and count it; the last chunk finishes the job."""
    now = datetime.now(UTC)
    session.execute(
        batch_chunks.update()
        .where(batch_chunks.c.job_id == job_id, batch_chunks.c.chunk_index == chunk_index)
        .values(
            status=ChunkStatus.FINISHED.value, rows=rows, started_at=started_at, finished_at=now
        )
    )
    done = batch_jobs.c.chunks_done + 1
    active = batch_jobs.c.status.in_([s.value for s in ACTIVE])
    last = sa.and_(active, done >= batch_jobs.c.chunks_total)
    session.execute(
        batch_jobs.update()
        .where(batch_jobs.c.id == job_id)
        .values(
            rows_done=batch_jobs.c.rows_done + rows,
            chunks_done=done,
            status=sa.case((last, JobStatus.FINISHED.value), else_=batch_jobs.c.status),
            finished_at=sa.case((last, now), else_=batch_jobs.c.finished_at),
            started_at=sa.func.coalesce(batch_jobs.c.started_at, started_at),
        )
    )
    return get_job(session, job_id=job_id)


def set_chunk_status(session: Session, *, job_id: str, chunk_index: int, status: str) -> None:
    """Set one chunk's status (canceled chunks of a canceled or failed job)."""
    session.execute(
        batch_chunks.update()
        .where(batch_chunks.c.job_id == job_id, batch_chunks.c.chunk_index == chunk_index)
        .values(status=status)
    )


def record_chunk_error(
    session: Session, *, job_id: str, chunk_index: int, error: str, final: bool
) -> JobRecord:
    """Keep a chunk's first error; when `final`, fail the chunk and the job with that message."""
    chunk = batch_chunks.c
    where = sa.and_(chunk.job_id == job_id, chunk.chunk_index == chunk_index)
    values: dict[str, Any] = {"error": sa.func.coalesce(chunk.error, error)}
    if final:
        values["status"] = ChunkStatus.FAILED.value
    session.execute(batch_chunks.update().where(where).values(**values))
    if final:
        first = session.scalar(sa.select(chunk.error).where(where)) or error
        fail_job(session, job_id=job_id, error=f"chunk {chunk_index} failed: {first}")
    return get_job(session, job_id=job_id)


def fail_job(session: Session, *, job_id: str, error: str) -> None:
    """Fail an active job with `error` (a job that already ended keeps its state)."""
    session.execute(
        batch_jobs.update()
        .where(batch_jobs.c.id == job_id, batch_jobs.c.status.in_([s.value for s in ACTIVE]))
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
        raise JobNotCancelable(job_id, job.status)
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
        .where(batch_jobs.c.id == job_id, batch_jobs.c.status.in_([s.value for s in ACTIVE]))
        .values(status=JobStatus.CANCELED.value, finished_at=datetime.now(UTC))
    )
    return get_job(session, job_id=job_id)


def idle_unfinished_chunks(session: Session, *, limit: int = 10_000) -> list[ChunkRecord]:
    """Unfinished chunks of active jobs that nobody is processing now, locked until commit.

    A chunk being processed holds its row lock, so SKIP LOCKED leaves it out; a chunk whose
    worker was killed has lost its lock with its database connection.
    """
    query = (
        sa.select(batch_chunks)
        .join(batch_jobs, batch_jobs.c.id == batch_chunks.c.job_id)
        .where(
            batch_jobs.c.status.in_([s.value for s in ACTIVE]),
            batch_chunks.c.status.in_([ChunkStatus.QUEUED.value, ChunkStatus.STARTED.value]),
        )
        .order_by(batch_chunks.c.job_id, batch_chunks.c.chunk_index)
        .limit(limit)
        .with_for_update(of=batch_chunks, skip_locked=True)
    )
    return [_chunk(row) for row in session.execute(query)]


def count_attempt(session: Session, *, job_id: str, chunk_index: int) -> int:
    """Add one to a chunk's enqueue count and return the new count."""
    return session.execute(
        batch_chunks.update()
        .where(batch_chunks.c.job_id == job_id, batch_chunks.c.chunk_index == chunk_index)
        .values(attempts=batch_chunks.c.attempts + 1)
        .returning(batch_chunks.c.attempts)
    ).scalar_one()


def count_by_status(session: Session) -> dict[str, int]:
    """{status: number of jobs} over every batch job (for /metrics)."""
    query = sa.select(batch_jobs.c.status, sa.func.count()).group_by(batch_jobs.c.status)
    return {status: count for status, count in session.execute(query)}
