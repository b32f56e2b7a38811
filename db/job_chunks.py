"""The chunks of a batch job: planned at submission, each processed under its row lock.

A chunk is processed inside one transaction that holds its row lock (`lock_chunk`), so a
chunk row that can be locked while unfinished is not being worked on by anyone. Query
functions take the session first and keyword-only arguments; they never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from db import jobs
from db.lifecycle import ACTIVE_VALUES
from db.tables import ChunkStatus, JobStatus, batch_chunks, batch_jobs


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


def _chunk(row: sa.Row) -> ChunkRecord:
    return ChunkRecord(**row._mapping)


def list_chunks(session: Session, *, job_id: str) -> list[ChunkRecord]:
    """The job's chunks in order."""
    query = (
        sa.select(batch_chunks)
        .where(batch_chunks.c.job_id == job_id)
        .order_by(batch_chunks.c.chunk_index)
    )
    return [_chunk(row) for row in session.execute(query)]


def lock_chunk(session: Session, *, job_id: str, chunk_index: int) -> ChunkRecord:
    """The chunk row, locked FOR UPDATE until the caller's transaction ends."""
    row = session.execute(
        sa.select(batch_chunks)
        .where(batch_chunks.c.job_id == job_id, batch_chunks.c.chunk_index == chunk_index)
        .with_for_update()
    ).first()
    if row is None:
        raise jobs.JobNotFoundError(job_id)
    return _chunk(row)


def finish_chunk(
    session: Session, *, job_id: str, chunk_index: int, rows: int, started_at: datetime
) -> jobs.JobRecord:
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
    active = batch_jobs.c.status.in_(ACTIVE_VALUES)
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
    return jobs.get_job(session, job_id=job_id)


def set_chunk_status(session: Session, *, job_id: str, chunk_index: int, status: str) -> None:
    """Set one chunk's status (canceled chunks of a canceled or failed job)."""
    session.execute(
        batch_chunks.update()
        .where(batch_chunks.c.job_id == job_id, batch_chunks.c.chunk_index == chunk_index)
        .values(status=status)
    )


def record_chunk_error(
    session: Session, *, job_id: str, chunk_index: int, error: str, final: bool
) -> jobs.JobRecord:
    """Keep a chunk's first error; when `final`, fail the chunk and the job with that message."""
    chunk = batch_chunks.c
    where = sa.and_(chunk.job_id == job_id, chunk.chunk_index == chunk_index)
    values: dict[str, Any] = {"error": sa.func.coalesce(chunk.error, error)}
    if final:
        values["status"] = ChunkStatus.FAILED.value
    session.execute(batch_chunks.update().where(where).values(**values))
    if final:
        first = session.scalar(sa.select(chunk.error).where(where)) or error
        jobs.fail_job(session, job_id=job_id, error=f"chunk {chunk_index} failed: {first}")
    return jobs.get_job(session, job_id=job_id)


def idle_unfinished_chunks(session: Session, *, limit: int = 10_000) -> list[ChunkRecord]:
    """Unfinished chunks of active jobs that nobody is processing now, locked until commit.

    A chunk being processed holds its row lock, so SKIP LOCKED leaves it out; a chunk whose
    worker was killed has lost its lock with its database connection.
    """
    query = (
        sa.select(batch_chunks)
        .join(batch_jobs, batch_jobs.c.id == batch_chunks.c.job_id)
        .where(
            batch_jobs.c.status.in_(ACTIVE_VALUES),
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
