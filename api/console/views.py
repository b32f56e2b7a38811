"""What the console's pages show, gathered from the registry, the model store and the job table.

Nothing here runs on the prediction routes: every function is called by a /ui/ page only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from api import errors
from api.routes.jobs import job_json
from api.services import services
from db import jobs, registry
from db.prediction_stats import recent_traffic

# Holdout metrics shown on the models page, in this order, when a version has them.
HEADLINE_METRICS = ("accuracy", "roc_auc", "f1", "rmse", "mae", "r2")


@dataclass(frozen=True)
class ModelRow:
    """One line of the models page."""

    name: str
    production: int | None
    versions: int
    metrics: dict[str, Any]
    fast_path: bool | None
    fast_path_reason: str | None
    requests_per_minute: float | None
    p50_ms: float | None
    p99_ms: float | None


def model_rows() -> list[ModelRow]:
    """Every registered model with its production version, metrics, fast path and traffic."""
    svc = services()
    with svc.sessions() as session:
        records = registry.list_versions(session)
        by_name: dict[str, list[registry.VersionRecord]] = {}
        for record in records:
            by_name.setdefault(record.name, []).append(record)
        return [_model_row(session, name, found) for name, found in by_name.items()]


def _model_row(session: Any, name: str, records: list[registry.VersionRecord]) -> ModelRow:
    production = next((r for r in records if r.is_production), None)
    fast, reason = _fast_path(name) if production else (None, None)
    stats = recent_traffic(session, name=name)
    sample = services().settings.prediction_log_sample
    return ModelRow(
        name=name,
        production=production.version if production else None,
        versions=len(records),
        metrics=headline_metrics(production.metrics if production else {}),
        fast_path=fast,
        fast_path_reason=reason,
        requests_per_minute=stats.per_minute(sample) if sample > 0 else None,
        p50_ms=stats.p50_ms,
        p99_ms=stats.p99_ms,
    )


def _fast_path(name: str) -> tuple[bool | None, str | None]:
    """Whether this process serves the production version on the compiled path, and why not."""
    try:
        model = services().model(name)
    except errors.APIError as exc:
        return None, exc.message
    return model.fast is not None, model.fast_path_reason


def headline_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """The holdout metrics worth a column, in a fixed order."""
    return {key: metrics[key] for key in HEADLINE_METRICS if isinstance(metrics.get(key), float)}


def model_page(name: str) -> dict[str, Any]:
    """Versions newest first, the production record, the roll-back target and the features."""
    with services().sessions() as session:
        records = registry.list_versions(session, name=name)
    if not records:
        raise registry.ModelNotFoundError(name)
    records.sort(key=lambda r: r.version, reverse=True)
    production = next((r for r in records if r.is_production), None)
    shown = production or records[0]
    metadata = shown.metadata()
    return {
        "name": name,
        "versions": records,
        "production": production,
        "rollback": rollback_target(records),
        "metric_names": sorted({k for r in records for k in headline_metrics(r.metrics)}),
        "shown": shown,
        "features": metadata.schema.features,
        "classes": metadata.classes,
        "example": metadata.sample[0] if metadata.sample else {},
    }


def rollback_target(records: list[registry.VersionRecord]) -> registry.VersionRecord | None:
    """The version that was production most recently before the current one."""
    earlier = [r for r in records if not r.is_production and r.promoted_at is not None]
    return max(earlier, key=lambda r: r.promoted_at, default=None)


def job_rows(limit: int = 50) -> list[dict[str, Any]]:
    """The newest jobs as the API shows them, with an ETA."""
    with services().sessions() as session:
        found = jobs.list_jobs(session, limit=limit)
    return [with_eta(job_json(job)) for job in found]


def job_view(job_id: str) -> dict[str, Any]:
    """One job as the API shows it, with an ETA; 404 JOB_NOT_FOUND when unknown."""
    with services().sessions() as session:
        job = jobs.get_job(session, job_id=job_id)
    return with_eta(job_json(job))


def with_eta(job: dict[str, Any]) -> dict[str, Any]:
    """Add `eta_seconds` (None when unknown) and `percent` to a job's JSON."""
    rate, left = job["rows_per_second"], job["rows_total"] - job["rows_done"]
    active = job["status"] in {"queued", "started"}
    job["eta_seconds"] = round(left / rate, 1) if active and rate else None
    job["percent"] = round(100 * job["rows_done"] / job["rows_total"]) if job["rows_total"] else 0
    return job


def model_names() -> list[str]:
    """Names of the models with a production version (the job form's choices)."""
    with services().sessions() as session:
        return sorted(registry.production_versions(session))
