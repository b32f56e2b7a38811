"""One chunk, run directly: exactly once, idempotent re-runs, cancel, failures."""

from __future__ import annotations

import threading

import psycopg2.errors
import pytest
from sqlalchemy.orm import Session

from db import job_chunks, jobs
from db.tables import ChunkStatus, JobStatus
from inference.validation import InvalidInputError
from tests.worker.helpers import (
    NO_WAIT,
    assert_exactly_once,
    get_job,
    reference_predictions,
    stored_predictions,
    submit,
)
from worker.chunks import run_chunk, run_chunk_with_retries
from worker.dispatch import run_job_inline


def chunks_of(engine, job_id):
    with Session(engine) as session:
        return job_chunks.list_chunks(session, job_id=job_id)


def test_a_finished_chunk_run_again_writes_nothing(job_context, feature_copy):
    table = feature_copy(2_500)
    job = submit(job_context, source={"table": table}, chunk_rows=1_000)

    first = run_chunk(job_context, job.id, 0)
    again = run_chunk(job_context, job.id, 0)

    assert (first.outcome, first.rows) == ("finished", 1_000)
    assert (again.outcome, again.rows) == ("skipped", 0)
    assert len(stored_predictions(job_context.engine, job.id)) == 1_000
    progress = get_job(job_context.engine, job.id)
    assert (progress.status, progress.rows_done, progress.chunks_done) == ("started", 1_000, 1)


def test_the_last_chunk_finishes_the_job_with_in_process_predictions(job_context, feature_copy):
    table = feature_copy(2_500)
    job = submit(job_context, source={"table": table}, chunk_rows=1_000)

    outcomes = [run_chunk(job_context, job.id, index).job_status for index in (2, 0, 1)]

    assert outcomes == ["started", "started", "finished"]
    done = get_job(job_context.engine, job.id)
    assert (done.rows_done, done.chunks_done, done.error) == (2_500, 3, None)
    assert done.started_at <= done.finished_at
    assert_exactly_once(
        job_context.engine, done, reference_predictions(job_context.engine, done, table)
    )
    assert {c.status for c in chunks_of(job_context.engine, job.id)} == {ChunkStatus.FINISHED}


def test_two_workers_running_one_chunk_at_once_write_it_once(job_context, feature_copy):
    job = submit(job_context, source={"table": feature_copy(3_000)}, chunk_rows=3_000)
    outcomes: list[str] = []
    threads = [
        threading.Thread(target=lambda: outcomes.append(run_chunk(job_context, job.id, 0).outcome))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["finished", "skipped"]
    assert len(stored_predictions(job_context.engine, job.id)) == 3_000
    assert get_job(job_context.engine, job.id).status == JobStatus.FINISHED


def test_chunks_of_a_canceled_job_do_nothing(job_context):
    job = submit(job_context, source={"id_range": [1, 3_000]}, chunk_rows=1_000)
    run_chunk(job_context, job.id, 0)
    with job_context.sessions() as session, session.begin():
        canceled = jobs.cancel_job(session, job_id=job.id)

    assert canceled.status == JobStatus.CANCELED
    assert run_chunk(job_context, job.id, 1).outcome == "canceled"
    assert len(stored_predictions(job_context.engine, job.id)) == 1_000
    statuses = [c.status for c in chunks_of(job_context.engine, job.id)]
    assert statuses == [ChunkStatus.FINISHED, ChunkStatus.CANCELED, ChunkStatus.CANCELED]
    ended = get_job(job_context.engine, job.id)
    assert (ended.status, ended.chunks_done, ended.rows_done) == ("canceled", 1, 1_000)


def test_canceling_twice_is_fine_but_an_ended_job_cannot_be_canceled(job_context):
    job = submit(job_context, source={"ids": [1, 2, 3]})
    with job_context.sessions() as session, session.begin():
        jobs.cancel_job(session, job_id=job.id)
        assert jobs.cancel_job(session, job_id=job.id).status == JobStatus.CANCELED
    done = submit(job_context, source={"ids": [4]})
    run_chunk(job_context, done.id, 0)
    with job_context.sessions() as session, pytest.raises(jobs.JobNotCancelableError):
        jobs.cancel_job(session, job_id=done.id)


def test_rows_the_model_cannot_take_fail_the_job_at_once(job_context, feature_copy):
    table = feature_copy(30)
    with job_context.engine.begin() as connection:
        connection.exec_driver_sql(f"ALTER TABLE {table} ALTER COLUMN age TYPE text")
        connection.exec_driver_sql(f"UPDATE {table} SET age = 'old' WHERE id = 7")
    job = submit(job_context, source={"table": table}, chunk_rows=10)

    with pytest.raises(InvalidInputError):
        run_chunk_with_retries(job_context, job.id, 0, intervals=(60.0,))  # no retry: permanent

    failed = get_job(job_context.engine, job.id)
    assert failed.status == JobStatus.FAILED
    assert failed.error.startswith("chunk 0 failed: invalid feature values: age:")
    assert "'old'" in failed.error
    assert run_chunk(job_context, job.id, 1).outcome == "canceled"


def test_a_chunk_that_keeps_failing_fails_the_job_with_its_first_error(job_context, feature_copy):
    table = feature_copy(20)
    job = submit(job_context, source={"table": table}, chunk_rows=10)
    with job_context.engine.begin() as connection:
        connection.exec_driver_sql(f"DROP TABLE {table}")

    with pytest.raises(psycopg2.errors.UndefinedTable):
        run_chunk_with_retries(job_context, job.id, 0, intervals=NO_WAIT)

    failed = get_job(job_context.engine, job.id)
    assert failed.status == JobStatus.FAILED
    assert failed.error == (
        f'chunk 0 failed: database error: UndefinedTable: relation "{table}" does not exist'
    )
    chunk = chunks_of(job_context.engine, job.id)[0]
    assert (chunk.status, chunk.error) == (ChunkStatus.FAILED, failed.error.split(": ", 1)[1])


def test_inline_run_reports_progress_per_chunk(job_context):
    job = submit(job_context, source={"id_range": [101, 2_600]}, chunk_rows=1_000)
    seen: list[tuple[int, int]] = []

    done = run_job_inline(
        job_context, job, progress=lambda j: seen.append((j.chunks_done, j.rows_done))
    )

    assert done.status == JobStatus.FINISHED
    assert seen == [(1, 1_000), (2, 2_000), (3, 2_500)]
    assert_exactly_once(
        job_context.engine,
        done,
        reference_predictions(job_context.engine, done, "adult_features", list(range(101, 2_601))),
    )


def test_jobs_are_counted_by_status(job_context):
    with Session(job_context.engine) as session:
        before = jobs.count_by_status(session)
    submit(job_context, source={"ids": [1]})
    with Session(job_context.engine) as session:
        after = jobs.count_by_status(session)
    assert after.get("queued", 0) == before.get("queued", 0) + 1
