"""Resuming chunks whose worker died: the database says who holds a chunk, RQ says who will.

A chunk being processed holds its row lock in PostgreSQL. An unfinished chunk of an active job
whose row can be locked, and whose RQ job will not run (missing, failed, or "started" by a
worker that no longer holds the lock), is enqueued again. Running it twice is harmless: the
second run finds it finished and writes nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from db import job_chunks, jobs
from worker.context import JobContext
from worker.dispatch import MAX_ENQUEUES, RETRY_INTERVALS, START_GRACE, enqueue_chunks, rq_job_id

log = logging.getLogger(__name__)


def resume_idle_chunks(
    context: JobContext, queue: Any, *, intervals: tuple[float, ...] = RETRY_INTERVALS
) -> int:
    """Enqueue again the chunks nobody holds and no queue will run; returns how many."""
    # rq loads only where a job is queued or run: the API without REDIS_URL imports
    # this module and never needs it.
    from rq.job import Job

    resumed: list[tuple[job_chunks.ChunkRecord, int, Any]] = []
    with context.sessions() as session, session.begin():
        idle = job_chunks.idle_unfinished_chunks(session)
        if not idle:
            return 0
        ids = [rq_job_id(c.job_id, c.chunk_index, c.attempts) for c in idle]
        rq_jobs = Job.fetch_many(ids, connection=queue.connection)
        # Taken by a worker that has not started it yet: RQ's intermediate queue (RQ's own
        # cleanup re-runs a job left there by a worker that died at that very moment).
        waiting = set(queue.get_job_ids()) | set(queue.intermediate_queue.get_job_ids())
        for chunk, rq_job in zip(idle, rq_jobs, strict=True):
            if will_run(rq_job, waiting):
                continue
            if chunk.attempts >= MAX_ENQUEUES:
                message = f"its worker stopped before finishing it {chunk.attempts} times"
                job_chunks.record_chunk_error(
                    session,
                    job_id=chunk.job_id,
                    chunk_index=chunk.chunk_index,
                    error=message,
                    final=True,
                )
                continue
            attempt = job_chunks.count_attempt(
                session, job_id=chunk.job_id, chunk_index=chunk.chunk_index
            )
            resumed.append((chunk, attempt, rq_job))
        for job_id in sorted({chunk.job_id for chunk, _, _ in resumed}):
            job = jobs.get_job(session, job_id=job_id)
            mine = [(c.chunk_index, attempt) for c, attempt, _ in resumed if c.job_id == job_id]
            enqueue_chunks(queue, job, mine, intervals=intervals)
            log.warning("batch job %s: enqueued abandoned chunks %s again", job_id, mine)
    for _, _, rq_job in resumed:
        _forget(rq_job)
    return len(resumed)


def will_run(rq_job: Any, waiting: set[str]) -> bool:
    """True when RQ will still hand this job to a worker, or one only just took it.

    `waiting` holds the ids in the queue and those a worker has taken but not started yet.
    """
    # rq loads only where a job is queued or run (see resume_idle_chunks).
    from rq.job import JobStatus
    from rq.utils import now

    if rq_job is None:
        return False
    status = rq_job.get_status(refresh=False)
    if status in (JobStatus.SCHEDULED, JobStatus.DEFERRED) or rq_job.id in waiting:
        return True
    since = rq_job.started_at if status == JobStatus.STARTED else rq_job.enqueued_at
    recent = since is not None and now() - since < START_GRACE
    return status in (JobStatus.QUEUED, JobStatus.STARTED) and recent


def _forget(rq_job: Any) -> None:
    """Delete the replaced RQ job so RQ's own abandoned-job cleanup does not retry it too."""
    if rq_job is None:
        return
    try:
        rq_job.delete()
    except Exception:  # only bookkeeping: a duplicate run would find the chunk finished
        log.debug("could not delete RQ job %s", rq_job.id, exc_info=True)
