"""Training on demand: enqueue a run of a model's stored spec, then poll it."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request, url_for

from api import errors
from api.auth import admin_required
from api.services import services
from inference.json_values import json_safe

bp = Blueprint("training", __name__)


@bp.post("/models/<name>/train")
@admin_required
def train(name: str) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Enqueue a training run of the model's stored spec; poll the returned URL."""
    from worker.training import enqueue_training

    svc = services()
    model = svc.model(name)
    promotion = request.args.get("promote", "if_better")
    if promotion not in ("no", "always", "if_better"):
        raise errors.InvalidBody(
            f"promote must be no, always or if_better, got {promotion!r}", {"promote": promotion}
        )
    spec = model.artifact.metadata.spec
    if not spec:
        raise errors.Conflict(
            f"model {name!r} was registered without a training spec, so it cannot be retrained "
            "here; train it with `skserve train --spec ...`"
        )
    if svc.redis is None:
        raise errors.ServiceUnavailable(
            "training on demand needs REDIS_URL and a `skserve worker`; without them run "
            f"`skserve train --spec <spec for {name}>`"
        )
    job = enqueue_training(svc.redis, spec, promotion)
    location = url_for("training.training_status", name=name, job_id=job.id)
    return (
        {"job_id": job.id, "status": "queued", "status_url": location},
        202,
        {"Location": location},
    )


@bp.get("/models/<name>/train/<job_id>")
def training_status(name: str, job_id: str) -> dict[str, Any]:
    """Status of a training run (and the version it registered once finished)."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    svc = services()
    if svc.redis is None:
        raise errors.NotFoundError(f"no training job {job_id!r}: training needs REDIS_URL")
    try:
        job = Job.fetch(job_id, connection=svc.redis)
    except NoSuchJobError:
        raise errors.NotFoundError(
            f"no training job {job_id!r} (finished jobs are kept for a limited time)",
            {"job_id": job_id},
        ) from None
    body: dict[str, Any] = {"job_id": job.id, "model": name, "status": job.get_status().value}
    if body["status"] == "finished":
        body["result"] = json_safe(job.return_value())
    if body["status"] == "failed":
        result = job.latest_result()
        body["error"] = (result.exc_string or "").strip().splitlines()[-1] if result else None
    return body
