"""Training as an RQ job: the API records and enqueues a run, a worker runs the trainer's code."""

from __future__ import annotations

from dataclasses import replace

from rq.job import Job
from sqlalchemy.orm import Session

from db import registry, training_runs
from worker.dispatch import Dispatcher


def _record_run(job_context, spec_dict, promotion="always"):
    with job_context.sessions() as session, session.begin():
        return training_runs.create_run(
            session, model_name=spec_dict["name"], spec=spec_dict, promotion=promotion
        )


def _run(job_context, run_id):
    with job_context.sessions() as session:
        return training_runs.get_run(session, run_id=run_id)


def test_a_training_job_registers_a_new_version(job_context, redis_conn, run_worker, adult_spec):
    spec = replace(adult_spec, name="adult_trained_by_rq", params={"n_estimators": 5})
    run = _record_run(job_context, spec.to_dict())

    Dispatcher(job_context, redis_conn).train(run)
    queued = Job.fetch(run.id, connection=redis_conn)
    assert queued.origin == "train"
    run_worker(queues=("train",))

    report = Job.fetch(queued.id, connection=redis_conn).return_value()
    assert (report["name"], report["promoted"]) == ("adult_trained_by_rq", True)
    with Session(job_context.engine) as session:
        record = registry.get_version(session, name="adult_trained_by_rq")
    assert record.version == report["version"]
    assert record.details["spec"]["params"] == {"n_estimators": 5}
    done = _run(job_context, run.id)
    assert (done.status, done.version, done.result) == ("finished", record.version, report)
    assert done.created_at <= done.started_at <= done.finished_at


def test_a_failing_run_records_its_error(job_context, redis_conn, run_worker, adult_spec):
    spec = replace(adult_spec, name="adult_bad_table", table="no_such_training_table")
    run = _record_run(job_context, spec.to_dict(), promotion="no")

    Dispatcher(job_context, redis_conn).train(run)
    run_worker(queues=("train",))

    failed = _run(job_context, run.id)
    assert failed.status == "failed" and failed.version is None
    assert "no_such_training_table" in failed.error
    assert failed.finished_at is not None
