"""Model metadata and control: the registry over HTTP, uploads, promotion.

Reads are open; changes need the admin token. The seed aliases GET /model and /model/download
act on the default model.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from flask import Blueprint, Response, request, url_for

from api import errors
from api.auth import admin_required
from api.codecs import parse_json
from api.openapi.declare import documented
from api.openapi.schemas import (
    OBJECT,
    OK,
    PICKLE,
    VERSION_QUERY,
    json_response,
    pipeline_upload_body,
)
from api.request_checks import form_value
from api.services import parse_version, requested_model, services
from db import registry
from inference.introspect import estimator_class, pipeline_steps
from inference.json_values import json_safe
from inference.model import LoadedModel
from inference.profiles import PROFILE_KEY

bp = Blueprint("models", __name__)


@bp.get("/models")
@documented("Every model, its versions, the production one", responses=OK, errors=(503,))
def list_models() -> dict[str, Any]:
    """Every model, its versions and which one is in production."""
    with services().sessions() as session:
        records = registry.list_versions(session)
    models: dict[str, dict[str, Any]] = {}
    for record in records:
        entry = models.setdefault(
            record.name, {"name": record.name, "production_version": None, "versions": []}
        )
        entry["versions"].append(version_summary(record))
        if record.is_production:
            entry["production_version"] = record.version
    return {"models": list(models.values())}


@bp.get("/models/<name>")
@documented(
    "The production version's features, pipeline, metrics and library versions",
    responses=OK,
    errors=(404, 503),
)
def show_model(name: str) -> dict[str, Any]:
    """The production version's metadata."""
    return describe_version(name, None)


@bp.get("/models/<name>/versions/<version>")
@documented("One version's metadata", responses=OK, errors=(404, 503))
def show_version(name: str, version: str) -> dict[str, Any]:
    """One version's metadata."""
    return describe_version(name, _version(version))


@bp.get("/models/<name>/versions/<version>/artifact")
@documented(
    "The cloudpickle bytes of one version (sha256 in X-Model-SHA256)",
    responses=PICKLE,
    errors=(404, 503),
)
def download_artifact(name: str, version: str) -> Response:
    """The cloudpickle bytes of one version (sha256 in X-Model-SHA256)."""
    number = _version(version)
    services().model(name, str(number))  # 404s with the same messages as predictions
    return artifact_response(name, number)


@bp.post("/models/<name>/versions")
@documented(
    "Upload a cloudpickled pipeline as a new version (unpickling runs its code: trusted "
    "files only)",
    responses={"201": json_response(OBJECT, "Registered")},
    errors=(415, 422, 503),
    body=pipeline_upload_body,
)
@admin_required
def upload_version(name: str) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Register an uploaded cloudpickle file (raw body or multipart field `file`)."""
    data, schema = _uploaded_pipeline()
    sample = _uploaded_sample()
    svc = services()
    limits = registry.inspection_limits(svc.settings)
    with svc.sessions() as session, session.begin():
        record = registry.register_pipeline(
            session, name=name, data=data, schema=schema, sample=sample, limits=limits
        )
    location = url_for("models.show_version", name=name, version=record.version)
    return version_summary(record), 201, {"Location": location}


@bp.post("/models/<name>/versions/<version>/promote")
@documented(
    "Make a version production (every API process serves it within MODEL_POLL_SECONDS)",
    responses=OK,
    errors=(404, 503),
)
@admin_required
def promote_version(name: str, version: str) -> dict[str, Any]:
    """Make a version production; every API process switches within MODEL_POLL_SECONDS."""
    number = _version(version)
    svc = services()
    svc.model(name, str(number))  # loads it here first, and 404s for unknown versions
    with svc.sessions() as session, session.begin():
        record = registry.promote(session, name=name, version=number)
    svc.store.refresh()
    return version_summary(record)


@bp.delete("/models/<name>/versions/<version>")
@documented(
    "Delete a version that is not in production",
    responses={"204": {"description": "Deleted"}},
    errors=(404, 409, 503),
)
@admin_required
def delete_version(name: str, version: str) -> tuple[str, int]:
    """Remove a version that is not in production."""
    number = _version(version)
    svc = services()
    svc.model(name, str(number))
    with svc.sessions() as session, session.begin():
        registry.delete_version(session, name=name, version=number)
    return "", 204


def _version(raw: str) -> int:
    number = parse_version(raw)
    assert number is not None
    return number


def _uploaded_pipeline() -> tuple[bytes, dict[str, Any] | None]:
    """The pipeline bytes and optional schema of an upload."""
    if request.files:
        upload = request.files.get("file")
        if upload is None:
            raise errors.InvalidBodyError(
                "multipart uploads carry the pickle in a field named `file`"
            )
        text = form_value("schema")
        schema = parse_json(text.encode("utf-8")) if text is not None else None
        if schema is not None and not isinstance(schema, dict):
            raise errors.InvalidBodyError(
                'the `schema` field must be an object: {"features": [...]}'
            )
        return upload.read(), schema
    data = request.get_data(cache=False)
    if not data:
        raise errors.InvalidBodyError(
            "send the cloudpickle file as the body (application/octet-stream) or as a "
            "multipart field named `file`"
        )
    return data, None


def _uploaded_sample() -> pd.DataFrame | None:
    """The optional multipart field `sample`: a CSV of rows to profile for drift."""
    upload = request.files.get("sample")
    if upload is None:
        return None
    try:
        return pd.read_csv(upload.stream)
    except (ValueError, UnicodeDecodeError) as exc:  # pandas' parser and empty-data errors
        raise errors.InvalidBodyError(f"the `sample` field is not a readable CSV: {exc}") from None


def version_summary(record: registry.VersionRecord) -> dict[str, Any]:
    """A version as listed: number, production flag, sha256, metrics, created time."""
    return json_safe(
        {
            "name": record.name,
            "version": record.version,
            "production": record.is_production,
            "sha256": record.sha256,
            "metrics": record.metrics,
            "created_at": record.created_at.isoformat() if record.created_at else None,
            "promoted_at": record.promoted_at.isoformat() if record.promoted_at else None,
        }
    )


def describe_version(name: str, version: int | None) -> dict[str, Any]:
    """describe_model plus registry facts (sha256, training data, created time)."""
    svc = services()
    model = svc.model(name, str(version) if version is not None else None)
    with svc.sessions() as session:
        record = registry.get_version(session, name=name, version=model.version)
    return {
        **describe_model(model),
        "production": record.is_production,
        "sha256": record.sha256,
        "training_data": json_safe(record.data_fingerprint),
        "registered_from": record.details.get("registered_from", "trainer"),
        "reference_profile": json_safe(record.details.get(PROFILE_KEY)),
        "created_at": record.created_at.isoformat() if record.created_at else None,
    }


@bp.get("/model")
@documented(
    "Seed alias: the default model's metadata",
    responses=OK,
    errors=(404, 503),
    query=(VERSION_QUERY,),
)
def default_model() -> dict[str, Any]:
    """Seed alias: the default model's features, pipeline steps and estimator."""
    return describe_model(requested_model())


@bp.get("/model/download")
@documented(
    "Seed alias: the default model's cloudpickle bytes",
    responses=PICKLE,
    errors=(404, 503),
    query=(VERSION_QUERY,),
)
def download_default_model() -> Response:
    """Seed alias: the default model's cloudpickle bytes."""
    model = requested_model()
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
            "fast_path": model.fast is not None,
            "fast_path_reason": model.fast_path_reason,
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
