"""Real `skserve worker` processes: kill -9 mid-job, warm shutdown on SIGTERM, cancel."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from rq.registry import FailedJobRegistry, StartedJobRegistry
from sqlalchemy.orm import Session

from db import job_chunks
from db.tables import ChunkStatus, JobStatus
from tests.conftest import TEST_REDIS_URL
from tests.worker.helpers import (
    assert_exactly_once,
    get_job,
    reference_predictions,
    start_worker,
    submit,
    wait_for,
    wait_until_ended,
)
from worker.dispatch import Dispatcher

pytestmark = pytest.mark.slow

WHOLE_TABLE = {"table": "adult_features"}  # 32,561 rows: 33 chunks of 1,000


@pytest.fixture
def workers(pg_url):
    """Starts `skserve worker` processes; any still running are killed afterwards."""
    started = []

    def start(*extra: str):
        process = start_worker(pg_url, TEST_REDIS_URL, *extra)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def chunks_done(engine, job_id: str) -> int:
    return get_job(engine, job_id).chunks_done


def chunk_statuses(engine, job_id: str) -> list[str]:
    with Session(engine) as session:
        return [c.status for c in job_chunks.list_chunks(session, job_id=job_id)]


@contextlib.contextmanager
def chunk_held_mid_transaction(context, job_id: str) -> Iterator[None]:
    """Lock the job row so the worker's next chunk stops just before committing.

    The chunk has locked its row and written its predictions, and waits for the job row to
    count itself: exactly the state a crash must not leave behind.
    """
    with context.engine.connect() as connection, connection.begin():
        connection.execute(
            sa.text("SELECT id FROM batch_jobs WHERE id = :id FOR UPDATE"), {"id": job_id}
        )
        wait_for(lambda: worker_waiting(context.engine), what="a chunk waiting to commit")
        yield


def worker_waiting(engine) -> bool:
    """True when a session is blocked on a lock while counting a chunk into its job."""
    query = sa.text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock' AND query LIKE 'UPDATE batch_jobs SET %chunks_done + 1%'"
    )
    with engine.connect() as connection:
        return connection.scalar(query) > 0


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
    assert second.wait(timeout=180) == 0, second.stderr.read().decode()[-2_000:]

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
