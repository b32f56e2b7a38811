"""The OpenAPI 3 document describing every endpoint, body shape, response and error."""

from __future__ import annotations

from typing import Any

from api.protocols.docs import PROTOCOL_PATHS, V2_ERROR_SCHEMA

ERROR_CODES = {
    400: "INVALID_JSON, INVALID_BODY, INVALID_PARAMETER, INVALID_VERSION, INVALID_ID, "
    "NO_FEATURE_TABLE, INVALID_TRAFFIC",
    401: "UNAUTHORIZED (no admin token)",
    403: "FORBIDDEN (wrong admin token, or admin endpoints disabled)",
    404: "MODEL_NOT_FOUND, VERSION_NOT_FOUND, ENTITY_NOT_FOUND, JOB_NOT_FOUND, NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT, JOB_NOT_CANCELABLE, JOB_NOT_FINISHED",
    413: "PAYLOAD_TOO_LARGE (submit a batch job instead)",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "INVALID_INPUT (details keyed by feature), INVALID_MODEL, INVALID_SOURCE, "
    "TABLE_NOT_FOUND, COLUMN_NOT_FOUND, UNKNOWN_IDS, INVALID_CSV",
    500: "INTERNAL_ERROR",
    501: "NOT_IMPLEMENTED (comparisons need PostgreSQL)",
    503: "MODEL_NOT_READY, SERVICE_UNAVAILABLE, NOT_READY",
}

ROW = {
    "type": "object",
    "additionalProperties": True,
    "example": {"age": 39, "workclass": "State-gov", "education": "Bachelors"},
}
PREDICTION_BODY = {
    "oneOf": [
        {
            "type": "object",
            "title": "columnar",
            "required": ["data"],
            "properties": {"data": {"type": "object", "additionalProperties": {"type": "array"}}},
        },
        {
            "type": "object",
            "title": "split",
            "required": ["columns", "data"],
            "properties": {
                "columns": {"type": "array", "items": {"type": "string"}},
                "data": {"type": "array", "items": {"type": "array"}},
            },
        },
        {
            "type": "object",
            "title": "MLflow split",
            "required": ["dataframe_split"],
            "properties": {"dataframe_split": {"type": "object"}},
        },
        {
            "type": "object",
            "title": "MLflow records",
            "required": ["dataframe_records"],
            "properties": {"dataframe_records": {"type": "array", "items": ROW}},
        },
        {
            "type": "object",
            "title": "records",
            "required": ["records"],
            "properties": {"records": {"type": "array", "items": ROW}},
        },
        {"type": "array", "title": "records list", "items": ROW},
        {
            "type": "object",
            "title": "stored entities",
            "required": ["ids"],
            "properties": {"ids": {"type": "array", "items": {"type": "integer"}}},
        },
        {**ROW, "title": "one flat record"},
    ]
}
PREDICTION = {
    "type": "object",
    "required": ["model", "version", "predictions"],
    "properties": {
        "model": {"type": "string"},
        "version": {"type": "integer"},
        "predictions": {"type": "array", "items": {}},
        "probabilities": {
            "type": "array",
            "items": {"type": "object", "additionalProperties": {"type": "number"}},
        },
        "warnings": {"type": "array", "items": {"type": "string"}},
        "ids": {"type": "array", "items": {}},
        "not_found": {"type": "array", "items": {}},
    },
}
SOURCE_SHAPES = '{"table": ...} | {"ids": [...]} | {"id_range": [lo, hi]}'
OBJECT = {"type": "object", "additionalProperties": True}


def _name(param: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": param,
        "in": "path",
        "required": True,
        "description": description,
        "schema": schema or {"type": "string"},
    }


NAME = _name("name", "Model name, e.g. adult")
VERSION = _name("version", "Version number", {"type": "integer", "minimum": 1})
JOB_ID = _name("job_id", "Batch job id")
VERSION_QUERY = {
    "name": "version",
    "in": "query",
    "required": False,
    "description": "Pin a version (default: production)",
    "schema": {"type": "integer", "minimum": 1},
}


def _time_query(param: str, description: str) -> dict[str, Any]:
    return {
        "name": param,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": "string", "format": "date-time"},
    }


TRAFFIC_SETTING = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "production": {"type": "integer", "minimum": 1, "nullable": True},
        "canary": {
            "type": "object",
            "nullable": True,
            "additionalProperties": False,
            "required": ["version", "percent"],
            "properties": {
                "version": {"type": "integer", "minimum": 1},
                "percent": {"type": "number", "minimum": 0, "maximum": 100},
            },
        },
        "shadow": {"type": "array", "items": {"type": "integer", "minimum": 1}},
    },
    "example": {"production": 3, "canary": {"version": 4, "percent": 10}, "shadow": [5]},
}
TRAFFIC = {**TRAFFIC_SETTING, "additionalProperties": True}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(s): {"$ref": f"#/components/responses/E{s}"} for s in statuses}


def _op(summary: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"summary": summary, "responses": {**responses, **_errors(500)}, **extra}


