"""How the V2, MLflow and SageMaker routes are declared for /openapi.json and /usage."""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from typing import Any

from api.openapi.declare import Body, Served, documented
from api.openapi.schemas import OBJECT, json_response

V2_TAG = "Open Inference Protocol (V2)"
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
V2_OK = {"200": json_response(OBJECT)}
SCORED = {
    "200": json_response({"type": "object", "properties": {"predictions": {"type": "array"}}})
}
SCORING_ERRORS = (404, 415, 422, 503)
METHOD = {
    "name": "predict_method",
    "in": "query",
    "required": False,
    "description": "predict (default) or predict_proba; also params.predict_method or the "
    "X-Predict-Method header",
    "schema": {"type": "string", "enum": ["predict", "predict_proba"]},
}


def v2_documented(
    summary: str, *errors: int, body: Body | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a V2 route: its errors are `{"error": message, ...}` (V2Error)."""
    return documented(
        summary,
        responses=V2_OK,
        errors=(*errors, 503),
        body=body,
        tag=V2_TAG,
        error_schema="V2Error",
    )


def v2_inputs(row: dict[str, Any]) -> list[dict[str, Any]]:
    """One V2 input tensor per feature of `row`."""
    return [
        {
            "name": feature,
            "shape": [1],
            "datatype": "BYTES" if isinstance(value, str) else "FP64",
            "data": [value],
        }
        for feature, value in row.items()
    ]


def infer_body(served: Served) -> dict[str, Any]:
    """An inference request; the example is a real row of the default model."""
    schema = {
        "type": "object",
        "required": ["inputs"],
        "properties": {
            "id": {"type": "string"},
            "parameters": OBJECT,
            "inputs": {"type": "array", "items": TENSOR, "minItems": 1},
            "outputs": {"type": "array", "items": OBJECT},
        },
    }
    return {"application/json": {"schema": schema, "example": {"inputs": v2_inputs(served.row)}}}


def scoring_body(served: Served) -> dict[str, Any]:
    """An MLflow scoring request (JSON or CSV); the example is a real row."""
    schema = {
        "type": "object",
        "description": "exactly one of dataframe_split, dataframe_records, instances, inputs; "
        'optional params, e.g. {"predict_method": "predict_proba"}',
        "additionalProperties": True,
    }
    return {
        "application/json": {"schema": schema, "example": {"dataframe_records": [served.row]}},
        "text/csv": {"schema": {"type": "string"}},
    }


def protocol_examples(name: str, row: dict[str, Any], base: str, default: bool) -> dict[str, str]:
    """curl examples for V2 infer and MLflow /invocations built from a real row."""
    post = "curl -s -X POST {} -H 'Content-Type: application/json' -d "
    path = "/invocations" if default else f"/models/{name}/invocations"
    return {
        "v2_infer": post.format(f"{base}/v2/models/{name}/infer")
        + shlex.quote(json.dumps({"inputs": v2_inputs(row)})),
        "mlflow_invocations": post.format(base + path)
        + shlex.quote(json.dumps({"dataframe_records": [row]})),
    }
