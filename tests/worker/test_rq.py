"""Chunks on RQ: a real worker (BatchWorker in burst mode), retries, resuming abandoned chunks."""

from __future__ import annotations

import pytest
import redis
import sqlalchemy as sa
from rq.job import Job
from rq.registry import FailedJobRegistry
from sqlalchemy.orm import Session

from db import job_chunks
from db.tables import ChunkStatus, JobStatus
from tests.worker.helpers import (
    NO_WAIT,
    assert_exactly_once,
    get_job,
    reference_predictions,
    submit,
)
from worker.dispatch import (
    MAX_ENQUEUES,
    Dispatcher,
    QueueUnavailableError,
    enqueue_chunks,
    rq_job_id,
)
from worker.main import BatchWorker
from worker.resume import resume_idle_chunks


def test_chunks_are_rq_jobs_that_a_worker_runs(job_context, redis_conn, batch_queue, run_worker):
    job = submit(job_context, source={"id_range": [1, 4_500]}, chunk_rows=1_000)
    Dispatcher(job_context, redis_conn, intervals=NO_WAIT).dispatch(job)

    assert batch_queue.count == 5
    rq_job = Job.fetch(rq_job_id(job.id, 0, 1), connection=redis_conn)
    assert (rq_job.func_name, rq_job.args) == ("worker.chunks.run_chunk_job", (job.id, 0))
    assert rq_job.retries_left == 3
    assert run_worker()

    done = get_job(job_context.engine, job.id)
    assert (done.status, done.rows_done, done.chunks_done) == ("finished", 4_500, 5)
    ids = list(range(1, 4_501))
    reference = reference_predictions(job_context.engine, done, "adult_features", ids)
    assert_exactly_once(job_context.engine, done, reference)


def test_listed_ids_only_are_predicted(job_context, redis_conn, run_worker):
    ids = [5, 17, 2_000, 2_001, 30_000, 32_561]
    job = submit(job_context, source={"ids": [*ids, 17]}, chunk_rows=4)
    Dispatcher(job_context, redis_conn, intervals=NO_WAIT).dispatch(job)
    run_worker()

    done = get_job(job_context.engine, job.id)
    assert (done.status, done.rows_done, done.chunks_total) == ("finished", 6, 2)
    reference = reference_predictions(job_context.engine, done, "adult_features", ids)
    assert_exactly_once(job_context.engine, done, reference)


def test_a_failing_chunk_is_retried_then_fails_the_job(
    job_context, redis_conn, run_worker, feature_copy
):
    table = feature_copy(30)
    job = submit(job_context, source={"table": table}, chunk_rows=10)
    with job_context.engine.begin() as connection:
        connection.exec_driver_sql(f"DROP TABLE {table}")
    Dispatcher(job_context, redis_conn, intervals=NO_WAIT).dispatch(job)
    run_worker()

    failed = get_job(job_context.engine, job.id)
    assert failed.status == JobStatus.FAILED
    assert failed.error.startswith("chunk 0 failed: database error: UndefinedTable")
    # The first chunk used its 3 retries; the others then saw a failed job and stopped.
    rq_failed = FailedJobRegistry("batch", connection=redis_conn)
    assert rq_failed.get_job_ids() == [rq_job_id(job.id, 0, 1)]
    traceback = Job.fetch(rq_job_id(job.id, 0, 1), connection=redis_conn).latest_result()
    assert "UndefinedTable" in traceback.exc_string
    with Session(job_context.engine) as session:
        statuses = [c.status for c in job_chunks.list_chunks(session, job_id=job.id)]
    assert statuses == [ChunkStatus.FAILED, ChunkStatus.CANCELED, ChunkStatus.CANCELED]


def test_chunks_nobody_will_run_are_enqueued_again(job_context, batch_queue, run_worker):
    job = submit(job_context, source={"id_range": [1, 3_000]}, chunk_rows=1_000)
    # Chunk 0 is still queued on RQ; chunks 1 and 2 were lost (e.g. Redis was flushed).
    enqueue_chunks(batch_queue, job, [(0, 1)], intervals=NO_WAIT)

    assert resume_idle_chunks(job_context, batch_queue, intervals=NO_WAIT) == 2
    assert sorted(batch_queue.job_ids) == sorted(
        [rq_job_id(job.id, 0, 1), rq_job_id(job.id, 1, 2), rq_job_id(job.id, 2, 2)]
    )
    assert resume_idle_chunks(job_context, batch_queue, intervals=NO_WAIT) == 0
    run_worker()
    assert get_job(job_context.engine, job.id).rows_done == 3_000


def test_a_chunk_being_processed_is_not_enqueued_again(job_context, batch_queue):
    job = submit(job_context, source={"id_range": [1, 2_000]}, chunk_rows=1_000)
    with job_context.sessions() as holder, holder.begin():
        job_chunks.lock_chunk(holder, job_id=job.id, chunk_index=0)  # what a running chunk holds
        assert resume_idle_chunks(job_context, batch_queue, intervals=NO_WAIT) == 1
    assert batch_queue.job_ids == [rq_job_id(job.id, 1, 2)]


def test_a_chunk_abandoned_too_often_fails_its_job(job_context, batch_queue):
    job = submit(job_context, source={"id_range": [1, 10]})
    with job_context.engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE batch_chunks SET attempts = :n WHERE job_id = :id"),
            {"n": MAX_ENQUEUES, "id": job.id},
        )
    assert resume_idle_chunks(job_context, batch_queue, intervals=NO_WAIT) == 0
    failed = get_job(job_context.engine, job.id)
    assert failed.status == JobStatus.FAILED
    assert "stopped before finishing it 5 times" in failed.error


def test_worker_maintenance_resumes_abandoned_chunks_every_five_seconds(
    job_context, redis_conn, batch_queue
):
    job = submit(job_context, source={"id_range": [1, 2_000]}, chunk_rows=1_000)  # never queued
    worker = BatchWorker([batch_queue], connection=redis_conn, context=job_context)

    worker.run_maintenance_tasks()

    assert sorted(batch_queue.job_ids) == [rq_job_id(job.id, 0, 2), rq_job_id(job.id, 1, 2)]
    assert worker.maintenance_interval == 5
    assert worker.dequeue_timeout == 5  # an idle worker wakes up for maintenance this often


def test_a_job_whose_chunks_cannot_be_queued_fails_at_once(job_context):

    job = submit(job_context, source={"ids": [1]})
    unreachable = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=1)

    with pytest.raises(QueueUnavailableError, match="the job queue is unavailable"):
        Dispatcher(job_context, unreachable).dispatch(job)

    failed = get_job(job_context.engine, job.id)
    assert failed.status == JobStatus.FAILED
    assert failed.error.startswith("could not queue the chunks:")
