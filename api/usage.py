"""GET /usage: how to call the API, with copy-paste examples built from the served models."""

from __future__ import annotations

import csv
import io
import json
import logging
import shlex
from typing import Any
from urllib.parse import urlencode

from api.errors import APIError
from api.protocols.docs import PROTOCOL_ENDPOINTS, protocol_examples
from api.services import Services
from db import registry
from inference.model import LoadedModel

log = logging.getLogger(__name__)

ENDPOINTS = {
    "GET /health": "liveness; touches nothing",
    "GET /ready": "200 when the database, Redis and the default model are usable",
    "GET /usage": "this page",
    "POST /models/<name>/predict": "predict rows in any input format; ?version=N pins a version",
    "GET /models/<name>/predict?<feature>=<value>&...": "predict one row from query arguments",
    "GET /models/<name>/entities/<id>/prediction": "predict a stored entity by id",
    "POST /predict, POST /model/predict, GET /?<feature>=...": "the same on the default model",
    "GET /model": "the default model's features, pipeline steps and estimator",
    "GET /model/download": "the default model's cloudpickle bytes",
    "GET /models/<name>/traffic": "production, canary (version, percent) and shadow versions",
    "PUT /models/<name>/traffic": 'admin: set them at once, e.g. {"canary": {"version": 4, '
    '"percent": 10}, "shadow": [5]}; X-Routing-Key (or the entity id) keeps a caller on one '
    "version",
    "GET /models/<name>/comparison?version=N&since=&until=": "agreement of a canary or shadow "
    "version with production on the same requests, and both versions' live accuracy",
}
INPUT_FORMATS = {
    "columnar": '{"data": {"age": [39, 50], "workclass": ["State-gov", "Private"], ...}}',
    "split": '{"columns": ["age", ...], "data": [[39, ...], ...]}',
    "dataframe_split": '{"dataframe_split": {"columns": [...], "data": [[...]]}}',
    "records": '[{...}, {...}] or {"records": [...]} or {"dataframe_records": [...]}',
    "record": '{"age": 39, "workclass": "State-gov", ...}',
    "ids": '{"ids": [17, 42]}',
    "csv": "Content-Type: text/csv, a header row, then one line per row",
}
ERRORS = [
    (400, "INVALID_JSON", "the body is not valid JSON"),
    (400, "INVALID_BODY", "the JSON or CSV is not one of the accepted shapes, or holds no rows"),
    (400, "INVALID_PARAMETER", "the URL is not valid text, or a model name or job id is malformed"),
    (400, "INVALID_VERSION", "?version= is not a positive integer"),
    (400, "INVALID_ID", "an entity id is not of the id column's type"),
    (400, "NO_FEATURE_TABLE", "ids were sent to a model without a feature table"),
    (400, "INVALID_TRAFFIC", "a traffic setting that cannot be served; details name the field"),
    (404, "MODEL_NOT_FOUND", "no model of that name"),
    (404, "VERSION_NOT_FOUND", "the model has no such version"),
    (404, "ENTITY_NOT_FOUND", "no stored entity with that id (with several ids: none found)"),
    (404, "NOT_FOUND", "no such endpoint"),
    (405, "METHOD_NOT_ALLOWED", "the endpoint exists for other methods"),
    (413, "PAYLOAD_TOO_LARGE", "too many rows or bytes for one request; submit a batch job"),
    (415, "UNSUPPORTED_MEDIA_TYPE", "a Content-Type other than application/json or text/csv"),
    (422, "INVALID_INPUT", "features missing, mistyped, null or not encodable; see details"),
    (500, "INTERNAL_ERROR", "a bug; it is logged"),
    (501, "NOT_IMPLEMENTED", "comparisons need PostgreSQL (DATABASE_URL)"),
    (503, "MODEL_NOT_READY", "no production version, no default model, or it cannot load"),
    (503, "SERVICE_UNAVAILABLE", "the database or the feature table cannot be used right now"),
]


