"""Training runs as RQ jobs: the API records a run in the database, a worker trains it."""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from db import training_runs
from inference.json_values import json_safe
from trainer.spec import TrainingSpec
from trainer.train import Promotion, train_model
from worker.context import JobContext, current_context

log = logging.getLogger(__name__)

TRAIN_QUEUE = "train"
TRAIN_TIMEOUT = 2 * 3600


def train_job(run_id: str) -> dict[str, Any]:
    """RQ entry point: train the run's spec, register it, maybe promote it, record the outcome."""
    return run_training(current_context(), run_id)


def run_training(context: JobContext, run_id: str) -> dict[str, Any]:
    """Train one recorded run here; its row says started, then finished or failed and why."""
    with context.sessions() as session, session.begin():
        run = training_runs.get_run(session, run_id=run_id)
        training_runs.start_run(session, run_id=run_id)
    try:
        spec = TrainingSpec.from_dict(run.spec)
        report = train_model(
            context.engine, spec, promotion=Promotion(run.promotion), progress=log.info
        )
    except Exception as exc:
        with context.sessions() as session, session.begin():
            training_runs.fail_run(session, run_id=run_id, error=str(exc) or type(exc).__name__)
        raise
    result = json_safe(asdict(report))
    with context.sessions() as session, session.begin():
        training_runs.finish_run(session, run_id=run_id, version=report.version, result=result)
    log.info("trained %s v%s: %s", report.name, report.version, report.reason)
    return result


def enqueue_training(queue: Any, run: training_runs.TrainingRunRecord) -> None:
    """Queue train_job for a recorded run on the "train" queue (its RQ job id is the run id)."""
    queue.enqueue(
        train_job,
        run.id,
        job_id=run.id,
        job_timeout=TRAIN_TIMEOUT,
        description=f"train {run.model_name}",
    )
