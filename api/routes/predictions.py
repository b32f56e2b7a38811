"""Online predictions: feature rows in any accepted shape, query strings, stored entity ids."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

from flask import Blueprint, g, request

from api import errors
from api.bodies import read_body
from api.codecs import (
    EntityIds,
    Rows,
    decode_body,
    decode_query,
    encode_entities,
    encode_result,
    nested_values,
)
from api.metrics import PREDICTIONS
from api.request_ids import current_request_id
from api.services import services
from api.usage import build_usage
from db.entities import InvalidEntityId
from inference.model import LoadedModel
from inference.predict import PredictionResult, predict_validated
from inference.validation import InvalidInput

bp = Blueprint("predictions", __name__)
# What the prediction log keeps of a response; "protocol" is set by the V2 and MLflow layers.
LOGGED_OUTPUTS = ("predictions", "probabilities", "ids", "protocol")


def recorded(view: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """Count the rows a view predicted and queue them for the prediction log."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> dict[str, Any]:
        started = time.perf_counter()
        body = view(*args, **kwargs)
        if "predictions" in body:
            record_prediction(body, (time.perf_counter() - started) * 1000)
        return body

    return wrapper


def record_prediction(body: dict[str, Any], latency_ms: float) -> None:
    """Metrics and the prediction log for one answered request (no I/O on this thread)."""
    rows = len(body["predictions"])
    PREDICTIONS.labels(body["model"], str(body["version"])).inc(rows)
    prediction_log = services().prediction_log
    if prediction_log is not None:
        prediction_log.log(
            model_name=body["model"],
            model_version=body["version"],
            request_id=current_request_id(),
            rows=rows,
            latency_ms=latency_ms,
            inputs=g.pop("prediction_inputs", None),
            outputs={k: body[k] for k in LOGGED_OUTPUTS if k in body},
        )


@bp.post("/models/<name>/predict")
@recorded
def predict(name: str) -> dict[str, Any]:
    """Predict the rows (or stored ids) in the body with model `name`."""
    return predict_body(services().model(name, request.args.get("version")))


@bp.get("/models/<name>/predict")
@recorded
def predict_query(name: str) -> dict[str, Any]:
    """Predict one row given as query arguments."""
    model = services().model(name, request.args.get("version"))
    return encode_result(model, predict_rows(model, query_rows()))


@bp.get("/models/<name>/entities/<entity_id>/prediction")
@recorded
def predict_entity(name: str, entity_id: str) -> dict[str, Any]:
    """Predict one stored entity; 404 ENTITY_NOT_FOUND when the id is unknown."""
    return predict_ids(services().model(name, request.args.get("version")), [entity_id])


@bp.post("/predict")
@bp.post("/model/predict")
@recorded
def predict_default() -> dict[str, Any]:
    """Seed alias: POST /models/<default model>/predict."""
    svc = services()
    return predict_body(svc.model(svc.default_model_name(), request.args.get("version")))


@bp.get("/")
@recorded
def predict_default_query() -> dict[str, Any]:
    """Seed alias: GET /?feature=value&... predicts one row; without arguments, the usage page."""
    svc = services()
    if not request.args:
        return build_usage(svc, request.host_url)
    model = svc.model(svc.default_model_name(), request.args.get("version"))
    return encode_result(model, predict_rows(model, query_rows()))


def predict_body(model: LoadedModel) -> dict[str, Any]:
    """Decode the request body and answer it."""
    max_rows = services().settings.max_rows_per_request
    decoded = decode_body(
        request.mimetype,
        read_body(request.stream, request.mimetype, max_rows=max_rows),
        max_rows=max_rows,
        categorical=[f.name for f in model.schema.features if f.kind == "categorical"],
    )
    if isinstance(decoded, EntityIds):
        return predict_ids(model, decoded.ids)
    return encode_result(model, predict_rows(model, decoded))


def query_rows() -> Rows:
    """The one row described by the query string (`version` is not a feature)."""
    return decode_query(dict(request.args.lists()), reserved=("version",))


def predict_rows(model: LoadedModel, rows: Rows) -> PredictionResult:
    """Validate the rows against the model's schema, naming every offending feature, and predict."""
    problems = nested_values(rows.columns, model.schema.names)
    columns = rows.columns
    if problems:
        columns = {k: v for k, v in columns.items() if k not in problems}
    try:
        validated = model.validate(columns, rows.n_rows)
    except InvalidInput as exc:
        problems = {**exc.details, **problems}
    g.prediction_inputs = rows.columns
    if problems:
        raise errors.InvalidInput(
            f"{len(problems)} feature(s) are invalid: {', '.join(problems)}. Fix them as "
            "`details` says; GET /usage describes the expected features",
            problems,
        )
    return predict_validated(model, validated)


def predict_ids(model: LoadedModel, raw_ids: list[Any]) -> dict[str, Any]:
    """Read the entities' features from the model's feature table and predict them."""
    svc = services()
    table = svc.entity_table(model)
    try:
        ids = table.parse_ids(raw_ids)
    except InvalidEntityId as exc:
        raise errors.InvalidId(str(exc), {"invalid_ids": exc.bad[:5]}) from None
    found = svc.entities.fetch(table, ids)
    if found.n_rows == 0:
        unknown = list(dict.fromkeys(ids))
        raise errors.EntityNotFound(
            f"no entity with id {', '.join(map(str, unknown[:5]))} in {table.table}; "
            f"check the ids (predictions by id read {table.table}.{table.id_column})",
            {"not_found": unknown},
        )
    result = predict_rows(model, Rows(found.columns, found.n_rows))
    return encode_entities(model, ids, found.ids, result)