def build_usage(svc: Services, base_url: str) -> dict[str, Any]:
    """The usage document for this server."""
    base = base_url.rstrip("/")
    try:
        default = svc.default_model_name()
    except APIError:
        default = None
    with svc.sessions() as session:
        names = sorted(registry.production_versions(session), key=lambda n: (n != default, n))
    models = []
    for name in names:
        try:
            models.append(model_usage(svc, svc.model(name), base, name == default))
        except APIError as exc:
            models.append({"name": name, "unavailable": exc.message})
    return {
        "service": "skserve",
        "default_model": default,
        "endpoints": {**ENDPOINTS, **PROTOCOL_ENDPOINTS},
        "input_formats": INPUT_FORMATS,
        "response": '{"model", "version", "predictions", "probabilities" (classifiers), '
        '"warnings" (if any), "ids" and "not_found" (id input)}',
        "limits": {
            "max_rows_per_request": svc.settings.max_rows_per_request,
            "max_body_bytes": svc.settings.max_body_bytes,
            "larger_inputs": "POST /jobs (batch prediction jobs)",
        },
        "errors": [{"status": s, "error_code": c, "when": w} for s, c, w in ERRORS],
        "models": models,
    }


def model_usage(svc: Services, model: LoadedModel, base: str, default: bool) -> dict[str, Any]:
    """Features and ready-to-paste examples for one model."""
    row, entity_id = example_row(svc, model)
    url = f"{base}/models/{model.name}/predict"
    post = f"curl -s -X POST {url} -H 'Content-Type: application/json' -d "
    split = {"columns": list(row), "data": [list(row.values())]}
    examples = {
        "split": post + shlex.quote(json.dumps(split)),
        "record": post + shlex.quote(json.dumps(row)),
        "query": "curl -s " + shlex.quote(f"{url}?{_query(row)}"),
        "csv": f"curl -s -X POST {url} -H 'Content-Type: text/csv' --data-binary @rows.csv",
        "rows.csv": _csv(row),
        "python": (
            "import requests\n\n"
            f"row = {row!r}\n"
            f'response = requests.post("{url}", json={{"records": [row]}}, timeout=10)\n'
            "print(response.json())"
        ),
    }
    if entity_id is not None:
        examples["ids"] = post + shlex.quote(json.dumps({"ids": [entity_id]}))
        examples["entity"] = f"curl -s {base}/models/{model.name}/entities/{entity_id}/prediction"
    examples.update(protocol_examples(model.name, row, base, default))
    if default:
        examples["seed_record"] = examples["record"].replace(url, f"{base}/predict")
        examples["seed_query"] = "curl -s " + shlex.quote(f"{base}/?{_query(row)}")
    return {
        "name": model.name,
        "version": model.version,
        "default": default,
        "features": model.schema.to_dict()["features"],
        "classes": model.classes,
        "example_row": row,
        "example_entity_id": entity_id,
        "examples": examples,
    }


def example_row(svc: Services, model: LoadedModel) -> tuple[dict[str, Any], Any]:
    """A real row: the first entity of the feature table, else a stored holdout sample row."""
    names = model.schema.names
    try:
        table = svc.entity_table(model)
        entity_id = svc.entities.first_id(table)
        if entity_id is not None:
            found = svc.entities.fetch(table, [entity_id])
            return {name: found.columns[name][0] for name in names}, entity_id
    except Exception as exc:  # examples are best effort; the sample row below still works
        log.debug("no example entity for %s: %s", model.name, exc)
    sample = model.artifact.metadata.sample
    if sample:
        return {name: sample[0].get(name) for name in names}, None
    return {f.name: _placeholder(f) for f in model.schema.features}, None


def _placeholder(feature: Any) -> Any:
    if feature.kind == "categorical":
        return feature.categories[0] if feature.categories else "value"
    return feature.minimum if feature.minimum is not None else 0


def _query(row: dict[str, Any]) -> str:
    return urlencode({k: "" if v is None else v for k, v in row.items()})


def _csv(row: dict[str, Any]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(row)
    writer.writerow(["" if v is None else v for v in row.values()])
    return buffer.getvalue()
