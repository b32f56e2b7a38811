"""Training on demand: record a run of a model's stored spec, queue it, then poll it."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request, url_for

from api import errors
from api.auth import admin_required
from api.openapi.declare import documented, link
from api.openapi.schemas import OBJECT, OK, json_response, query_parameter
from api.services import services
from db import training_runs

bp = Blueprint("training", __name__)

PROMOTIONS = ("no", "always", "if_better")
PROMOTE = query_parameter(
    "promote",
    "Promote the new version (default: if_better)",
    {"type": "string", "enum": PROMOTIONS},
)


@bp.post("/models/<name>/train")
@documented(
    "Record and queue a training run of the model's stored spec; poll the returned URL",
    responses={
        "202": {
            **json_response(OBJECT, "Queued"),
            "links": {
                "status": link(
                    "GET",
                    "/models/<name>/train/<run_id>",
                    name="$request.path.name",
                    run_id="$response.body#/job_id",
                )
            },
        }
    },
    errors=(404, 409, 503),
    query=(PROMOTE,),
)
@admin_required
def train(name: str) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Record and queue a training run of the model's stored spec; poll the returned URL."""
    svc = services()
    model = svc.model(name)
    promotion = request.args.get("promote", "if_better")
    if promotion not in PROMOTIONS:
        raise errors.InvalidBodyError(
            f"promote must be no, always or if_better, got {promotion!r}", {"promote": promotion}
        )
    spec = model.artifact.metadata.spec
    if not spec:
        raise errors.ConflictError(
            f"model {name!r} was registered without a training spec, so it cannot be retrained "
            "here; train it with `skserve train --spec ...`"
        )
    if svc.redis is None:
        raise errors.ServiceUnavailableError(
            "training on demand needs REDIS_URL and a `skserve worker`; without them run "
            f"`skserve train --spec <spec for {name}>`"
        )
    with svc.sessions() as session, session.begin():
        run = training_runs.create_run(session, model_name=name, spec=spec, promotion=promotion)
    svc.dispatcher.train(run)
    location = url_for("training.training_status", name=name, run_id=run.id)
    return (
        {"job_id": run.id, "status": run.status, "status_url": location},
        202,
        {"Location": location},
    )


@bp.get("/models/<name>/train/<run_id>")
@documented(
    "A training run: status, timings, the version it registered or its error",
    responses=OK,
    errors=(404, 503),
)
def training_status(name: str, run_id: str) -> dict[str, Any]:
    """Status and timings of a training run, with the version it registered once finished."""
    with services().sessions() as session:
        return run_json(training_runs.get_run(session, run_id=run_id, model_name=name))


def run_json(run: training_runs.TrainingRunRecord) -> dict[str, Any]:
    """A training run as the API shows it."""
    body: dict[str, Any] = {
        "job_id": run.id,
        "model": run.model_name,
        "status": run.status,
        "promote": run.promotion,
        "created_at": _iso(run.created_at),
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
        "version": run.version,
    }
    if run.result is not None:
        body["result"] = run.result
    if run.error is not None:
        body["error"] = run.error
    return body


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None