def _predict_post(summary: str, params: list[dict[str, Any]]) -> dict[str, Any]:
    return _op(
        summary,
        {"200": _json(PREDICTION), **_errors(400, 404, 413, 415, 422, 503)},
        parameters=params,
        requestBody={
            "required": True,
            "content": {
                "application/json": {"schema": PREDICTION_BODY},
                "text/csv": {"schema": {"type": "string"}},
            },
        },
    )


def _query_predict(summary: str, params: list[dict[str, Any]]) -> dict[str, Any]:
    return _op(
        summary, {"200": _json(PREDICTION), **_errors(400, 404, 422, 503)}, parameters=params
    )


ADMIN = [{"bearer": []}]
ADMIN_ERRORS = (401, 403)

PATHS: dict[str, Any] = {
    "/health": {"get": _op("Liveness (touches no dependency)", {"200": _json(OBJECT)})},
    "/ready": {
        "get": _op(
            "Readiness: database, Redis, default model", {"200": _json(OBJECT), **_errors(503)}
        )
    },
    "/usage": {"get": _op("How to call the API, with examples", {"200": _json(OBJECT)})},
    "/metrics": {
        "get": _op(
            "Prometheus metrics",
            {
                "200": {
                    "description": "Prometheus text format",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
            },
        )
    },
    "/openapi.json": {"get": _op("This document", {"200": _json(OBJECT)})},
    "/docs": {
        "get": _op(
            "Interactive API docs",
            {
                "200": {
                    "description": "HTML",
                    "content": {"text/html": {"schema": {"type": "string"}}},
                }
            },
        )
    },
    "/models": {"get": _op("Models, their versions, the production one", {"200": _json(OBJECT)})},
    "/models/{name}": {
        "get": _op(
            "Production version metadata",
            {"200": _json(OBJECT), **_errors(404, 503)},
            parameters=[NAME],
        )
    },
    "/models/{name}/versions": {
        "post": _op(
            "Admin: upload a cloudpickled pipeline as a new version",
            {"201": _json(OBJECT, "Registered"), **_errors(400, *ADMIN_ERRORS, 413, 422)},
            parameters=[NAME],
            security=ADMIN,
            requestBody={
                "required": True,
                "content": {
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "file": {"type": "string", "format": "binary"},
                                "schema": {"type": "string"},
                            },
                        }
                    },
                },
            },
        )
    },
    "/models/{name}/versions/{version}": {
        "get": _op(
            "One version's metadata",
            {"200": _json(OBJECT), **_errors(400, 404, 503)},
            parameters=[NAME, VERSION],
        ),
        "delete": _op(
            "Admin: delete a version that is not in production",
            {"204": {"description": "Deleted"}, **_errors(400, *ADMIN_ERRORS, 404, 409, 503)},
            parameters=[NAME, VERSION],
            security=ADMIN,
        ),
    },
    "/models/{name}/versions/{version}/artifact": {
        "get": _op(
            "The cloudpickle bytes (sha256 in X-Model-SHA256)",
            {
                "200": {
                    "description": "Pickle",
                    "content": {
                        "application/octet-stream": {
                            "schema": {"type": "string", "format": "binary"}
                        }
                    },
                },
                **_errors(400, 404, 503),
            },
            parameters=[NAME, VERSION],
        )
    },
    "/models/{name}/versions/{version}/promote": {
        "post": _op(
            "Admin: make a version production (served by every API process within 2 s)",
            {"200": _json(OBJECT), **_errors(400, *ADMIN_ERRORS, 404, 503)},
            parameters=[NAME, VERSION],
            security=ADMIN,
        )
    },
    "/models/{name}/traffic": {
        "get": _op(
            "Production, canary and shadow versions (plus this process's shadow queue)",
            {"200": _json(TRAFFIC), **_errors(404, 503)},
            parameters=[NAME],
        ),
        "put": _op(
            "Admin: set production, the canary's share and the shadow versions at once "
            "(followed by every API process within 2 s)",
            {"200": _json(TRAFFIC), **_errors(400, *ADMIN_ERRORS, 404, 503)},
            parameters=[NAME],
            security=ADMIN,
            requestBody={
                "required": True,
                "content": {"application/json": {"schema": TRAFFIC_SETTING}},
            },
        ),
    },
    "/models/{name}/comparison": {
        "get": _op(
            "Agreement of a canary or shadow version with production on the same requests, "
            "and both versions' live accuracy where feedback exists",
            {"200": _json(OBJECT), **_errors(400, 404, 501, 503)},
            parameters=[
                NAME,
                {**VERSION_QUERY, "required": True, "description": "The version to compare"},
                _time_query("since", "Window start, ISO 8601 (default: 24 h before until)"),
                _time_query("until", "Window end, ISO 8601 (default: now)"),
            ],
        )
    },
    "/models/{name}/train": {
        "post": _op(
            "Admin: enqueue a training run of the stored spec",
            {"202": _json(OBJECT, "Queued"), **_errors(400, *ADMIN_ERRORS, 404, 409, 503)},
            parameters=[
                NAME,
                {
                    "name": "promote",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string", "enum": ["no", "always", "if_better"]},
                },
            ],
            security=ADMIN,
        )
    },
    "/models/{name}/train/{job_id}": {
        "get": _op(
            "Status of a training run",
            {"200": _json(OBJECT), **_errors(404)},
            parameters=[NAME, JOB_ID],
        )
    },
    "/models/{name}/predict": {
        "post": _predict_post(
            "Predict rows in any accepted body shape, or stored ids", [NAME, VERSION_QUERY]
        ),
        "get": _query_predict("Predict one row given as query arguments", [NAME, VERSION_QUERY]),
    },
    "/models/{name}/entities/{entity_id}/prediction": {
        "get": _op(
            "Prediction for a stored entity",
            {"200": _json(PREDICTION), **_errors(400, 404, 503)},
            parameters=[
                NAME,
                _name("entity_id", "Entity id in the model's feature table"),
                VERSION_QUERY,
            ],
        )
    },
    "/predict": {
        "post": _predict_post("Seed alias: predict with the default model", [VERSION_QUERY])
    },
    "/model/predict": {
        "post": _predict_post("Seed alias: predict with the default model", [VERSION_QUERY])
    },
    "/model": {
        "get": _op(
            "Seed alias: the default model's metadata",
            {"200": _json(OBJECT), **_errors(400, 404, 503)},
            parameters=[VERSION_QUERY],
        )
    },
    "/model/download": {
        "get": _op(
            "Seed alias: the default model's cloudpickle bytes",
            {
                "200": {
                    "description": "Pickle",
                    "content": {
                        "application/octet-stream": {
                            "schema": {"type": "string", "format": "binary"}
                        }
                    },
                },
                **_errors(400, 404, 503),
            },
            parameters=[VERSION_QUERY],
        )
    },
    "/": {
        "get": _query_predict(
            "Seed alias: GET /?feature=value&... predicts one row (no arguments: usage)", []
        )
    },
    "/jobs": {
        "post": _op(
            "Submit a batch job (JSON source, or a multipart CSV upload)",
            {
                "202": _json(OBJECT, "Queued; Location points at the job"),
                **_errors(400, 404, 413, 415, 422, 503),
            },
            requestBody={
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["model", "source"],
                            "properties": {
                                "model": {"type": "string"},
                                "version": {"type": "integer", "minimum": 1},
                                "source": {
                                    "type": "object",
                                    "description": SOURCE_SHAPES,
                                },
                                "chunk_rows": {"type": "integer", "minimum": 1},
                            },
                        }
                    },
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "model": {"type": "string"},
                                "version": {"type": "integer"},
                                "file": {"type": "string", "format": "binary"},
                            },
                        }
                    },
                },
            },
        ),
        "get": _op(
            "List batch jobs, newest first",
            {"200": _json(OBJECT), **_errors(400)},
            parameters=[
                {
                    "name": "status",
                    "in": "query",
                    "schema": {
                        "type": "string",
                        "enum": ["queued", "started", "finished", "failed", "canceled"],
                    },
                },
                {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1}},
            ],
        ),
    },
    "/jobs/{job_id}": {
        "get": _op(
            "Status and progress of a batch job",
            {"200": _json(OBJECT), **_errors(404)},
            parameters=[JOB_ID],
        ),
        "delete": _op(
            "Cancel a queued or running job",
            {"200": _json(OBJECT), **_errors(404, 409)},
            parameters=[JOB_ID],
        ),
    },
    "/jobs/{job_id}/results": {
        "get": _op(
            "Results: JSON pages, or the whole result as streamed CSV",
            {
                "200": {
                    "description": "Results",
                    "content": {
                        "application/json": {"schema": OBJECT},
                        "text/csv": {"schema": {"type": "string"}},
                    },
                },
                **_errors(400, 404, 409),
            },
            parameters=[
                JOB_ID,
                {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                {
                    "name": "format",
                    "in": "query",
                    "schema": {"type": "string", "enum": ["json", "csv"]},
                },
            ],
        )
    },
}


def build_openapi(version: str) -> dict[str, Any]:
    """The whole document."""
    error = {
        "type": "object",
        "required": ["error_code", "message", "details"],
        "properties": {
            "error_code": {"type": "string"},
            "message": {"type": "string"},
            "details": {"type": "object"},
        },
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "skserve",
            "version": version,
            "description": "Serve scikit-learn pipelines: online predictions, predictions by "
            "id, batch jobs and a model registry. Every error is {error_code, message, details}.",
        },
        "paths": {**PATHS, **PROTOCOL_PATHS},
        "components": {
            "schemas": {"Error": error, "V2Error": V2_ERROR_SCHEMA},
            "responses": {
                f"E{status}": {
                    "description": codes,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                }
                for status, codes in ERROR_CODES.items()
            },
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "ADMIN_TOKEN"}
            },
        },
    }
