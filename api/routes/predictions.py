"""Online predictions: feature rows in any accepted shape, query strings, stored entity ids."""

from __future__ import annotations

import functools
from typing import Any

from flask import Blueprint, Response, request

from api import errors
from api.bodies import request_body
from api.codecs import EntityIds, Rows, decode_body, decode_query
from api.openapi.declare import documented
from api.openapi.schemas import (
    PREDICTED,
    PREDICTION_OR_USAGE,
    VERSION_QUERY,
    features_query,
    prediction_body,
)
from api.responses import encode_entities, encode_result
from api.services import requested_model, services
from api.serving import serve
from api.usage import usage_response
from inference.model import LoadedModel

bp = Blueprint("predictions", __name__)
PREDICTION_ERRORS = (404, 415, 422, 503)
QUERY_ERRORS = (404, 422, 503)


@bp.post("/models/<name>/predict")
@documented(
    "Predict rows in any accepted body shape (JSON or CSV), or stored ids",
    responses=PREDICTED,
    errors=PREDICTION_ERRORS,
    query=(VERSION_QUERY,),
    body=prediction_body,
)
def predict(name: str) -> dict[str, Any]:
    """Predict the rows (or stored ids) in the body with model `name`."""
    return predict_body(requested_model(name))


@bp.get("/models/<name>/predict")
@documented(
    "Predict one row given as query arguments: ?<feature>=<value>&...",
    responses=PREDICTED,
    errors=QUERY_ERRORS,
    query=(features_query, VERSION_QUERY),
)
def predict_query(name: str) -> dict[str, Any]:
    """Predict one row given as query arguments."""
    return predict_rows(requested_model(name), query_rows())


@bp.get("/models/<name>/entities/<entity_id>/prediction")
@documented(
    "Predict a stored entity of the model's feature table",
    responses=PREDICTED,
    errors=QUERY_ERRORS,
    query=(VERSION_QUERY,),
)
def predict_entity(name: str, entity_id: str) -> dict[str, Any]:
    """Predict one stored entity; 404 ENTITY_NOT_FOUND when the id is unknown."""
    return predict_ids(requested_model(name), [entity_id])


@bp.post("/predict")
@bp.post("/model/predict")
@documented(
    "Seed alias: predict with the default model",
    responses=PREDICTED,
    errors=PREDICTION_ERRORS,
    query=(VERSION_QUERY,),
    body=prediction_body,
)
def predict_default() -> dict[str, Any]:
    """Seed alias: POST /models/<default model>/predict."""
    return predict_body(requested_model())


@bp.get("/")
@documented(
    "Seed alias: ?<feature>=<value>&... predicts one row; without arguments, this usage page",
    responses={"200": PREDICTION_OR_USAGE},
    errors=QUERY_ERRORS,
    query=(features_query, VERSION_QUERY),
)
def predict_default_query() -> Response | dict[str, Any]:
    """Seed alias: GET /?feature=value&... predicts one row; without arguments, the usage page."""
    if not request.args:
        return usage_response()
    return predict_rows(requested_model(), query_rows())


def predict_body(model: LoadedModel) -> dict[str, Any]:
    """Decode the request body and answer it."""
    max_rows = services().settings.max_rows_per_request
    decoded = decode_body(
        request.mimetype,
        request_body(model, max_rows),
        max_rows=max_rows,
        categorical=[f.name for f in model.schema.features if f.kind == "categorical"],
    )
    if isinstance(decoded, EntityIds):
        return predict_ids(model, decoded.ids)
    return predict_rows(model, decoded)


def query_rows() -> Rows:
    """The one row described by the query string (`version` is not a feature)."""
    return decode_query(dict(request.args.lists()), reserved=("version",))


def predict_rows(model: LoadedModel, rows: Rows) -> dict[str, Any]:
    """Feature rows sent by the client, answered in the native encoding."""
    return serve(model, rows, encode_result)


def predict_ids(model: LoadedModel, raw_ids: list[Any]) -> dict[str, Any]:
    """Read the entities' features from the model's feature table and predict them."""
    svc = services()
    table = svc.entity_table(model)
    ids = table.parse_ids(raw_ids)
    found = svc.entities.fetch(table, ids)
    if found.n_rows == 0:
        unknown = list(dict.fromkeys(ids))
        raise errors.EntityNotFoundError(
            f"no entity with id {', '.join(map(str, unknown[:5]))} in {table.table}; "
            f"check the ids (predictions by id read {table.table}.{table.id_column})",
            {"not_found": unknown},
        )
    rows = Rows(found.columns, found.n_rows)
    encode = functools.partial(encode_entities, ids=ids, found=found.ids)
    return serve(model, rows, encode, ids=found.ids)
