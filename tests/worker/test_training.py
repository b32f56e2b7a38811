"""Training as an RQ job: the API enqueues it, a worker runs the trainer's own code."""

from __future__ import annotations

from dataclasses import replace

from rq.job import Job
from sqlalchemy.orm import Session

from db import registry
from worker.training import enqueue_training


def test_a_training_job_registers_a_new_version(job_context, redis_conn, run_worker, adult_spec):
    spec = replace(adult_spec, name="adult_trained_by_rq", params={"n_estimators": 5})

    queued = enqueue_training(redis_conn, spec.to_dict(), "always")
    assert queued.origin == "train"
    run_worker(queues=("train",))

    report = Job.fetch(queued.id, connection=redis_conn).return_value()
    assert (report["name"], report["promoted"]) == ("adult_trained_by_rq", True)
    with Session(job_context.engine) as session:
        record = registry.get_version(session, name="adult_trained_by_rq")
    assert record.version == report["version"]
    assert record.details["spec"]["params"] == {"n_estimators": 5}
