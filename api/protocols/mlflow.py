"""MLflow's scoring protocol, which SageMaker hosting shares: /invocations, /ping, /version."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from api.bodies import request_body
from api.error_handlers import ANSWERABLE, describe, error_response
from api.errors import NotReadyError
from api.openapi.declare import documented
from api.openapi.schemas import OBJECT, VERSION_QUERY, content_response, json_response
from api.protocols.core import native_error, predict_logged, server_version
from api.protocols.docs import METHOD, SCORED, SCORING_ERRORS, scoring_body
from api.protocols.mlflow_codec import decode_scoring, encode_scoring
from api.services import requested_model, services
from inference.model import LoadedModel

bp = Blueprint("mlflow", __name__)


@bp.post("/invocations")
@documented(
    "MLflow / SageMaker scoring with the default model",
    responses=SCORED,
    errors=SCORING_ERRORS,
    query=(VERSION_QUERY, METHOD),
    body=scoring_body,
)
def invocations() -> dict[str, Any]:
    """Score the body with the default model (`?version=` pins one)."""
    return score(requested_model())


@bp.post("/models/<name>/invocations")
@documented(
    "MLflow scoring with model `name`",
    responses=SCORED,
    errors=SCORING_ERRORS,
    query=(VERSION_QUERY, METHOD),
    body=scoring_body,
)
def model_invocations(name: str) -> dict[str, Any]:
    """Score the body with model `name`."""
    return score(requested_model(name))


def score(model: LoadedModel) -> dict[str, Any]:
    """Decode, predict (logged as protocol "mlflow") and answer like `mlflow models serve`."""
    max_rows = services().settings.max_rows_per_request
    decoded = decode_scoring(
        request.mimetype,
        request_body(model, max_rows),
        model,
        max_rows=max_rows,
        method=request.args.get("predict_method") or request.headers.get("X-Predict-Method"),
    )
    _, result = predict_logged(model, decoded.rows, protocol="mlflow")
    return encode_scoring(result, decoded.method)


@bp.get("/ping")
@documented(
    "MLflow / SageMaker health: 200 once the default model is loaded, else 503",
    responses={"200": json_response(OBJECT, "Ready")},
    errors=(503,),
)
def ping() -> Response | dict[str, str]:
    """200 once the default model is loaded (MLflow and SageMaker health check), else 503."""
    svc = services()
    try:
        svc.model(svc.default_model_name())
    except ANSWERABLE as exc:  # an unknown default model is "not ready" too, not a 404
        message, details = describe(exc)
        return error_response(503, NotReadyError.error_code, f"not ready: {message}", details)
    return {"status": "ready"}


@bp.get("/version")
@documented(
    "The server version, as text",
    responses={"200": content_response("The version", "text/plain")},
)
def version() -> Response:
    """The server's version, as text (MLflow answers its own version here)."""
    return Response(server_version(), mimetype="text/plain")


@bp.errorhandler(Exception)
def render_error(exc: Exception) -> Response:
    """Native error bodies (MLflow's own are `{"error_code", "message"}` too); like MLflow,
    features that do not fit the schema are a 400."""
    response = native_error(exc)
    if response.status_code == 422:
        response.status_code = 400
    return response
