"""Real `skserve worker` processes through a Redis crash and through a worker that dies for good."""

from __future__ import annotations

import os
import signal
import time

import pytest
from sqlalchemy.orm import Session

from db import job_chunks
from db.tables import ChunkStatus
from settings.redis_client import make_redis
from tests.faults import PrivateRedis
from tests.worker.helpers import (
    WHOLE_TABLE,
    assert_exactly_once,
    chunk_held_mid_transaction,
    chunks_done,
    log_tail,
    reference_predictions,
    submit,
    wait_for,
    wait_until_ended,
)
from worker.dispatch import Dispatcher

pytestmark = pytest.mark.slow

ROWS = 32_561


def test_redis_killed_during_a_job_and_restarted(job_context, workers, tmp_path):
    redis_server = PrivateRedis(tmp_path).start()
    try:
        first, second = workers(redis_url=redis_server.url), workers(redis_url=redis_server.url)
        job = submit(job_context, source=WHOLE_TABLE, chunk_rows=1_000)
        Dispatcher(job_context, make_redis(redis_server.url)).dispatch(job)
        wait_for(lambda: chunks_done(job_context.engine, job.id) >= 4, what="4 chunks", timeout=120)
        redis_server.kill()  # the queue and every RQ job in it are gone
        time.sleep(5)
        assert first.poll() is None and second.poll() is None, log_tail(first)
        redis_server.start()  # empty: the resume pass re-enqueues what PostgreSQL says is left
        done = wait_until_ended(job_context.engine, job.id, timeout=120)
    finally:
        redis_server.stop()
    assert first.poll() is None, log_tail(first)
    assert second.poll() is None, log_tail(second)
    assert (done.status, done.rows_done, done.chunks_done) == ("finished", ROWS, 33)
    reference = reference_predictions(job_context.engine, done, "adult_features")
    assert_exactly_once(job_context.engine, done, reference)


def resumed_chunk(engine, job_id: str) -> job_chunks.ChunkRecord | None:
    """A chunk that was enqueued again and then finished."""
    with Session(engine) as session:
        chunks = job_chunks.list_chunks(session, job_id=job_id)
    return next((c for c in chunks if c.attempts >= 2 and c.status == ChunkStatus.FINISHED), None)


def test_a_dead_workers_chunk_resumes_within_15_s_and_long_ones_are_left_alone(
    job_context, redis_conn, workers
):
    victim, survivor = workers(), workers()
    job = submit(job_context, source=WHOLE_TABLE, chunk_rows=1_000)
    Dispatcher(job_context, redis_conn).dispatch(job)
    wait_for(lambda: chunks_done(job_context.engine, job.id) >= 3, what="3 chunks", timeout=120)
    with chunk_held_mid_transaction(job_context, job.id):
        time.sleep(12)  # chunks this slow, with live workers, are not taken from them
        assert resumed_chunk(job_context.engine, job.id) is None
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait(timeout=30)
        killed_at = time.monotonic()
    found = wait_for(
        lambda: resumed_chunk(job_context.engine, job.id),
        what="the dead worker's chunk",
        timeout=60,
    )
    resumed_after = time.monotonic() - killed_at
    print(f"chunk {found.chunk_index} of the killed worker finished {resumed_after:.1f} s later")
    assert resumed_after < 15, resumed_after
    done = wait_until_ended(job_context.engine, job.id, timeout=120)
    assert survivor.poll() is None, log_tail(survivor)
    assert (done.status, done.rows_done, done.chunks_done) == ("finished", ROWS, 33)
    reference = reference_predictions(job_context.engine, done, "adult_features")
    assert_exactly_once(job_context.engine, done, reference)
