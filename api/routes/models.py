"""Model metadata. For now the seed aliases on the default model: GET /model, /model/download.

The model-control endpoints (GET /models, /models/<name>, versions, upload, promote, train) are
a later issue and belong in this blueprint, reusing `describe_model` and `artifact_response`.
"""

from __future__ import annotations

import math
from typing import Any

from flask import Blueprint, Response, request

from api.services import services
from db import registry
from inference.introspect import estimator_class, pipeline_steps
from inference.predict import LoadedModel

bp = Blueprint("models", __name__)


@bp.get("/model")
def default_model() -> dict[str, Any]:
    """Seed alias: the default model's features, pipeline steps and estimator."""
    svc = services()
    return describe_model(svc.model(svc.default_model_name(), request.args.get("version")))


@bp.get("/model/download")
def download_default_model() -> Response:
    """Seed alias: the default model's cloudpickle bytes."""
    svc = services()
    model = svc.model(svc.default_model_name(), request.args.get("version"))
    return artifact_response(model.name, model.version)


def describe_model(model: LoadedModel) -> dict[str, Any]:
    """What a client needs to call a model: features, target, classes, steps, metrics."""
    metadata = model.artifact.metadata
    pipeline = model.artifact.pipeline
    return json_safe(
        {
            "name": model.name,
            "version": model.version,
            "task": metadata.task,
            "target": metadata.target,
            "classes": metadata.classes,
            "features": metadata.schema.to_dict()["features"],
            "pipeline_steps": pipeline_steps(pipeline),
            "estimator": estimator_class(pipeline),
            "metrics": metadata.metrics,
            "library_versions": metadata.library_versions,
            "fast_path": {"enabled": model.fast is not None, "reason": model.fast_path_reason},
        }
    )


def artifact_response(name: str, version: int) -> Response:
    """The stored cloudpickle bytes of one version, with their sha256 in a header."""
    with services().sessions() as session:
        record = registry.get_version(session, name=name, version=version)
        data = registry.get_artifact(session, name=name, version=version)
    response = Response(data, mimetype="application/octet-stream")
    response.headers.set("Content-Disposition", "attachment", filename=f"{name}-v{version}.pkl")
    response.headers["X-Model-Version"] = str(version)
    response.headers["X-Model-SHA256"] = record.sha256
    return response


def json_safe(value: Any) -> Any:
    """A copy with NaN and infinities as None and numpy scalars as Python values."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
