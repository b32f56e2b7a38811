"""Handing submitted batch jobs and training runs to RQ workers, or to an in-process pool.

With Redis each chunk is one RQ job on the "batch" queue, retried with backoff, and each training
run one RQ job on the "train" queue. Without Redis (the embedded default) the same chunk function
runs on a small thread pool in this process; training on demand needs Redis.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from db import jobs, training_runs
from db.job_submission import QueueUnavailableError
from worker.chunks import drop_upload, run_chunk_job, run_chunk_with_retries
from worker.context import JobContext
from worker.training import TRAIN_QUEUE, enqueue_training

log = logging.getLogger(__name__)

BATCH_QUEUE = "batch"
RETRY_INTERVALS: tuple[float, ...] = (1, 5, 15)
# A chunk whose worker died this many times (enqueued again each time) fails its job.
MAX_ENQUEUES = 5
# An RQ job marked started this recently may not have locked its chunk row yet.
START_GRACE = timedelta(seconds=1)
RESULT_TTL = 3600
FAILURE_TTL = 7 * 24 * 3600


def chunk_timeout(chunk_rows: int) -> int:
    """RQ job timeout for one chunk: generous for its size, short enough to notice a hang."""
    return max(180, chunk_rows // 500)


def rq_job_id(job_id: str, chunk_index: int, attempt: int) -> str:
    """The RQ job id of one enqueueing of a chunk."""
    return f"chunk-{job_id}-{chunk_index}-{attempt}"


def enqueue_chunks(
    queue: Any,
    job: jobs.JobRecord,
    chunks: Iterable[tuple[int, int]],
    *,
    intervals: tuple[float, ...] = RETRY_INTERVALS,
) -> None:
    """One RQ job per (chunk index, attempt), retried len(intervals) times with backoff."""
    # rq loads only where a job is queued or run: the API without REDIS_URL imports
    # this module and never needs it.
    from rq import Queue, Retry

    data = [
        Queue.prepare_data(
            run_chunk_job,
            args=(job.id, index),
            job_id=rq_job_id(job.id, index, attempt),
            description=f"batch job {job.id} chunk {index}",
            timeout=chunk_timeout(job.chunk_rows),
            retry=Retry(max=len(intervals), interval=list(intervals)) if intervals else None,
            result_ttl=RESULT_TTL,
            failure_ttl=FAILURE_TTL,
        )
        for index, attempt in chunks
    ]
    queue.enqueue_many(data)


class Dispatcher:
    """Runs the chunks of submitted jobs: on RQ when given Redis, else on an in-process pool."""

    def __init__(
        self,
        context: JobContext,
        redis: Any = None,
        *,
        intervals: tuple[float, ...] = RETRY_INTERVALS,
        threads: int | None = None,
    ) -> None:
        self.context = context
        self.intervals = intervals
        self.queue = _queue(BATCH_QUEUE, redis) if redis is not None else None
        self.train_queue = _queue(TRAIN_QUEUE, redis) if redis is not None else None
        if threads is None:
            threads = 1 if context.settings.embedded_database else 2  # SQLite has one writer
        self._threads = threads
        self._pool: ThreadPoolExecutor | None = None

    def dispatch(self, job: jobs.JobRecord) -> None:
        """Queue every chunk of a newly created job."""
        chunks = [(index, 1) for index in range(job.chunks_total)]
        if self.queue is None:
            for index, _ in chunks:
                future = self._executor().submit(
                    run_chunk_with_retries, self.context, job.id, index, self.intervals
                )
                future.add_done_callback(_log_failure)
            return
        try:
            enqueue_chunks(self.queue, job, chunks, intervals=self.intervals)
        except Exception as exc:
            with self.context.sessions() as session, session.begin():
                jobs.fail_job(session, job_id=job.id, error=f"could not queue the chunks: {exc}")
            raise QueueUnavailableError(f"the job queue is unavailable: {exc}", job.id) from exc

    def train(self, run: training_runs.TrainingRunRecord) -> None:
        """Queue a recorded training run for a worker; without RQ, QueueUnavailableError."""
        if self.train_queue is None:
            message = "training on demand needs REDIS_URL and a `skserve worker`"
            raise QueueUnavailableError(message, run.id)
        try:
            enqueue_training(self.train_queue, run)
        except Exception as exc:
            with self.context.sessions() as session, session.begin():
                error = f"could not queue the run: {exc}"
                training_runs.fail_run(session, run_id=run.id, error=error)
            raise QueueUnavailableError(f"the job queue is unavailable: {exc}", run.id) from exc

    def cancel(self, job_id: str) -> jobs.JobRecord:
        """Cancel a job: chunks not yet started will not run; running ones finish."""
        with self.context.sessions() as session, session.begin():
            job = jobs.cancel_job(session, job_id=job_id)
        drop_upload(self.context, job, lock_timeout_ms=2_000)
        return job

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="skserve-batch")
        return self._pool

    def shutdown(self, wait: bool = True) -> None:
        """Stop the in-process pool (after the queued chunks when `wait`)."""
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=not wait)


def _queue(name: str, redis: Any) -> Any:
    # rq loads only where a job is queued or run: the API without REDIS_URL imports
    # this module and never needs it.
    from rq import Queue

    return Queue(name, connection=redis)


def _log_failure(future: Future) -> None:
    exc = future.exception()
    if exc is not None:
        log.error("batch chunk failed: %s", exc)


def run_job_inline(
    context: JobContext,
    job: jobs.JobRecord,
    *,
    intervals: tuple[float, ...] = RETRY_INTERVALS,
    progress: Callable[[jobs.JobRecord], object] = lambda job: None,
) -> jobs.JobRecord:
    """Run every chunk of `job` here, one after another (the CLI without Redis)."""
    for index in range(job.chunks_total):
        try:
            run_chunk_with_retries(context, job.id, index, intervals)
        except Exception:  # recorded on the job by run_chunk_with_retries
            log.debug("chunk %s of job %s failed", index, job.id, exc_info=True)
        with context.sessions() as session:
            job = jobs.get_job(session, job_id=job.id)
        progress(job)
        if not job.active:
            break
    return job
