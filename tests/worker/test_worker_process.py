"""Real `skserve worker` processes: kill -9 mid-job, warm shutdown on SIGTERM, cancel."""

from __future__ import annotations

import os
import signal
import time

import pytest
from rq.registry import FailedJobRegistry, StartedJobRegistry
from sqlalchemy.orm import Session

from db import job_chunks
from db.tables import ChunkStatus, JobStatus
from tests.worker.helpers import (
    WHOLE_TABLE,
    assert_exactly_once,
    chunk_held_mid_transaction,
    chunk_statuses,
    chunks_done,
    get_job,
    log_tail,
    reference_predictions,
    submit,
    wait_for,
    wait_until_ended,
)
from worker.dispatch import Dispatcher

pytestmark = pytest.mark.slow


def test_a_worker_killed_mid_chunk_is_replaced_and_nothing_is_lost_or_doubled(
    job_context, redis_conn, workers
):
    job = submit(job_context, source=WHOLE_TABLE, chunk_rows=1_000)
    Dispatcher(job_context, redis_conn).dispatch(job)
    first = workers()
    wait_for(lambda: chunks_done(job_context.engine, job.id) >= 3, what="3 chunks", timeout=120)

    with chunk_held_mid_transaction(job_context, job.id):
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
    killed_at = get_job(job_context.engine, job.id)
    assert killed_at.status == JobStatus.STARTED

    second = workers("--burst")
    assert second.wait(timeout=180) == 0, log_tail(second)

    done = get_job(job_context.engine, job.id)
    assert (done.status, done.rows_done, done.chunks_done) == ("finished", 32_561, 33)
    reference = reference_predictions(job_context.engine, done, "adult_features")
    assert_exactly_once(job_context.engine, done, reference)
    with Session(job_context.engine) as session:
        attempts = [c.attempts for c in job_chunks.list_chunks(session, job_id=job.id)]
    assert sorted(attempts)[-2:] == [1, 2]  # the chunk killed in flight was enqueued again


def test_sigterm_finishes_the_current_chunk_then_exits(job_context, redis_conn, workers):
    job = submit(job_context, source=WHOLE_TABLE, chunk_rows=1_000)
    Dispatcher(job_context, redis_conn).dispatch(job)
    worker = workers()
    wait_for(lambda: chunks_done(job_context.engine, job.id) >= 2, what="2 chunks", timeout=120)

    with chunk_held_mid_transaction(job_context, job.id):
        before = chunks_done(job_context.engine, job.id)
        worker.send_signal(signal.SIGTERM)
        time.sleep(0.5)  # the signal arrives while the chunk waits
    assert worker.wait(timeout=60) == 0

    stopped = get_job(job_context.engine, job.id)
    assert stopped.status == JobStatus.STARTED
    assert stopped.chunks_done == before + 1  # the chunk in flight was finished, no other
    assert stopped.error is None
    assert StartedJobRegistry("batch", connection=redis_conn).get_job_ids() == []
    assert FailedJobRegistry("batch", connection=redis_conn).get_job_ids() == []
    finished_chunks = chunk_statuses(job_context.engine, job.id).count(ChunkStatus.FINISHED)
    assert finished_chunks == stopped.chunks_done

    assert workers("--burst").wait(timeout=180) == 0
    assert wait_until_ended(job_context.engine, job.id).status == JobStatus.FINISHED


def test_cancel_while_running_stops_the_remaining_chunks(job_context, redis_conn, workers):
    job = submit(job_context, source=WHOLE_TABLE, chunk_rows=1_000)
    dispatcher = Dispatcher(job_context, redis_conn)
    dispatcher.dispatch(job)
    workers()
    wait_for(lambda: chunks_done(job_context.engine, job.id) >= 2, what="2 chunks", timeout=120)

    canceled = dispatcher.cancel(job.id)
    assert canceled.status == JobStatus.CANCELED
    queue = dispatcher.queue
    started = StartedJobRegistry("batch", connection=redis_conn)
    wait_for(lambda: queue.count == 0 and started.count == 0, what="the queue to drain")

    ended = get_job(job_context.engine, job.id)
    assert ended.status == JobStatus.CANCELED
    assert ended.chunks_done <= canceled.chunks_done + 1  # at most the chunk in flight
    statuses = chunk_statuses(job_context.engine, job.id)
    assert statuses.count(ChunkStatus.FINISHED) == ended.chunks_done
    assert statuses.count(ChunkStatus.CANCELED) == 33 - ended.chunks_done
    with job_context.engine.connect() as connection:
        stored = connection.exec_driver_sql(
            "SELECT count(*) FROM batch_predictions WHERE job_id = %s", (job.id,)
        ).scalar()
    assert stored == ended.rows_done
