"""Open Inference Protocol (KServe V2) REST routes, errors rendered as `{"error": "..."}`."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from api import errors
from api.bodies import request_body
from api.codecs import parse_json
from api.metrics import ERRORS
from api.protocols.core import native_error, predict_logged, server_version
from api.protocols.docs import infer_body, v2_documented
from api.protocols.v2_codec import decode_infer
from api.protocols.v2_responses import encode_infer, model_metadata
from api.routes.health import check_database, check_default_model
from api.services import services
from db import registry

bp = Blueprint("v2", __name__, url_prefix="/v2")
BINARY_HEADER = "Inference-Header-Content-Length"
# The protocol answers bad requests with 400; the native API keeps 422 for invalid features.
STATUS = {422: 400}


@bp.get("")
@v2_documented("Server metadata: name, version, extensions")
def server_metadata() -> dict[str, Any]:
    """Server metadata: name, version, extensions."""
    return {"name": "skserve", "version": server_version(), "extensions": []}


@bp.get("/health/live")
@v2_documented("Liveness: the process answers; touches nothing")
def live() -> dict[str, bool]:
    """Liveness: the process answers; touches nothing."""
    return {"live": True}


@bp.get("/health/ready")
@v2_documented("Readiness: the database answers and the default model is loaded")
def ready() -> Response | dict[str, bool]:
    """Readiness: the database answers and the default model is loaded."""
    svc = services()
    failing = [c["detail"] for c in (check_database(svc), check_default_model(svc)) if not c["ok"]]
    if failing:
        return v2_error(
            503,
            errors.NotReadyError.error_code,
            f"not ready: {'; '.join(failing)}",
            {"ready": False},
        )
    return {"ready": True}


@bp.get("/models/<name>")
@bp.get("/models/<name>/versions/<version>")
@v2_documented("Model metadata: platform, versions, input and output tensors", 404)
def metadata(name: str, version: str | None = None) -> dict[str, Any]:
    """Model metadata: platform, versions, one input tensor per feature, outputs."""
    model = services().model(name, version)
    with services().sessions() as session:
        versions = [r.version for r in registry.list_versions(session, name=name)]
    return model_metadata(model, versions)


@bp.get("/models/<name>/ready")
@bp.get("/models/<name>/versions/<version>/ready")
@v2_documented("Model readiness", 404)
def model_ready(name: str, version: str | None = None) -> dict[str, Any]:
    """200 when the model (version) is loaded and can answer; its error otherwise."""
    model = services().model(name, version)
    return {"name": model.name, "version": str(model.version), "ready": True}


@bp.post("/models/<name>/infer")
@bp.post("/models/<name>/versions/<version>/infer")
@v2_documented("Inference: predict and predict_proba tensors", 404, 413, 415, body=infer_body)
def infer(name: str, version: str | None = None) -> dict[str, Any]:
    """Predict the request's tensors; outputs `predict` and (classifiers) `predict_proba`."""
    svc = services()
    model = svc.model(name, version)
    if BINARY_HEADER in request.headers:
        raise errors.InvalidBodyError(
            "the binary tensor data extension is not supported; send JSON tensors "
            "(tritonclient: binary_data=False on inputs and outputs)"
        )
    raw = request_body(model, svc.settings.max_rows_per_request)
    if not raw.strip():
        raise errors.InvalidJSONError('the request body is empty; send {"inputs": [...]}')
    decoded = decode_infer(parse_json(raw), model, max_rows=svc.settings.max_rows_per_request)
    answered, result = predict_logged(model, decoded.rows, protocol="v2")
    return encode_infer(answered, result, decoded)


def v2_error(status: int, error_code: str, message: str, extra: dict | None = None) -> Response:
    """The protocol's error body, `{"error": message}`, plus our code and details."""
    ERRORS.labels(error_code).inc()
    response = jsonify({"error": message, "error_code": error_code, **(extra or {})})
    response.status_code = STATUS.get(status, status)
    return response


@bp.errorhandler(Exception)
def render_error(exc: Exception) -> Response:
    """Every error under /v2 in the protocol's shape (rendered by the one native handler)."""
    native = native_error(exc)
    body = native.get_json()
    response = jsonify({"error": body["message"], **body})
    response.status_code = STATUS.get(native.status_code, native.status_code)
    if "Allow" in native.headers:
        response.headers["Allow"] = native.headers["Allow"]
    return response
