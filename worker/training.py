"""Training as an RQ job, so the API can enqueue a run of a stored spec."""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from trainer.spec import TrainingSpec
from trainer.train import Promotion, train_model
from worker.context import current_context

log = logging.getLogger(__name__)

TRAIN_QUEUE = "train"
TRAIN_TIMEOUT = 2 * 3600


def train_job(spec_dict: dict[str, Any], promotion: str = Promotion.NO.value) -> dict[str, Any]:
    """RQ entry point: train a spec (TrainingSpec.to_dict form), register it, maybe promote it."""
    context = current_context()
    spec = TrainingSpec.from_dict(spec_dict)
    report = train_model(context.engine, spec, promotion=Promotion(promotion), progress=log.info)
    log.info("trained %s v%s: %s", report.name, report.version, report.reason)
    return asdict(report)


def enqueue_training(redis: Any, spec_dict: dict[str, Any], promotion: str) -> Any:
    """Queue train_job on the "train" queue; returns the RQ job."""
    from rq import Queue

    Promotion(promotion)  # fail here, not in the worker, on an unknown promotion
    queue = Queue(TRAIN_QUEUE, connection=redis)
    return queue.enqueue(
        train_job,
        spec_dict,
        promotion,
        job_timeout=TRAIN_TIMEOUT,
        description=f"train {spec_dict.get('name')}",
    )
