"""The OpenAPI 3 document: the app's declared routes, the error table, the served examples."""

from __future__ import annotations

from typing import Any

from flask import Flask

from api.error_codes import ErrorCode, error_codes
from api.openapi.declare import Route, Served, api_routes, operation_id
from api.openapi.schemas import path_example, path_schema

# Tags by blueprint; a blueprint not listed here is tagged with its own name.
TAGS = {
    "health": "Health",
    "docs": "Documentation",
    "predictions": "Predictions",
    "models": "Registry",
    "traffic": "Canary and shadow versions",
    "training": "Training",
    "jobs": "Batch jobs",
    "v2": "Open Inference Protocol (V2)",
    "mlflow": "MLflow scoring / SageMaker",
    None: "Operations",
}
# Every request can meet the URL checks (400) and a bug (500).
ALWAYS = (400, 500)
ADMIN = (401, 403)
# Any request body can exceed MAX_BODY_BYTES.
WITH_BODY = (413,)
DESCRIPTION = (
    "Serve scikit-learn pipelines: online predictions, predictions by id, batch jobs and a "
    "model registry. Every error is {error_code, message, details}; GET /usage has copy-paste "
    "examples. Admin operations need `Authorization: Bearer <ADMIN_TOKEN>`."
)


def build_openapi(app: Flask, served: Served, version: str) -> dict[str, Any]:
    """The whole document."""
    paths: dict[str, dict[str, Any]] = {}
    for route in api_routes(app):
        paths.setdefault(route.openapi_path, {})[route.method.lower()] = operation(route, served)
    codes = error_codes()
    used_tags = {op["tags"][0] for ops in paths.values() for op in ops.values()}
    return {
        "openapi": "3.0.3",
        "info": {"title": "skserve", "version": version, "description": DESCRIPTION},
        "tags": [{"name": tag} for tag in dict.fromkeys(TAGS.values()) if tag in used_tags],
        "paths": paths,
        "components": {
            "schemas": error_schemas(codes),
            "responses": error_responses(codes),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "ADMIN_TOKEN"}
            },
        },
    }


def operation(route: Route, served: Served) -> dict[str, Any]:
    """One operation object."""
    declared = route.operation
    statuses = {*ALWAYS, *declared.errors}
    if route.admin:
        statuses |= set(ADMIN)
    if declared.body is not None:
        statuses |= set(WITH_BODY)
    shape = declared.error_schema
    document: dict[str, Any] = {
        "summary": declared.summary,
        "operationId": operation_id(route.method, route.rule.rule),
        "tags": [declared.tag or TAGS.get(route.blueprint, route.blueprint)],
        "parameters": [path_parameter(n, c, served) for c, n in route.path_parameters]
        + [q(served) if callable(q) else q for q in declared.query],
        "responses": {
            **declared.responses,
            **{str(s): {"$ref": f"#/components/responses/{shape}{s}"} for s in sorted(statuses)},
        },
    }
    if declared.body is not None:
        document["requestBody"] = {"required": True, "content": declared.body(served)}
    if route.admin:
        document["security"] = [{"bearer": []}]
    return document


def path_parameter(name: str, converter: str, served: Served) -> dict[str, Any]:
    """A path parameter from the rule, described by PATH_PARAMETERS."""
    description, schema = path_schema(name, served)
    if converter == "int":
        schema = {"type": "integer", "minimum": 0}
    parameter = {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": schema,
    }
    example = path_example(name, served)
    if example is not None:
        parameter["example"] = example
    return parameter


def error_schemas(codes: list[ErrorCode]) -> dict[str, Any]:
    """The error body, and the V2 protocol's variant of it."""
    error = {
        "type": "object",
        "required": ["error_code", "message", "details"],
        "properties": {
            "error_code": {"type": "string", "enum": sorted({c.code for c in codes})},
            "message": {"type": "string"},
            "details": {"type": "object"},
        },
    }
    v2 = {
        "type": "object",
        "required": ["error", "error_code"],
        "properties": {"error": {"type": "string"}, **error["properties"]},
    }
    return {"Error": error, "V2Error": v2}


def error_responses(codes: list[ErrorCode]) -> dict[str, Any]:
    """One response per status and shape, describing the codes answered with it."""
    responses = {}
    for status in sorted({c.status for c in codes} | set(ALWAYS)):
        names = ", ".join(c.code for c in codes if c.status == status)
        for shape in ("Error", "V2Error"):
            responses[f"{shape}{status}"] = {
                "description": names,
                "content": {
                    "application/json": {"schema": {"$ref": f"#/components/schemas/{shape}"}}
                },
            }
    return responses
