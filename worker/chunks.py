"""One chunk of a batch job: read its rows with COPY, predict, write them and the progress once.

Everything a chunk writes happens in one transaction that first locks the chunk's row, so a
chunk re-run after its worker died (or run twice by two workers) writes nothing twice.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from db import job_chunks, jobs, registry
from db.copy_io import read_frame
from db.job_results import write_predictions
from db.job_sources import drop_staged
from db.tables import ChunkStatus, JobStatus
from inference.predict import predict_frame
from inference.validation import InvalidInputError
from worker.context import JobContext, current_context

log = logging.getLogger(__name__)

# Errors that the same rows and model will raise again: retrying them only delays the failure.
PERMANENT_ERRORS = (InvalidInputError, registry.ModelNotFoundError, registry.VersionNotFoundError)
MAX_ERROR_CHARS = 1_000


@dataclass(frozen=True)
class ChunkOutcome:
    """What one run of a chunk did: "finished", "skipped" (already done) or "canceled"."""

    job_id: str
    chunk_index: int
    outcome: str
    rows: int = 0
    seconds: float = 0.0
    job_status: str | None = None


def run_chunk(context: JobContext, job_id: str, chunk_index: int) -> ChunkOutcome:
    """Predict one chunk and record it; a finished chunk or an ended job is a no-op."""
    started, clock = datetime.now(UTC), time.perf_counter()
    with context.sessions() as session, session.begin():
        jobs.mark_job_started(session, job_id=job_id)
    with context.sessions() as session, session.begin():
        chunk = job_chunks.lock_chunk(session, job_id=job_id, chunk_index=chunk_index)
        if chunk.status == ChunkStatus.FINISHED:
            return ChunkOutcome(job_id, chunk_index, "skipped")
        job = jobs.get_job(session, job_id=job_id)
        if not job.active:
            if chunk.status != ChunkStatus.FAILED:
                job_chunks.set_chunk_status(
                    session, job_id=job_id, chunk_index=chunk_index, status=ChunkStatus.CANCELED
                )
            return ChunkOutcome(job_id, chunk_index, "canceled", job_status=job.status)
        rows = predict_chunk(context, session.connection(), job, chunk)
        job = job_chunks.finish_chunk(
            session, job_id=job_id, chunk_index=chunk_index, rows=rows, started_at=started
        )
    if job.status == JobStatus.FINISHED:
        log.info("batch job %s finished: %s rows in %.1f s", job_id, job.rows_done, job.seconds)
        drop_upload(context, job)
    seconds = time.perf_counter() - clock
    return ChunkOutcome(job_id, chunk_index, "finished", rows, seconds, job.status)


def predict_chunk(
    context: JobContext, connection: Connection, job: jobs.JobRecord, chunk: job_chunks.ChunkRecord
) -> int:
    """Read the chunk's rows, predict them with the pinned version, write the predictions."""
    model = context.store.get(job.model_name, job.model_version)
    source = job.source_object()
    frame = read_frame(
        connection,
        source.table,
        model.schema.names,
        id_column=source.id_column,
        id_range=(chunk.first_id, chunk.last_id),
        ids=source.chunk_ids(chunk.first_id, chunk.last_id),
    )
    if frame.empty:  # the rows were deleted after the job was planned
        return 0
    result = predict_frame(model, frame)
    return write_predictions(
        connection,
        job_id=job.id,
        ids=frame.index.to_numpy(),
        predictions=result.predictions,
        probabilities=result.probabilities,
    )


def run_chunk_job(job_id: str, chunk_index: int) -> dict[str, Any]:
    """RQ entry point for one chunk. A failure on the last attempt fails the whole job."""
    # rq loads only where a job is queued or run: the API without REDIS_URL imports
    # this module and never needs it.
    from rq import get_current_job

    context = current_context()
    try:
        return asdict(run_chunk(context, job_id, chunk_index))
    except Exception as exc:
        rq_job = get_current_job()
        final = rq_job is None or not rq_job.retries_left or isinstance(exc, PERMANENT_ERRORS)
        record_failure(context, job_id, chunk_index, exc, final=final)
        raise  # RQ keeps the traceback and schedules the retry


def run_chunk_with_retries(
    context: JobContext, job_id: str, chunk_index: int, intervals: tuple[float, ...]
) -> ChunkOutcome:
    """run_chunk, retried in this thread after each of `intervals` seconds (the embedded queue)."""
    for attempt, wait in enumerate([*intervals, None], start=1):
        try:
            return run_chunk(context, job_id, chunk_index)
        except Exception as exc:
            final = wait is None or isinstance(exc, PERMANENT_ERRORS)
            record_failure(context, job_id, chunk_index, exc, final=final)
            if final:
                raise
            log.warning(
                "chunk %s of job %s failed (attempt %s): %s", chunk_index, job_id, attempt, exc
            )
            time.sleep(wait)
    raise AssertionError("unreachable")


def record_failure(
    context: JobContext, job_id: str, chunk_index: int, exc: BaseException, *, final: bool
) -> None:
    """Keep the chunk's first error; on the final attempt fail the job with it."""
    message = describe_error(exc)
    try:
        with context.sessions() as session, session.begin():
            job = job_chunks.record_chunk_error(
                session, job_id=job_id, chunk_index=chunk_index, error=message, final=final
            )
    except Exception:  # the database may be what failed; RQ still has the traceback
        log.exception("could not record the failure of chunk %s of job %s", chunk_index, job_id)
        return
    if final and job.status == JobStatus.FAILED:
        log.error("batch job %s failed: %s", job_id, job.error)
        drop_upload(context, job)


def describe_error(exc: BaseException) -> str:
    """A one-line message safe to show clients: no SQL, no traceback."""
    if isinstance(exc, InvalidInputError):
        problems = "; ".join(f"{name}: {problem}" for name, problem in exc.details.items())
        message = f"invalid feature values: {problems}"
    elif isinstance(exc, sa.exc.DBAPIError) or hasattr(exc, "pgcode"):
        # Only the driver's first line: the rest repeats the SQL and its parameters.
        orig = exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc
        message = f"database error: {type(orig).__name__}: {_first_line(orig)}"
    else:
        message = f"{type(exc).__name__}: {exc}"
    return message[:MAX_ERROR_CHARS]


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else ""


def drop_upload(context: JobContext, job: jobs.JobRecord, *, lock_timeout_ms: int = 10_000) -> None:
    """Drop the staged table of an uploaded CSV once its job has ended (best effort)."""
    source = job.source_object()
    if source.upload is None:
        return
    try:
        with context.engine.begin() as connection:
            drop_staged(connection, source, lock_timeout_ms=lock_timeout_ms)
    except Exception:  # a leftover staging table costs disk, not correctness
        log.warning("could not drop %s of job %s", source.table, job.id, exc_info=True)
