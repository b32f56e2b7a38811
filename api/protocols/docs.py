"""What /openapi.json and /usage say about the V2, MLflow and SageMaker routes."""

from __future__ import annotations

import json
import shlex
from typing import Any

OBJECT = {"type": "object", "additionalProperties": True}
V2_ERROR = {
    "description": 'Protocol error: {"error": message, "error_code", "details"}; bad requests '
    "and invalid features are 400, unknown models 404, too many rows 413, not ready 503",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/V2Error"}}},
}
V2_ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {"type": "string"},
        "error_code": {"type": "string"},
        "details": {"type": "object"},
    },
}
TENSOR = {
    "type": "object",
    "required": ["name", "shape", "datatype", "data"],
    "properties": {
        "name": {"type": "string"},
        "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
        "datatype": {"type": "string", "example": "FP64"},
        "parameters": OBJECT,
        "data": {"type": "array"},
    },
}
INFER_BODY = {
    "type": "object",
    "required": ["inputs"],
    "properties": {
        "id": {"type": "string"},
        "parameters": OBJECT,
        "inputs": {"type": "array", "items": TENSOR},
        "outputs": {"type": "array", "items": OBJECT},
    },
}
MLFLOW_BODY = {
    "type": "object",
    "description": "exactly one of dataframe_split, dataframe_records, instances, inputs; "
    'optional params, e.g. {"predict_method": "predict_proba"}',
    "additionalProperties": True,
}
PATH_NAME = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
PATH_VERSION = {"name": "version", "in": "path", "required": True, "schema": {"type": "integer"}}
QUERY_VERSION = {"name": "version", "in": "query", "required": False, "schema": {"type": "integer"}}
METHOD = {
    "name": "predict_method",
    "in": "query",
    "required": False,
    "description": "predict (default) or predict_proba; also params.predict_method or the "
    "X-Predict-Method header",
    "schema": {"type": "string", "enum": ["predict", "predict_proba"]},
}


def _ok(schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"description": "OK", "content": {"application/json": {"schema": schema or OBJECT}}}


def _v2(summary: str, post: bool = False) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        "tags": ["Open Inference Protocol (V2)"],
        "responses": {"200": _ok(), "400": V2_ERROR, "404": V2_ERROR, "503": V2_ERROR},
    }
    if post:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": INFER_BODY}},
        }
    return operation


def _mlflow(summary: str) -> dict[str, Any]:
    return {
        "summary": summary,
        "tags": ["MLflow scoring / SageMaker"],
        "parameters": [QUERY_VERSION, METHOD],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": MLFLOW_BODY},
                "text/csv": {"schema": {"type": "string"}},
            },
        },
        "responses": {
            "200": _ok({"type": "object", "properties": {"predictions": {"type": "array"}}}),
            **{s: {"$ref": f"#/components/responses/E{s}"} for s in ("400", "404", "413", "415")},
        },
    }


def _model_routes(suffix: str, summary: str, post: bool = False) -> dict[str, Any]:
    method = "post" if post else "get"
    plain = {**_v2(summary, post), "parameters": [PATH_NAME]}
    pinned = {**_v2(f"{summary} (one version)", post), "parameters": [PATH_NAME, PATH_VERSION]}
    return {
        f"/v2/models/{{name}}{suffix}": {method: plain},
        f"/v2/models/{{name}}/versions/{{version}}{suffix}": {method: pinned},
    }


PROTOCOL_PATHS: dict[str, Any] = {
    "/v2": {"get": _v2("V2 server metadata: name, version, extensions")},
    "/v2/health/live": {"get": _v2("V2 liveness")},
    "/v2/health/ready": {"get": _v2("V2 readiness (database and default model)")},
    **_model_routes("", "V2 model metadata: platform, versions, input and output tensors"),
    **_model_routes("/ready", "V2 model readiness"),
    **_model_routes("/infer", "V2 inference: predict and predict_proba tensors", post=True),
    "/invocations": {"post": _mlflow("MLflow / SageMaker scoring with the default model")},
    "/models/{name}/invocations": {
        "post": {**_mlflow("MLflow scoring with model `name`"), "parameters": [PATH_NAME]}
    },
    "/ping": {
        "get": {
            "summary": "MLflow / SageMaker health: 200 once the default model is loaded",
            "tags": ["MLflow scoring / SageMaker"],
            "responses": {"200": {"description": "ready"}, "503": {"description": "not ready"}},
        }
    },
    "/version": {
        "get": {
            "summary": "The server version, as text",
            "tags": ["MLflow scoring / SageMaker"],
            "responses": {"200": {"description": "version text"}},
        }
    },
}

PROTOCOL_ENDPOINTS = {
    "GET /v2, GET /v2/health/live, GET /v2/health/ready": "Open Inference Protocol server routes",
    "GET /v2/models/<name>[/versions/<v>][/ready]": "V2 model metadata and readiness",
    "POST /v2/models/<name>[/versions/<v>]/infer": "V2 inference (tritonclient, KServe, MLServer)",
    "POST /invocations, POST /models/<name>/invocations": "MLflow / SageMaker scoring",
    "GET /ping, GET /version": "MLflow / SageMaker health check and server version",
}


def protocol_examples(name: str, row: dict[str, Any], base: str, default: bool) -> dict[str, str]:
    """curl examples for V2 infer and MLflow /invocations built from a real row."""
    inputs = [
        {
            "name": feature,
            "shape": [1],
            "datatype": "BYTES" if isinstance(value, str) else "FP64",
            "data": [value],
        }
        for feature, value in row.items()
    ]
    post = "curl -s -X POST {} -H 'Content-Type: application/json' -d "
    path = "/invocations" if default else f"/models/{name}/invocations"
    return {
        "v2_infer": post.format(f"{base}/v2/models/{name}/infer")
        + shlex.quote(json.dumps({"inputs": inputs})),
        "mlflow_invocations": post.format(base + path)
        + shlex.quote(json.dumps({"dataframe_records": [row]})),
    }
