"""The pieces operations are declared with: response shapes, query parameters, request bodies.

A request body is a function of what is served (`Served`), so its examples are a real row of
the default model and its limits are the server's own.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from api.openapi.declare import Served
from api.request_checks import JOB_ID_PATTERN
from db.registry import MODEL_NAME_PATTERN
from inference.schema import Feature
from inference.validation import magnitude_limit

OBJECT = {"type": "object", "additionalProperties": True}
ROW = {"type": "object", "additionalProperties": True}
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
TEXT = "^[^\\u0000]*$"  # JSON strings the server reads: no NUL
SOURCE_SHAPES = '{"table": ...} | {"ids": [...]} | {"id_range": [lo, hi]}'


def json_response(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    """A JSON response."""
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def content_response(description: str, *media_types: str) -> dict[str, Any]:
    """A response that is not JSON (text, HTML, bytes)."""
    schema = {"type": "string"}
    return {"description": description, "content": {m: {"schema": schema} for m in media_types}}


OK = {"200": json_response(OBJECT)}
PREDICTED = {"200": json_response(PREDICTION)}
PREDICTION_OR_USAGE = {
    "description": "The prediction, or without arguments the usage page",
    "content": {
        "application/json": {"schema": {"anyOf": [PREDICTION, OBJECT]}},
        "text/plain": {"schema": {"type": "string"}},
    },
}
PICKLE = {"200": content_response("The cloudpickle bytes", "application/octet-stream")}


def query_parameter(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    """An optional query argument."""
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


VERSION_QUERY = query_parameter(
    "version", "Pin a version (default: production)", {"type": "integer", "minimum": 1}
)


def features_query(served: Served) -> dict[str, Any]:
    """One row as query arguments, ?<feature>=<value>&...; the example is a real row."""
    return {
        "name": "features",
        "in": "query",
        "required": False,
        "description": "one argument per feature",
        "style": "form",
        "explode": True,
        "schema": {"type": "object", "additionalProperties": True},
        "example": {k: "" if v is None else v for k, v in served.row.items()},
    }


OFFSET = query_parameter("offset", "Rows to skip", {"type": "integer", "minimum": 0})

# Path parameters by name; a rule's `<name>` becomes `{name}` with this description and schema.
PATH_PARAMETERS: dict[str, tuple[str, dict[str, Any]]] = {
    "name": ("Model name", {"type": "string", "pattern": f"^{MODEL_NAME_PATTERN}$"}),
    "version": ("Version number", {"type": "integer", "minimum": 1, "maximum": 999_999_999}),
    "job_id": (
        "Batch job id (from POST /jobs)",
        {"type": "string", "pattern": f"^{JOB_ID_PATTERN}$"},
    ),
    "run_id": ("Training run id (from POST /models/{name}/train)", {"type": "string"}),
    "entity_id": ("Entity id in the model's feature table", {"type": "string"}),
}


def path_schema(name: str, served: Served) -> tuple[str, dict[str, Any]]:
    """The description and schema of a path parameter; an entity id is an integer when the
    default model's id column holds integers."""
    if name == "entity_id" and isinstance(served.entity_id, int):
        return "Entity id in the model's feature table", {"type": "integer"}
    return PATH_PARAMETERS.get(name, ("", {"type": "string"}))


def path_example(name: str, served: Served) -> Any:
    """A value of a path parameter that exists on this server, or None."""
    known = {"name": served.model, "version": served.version, "entity_id": served.entity_id}
    return known.get(name)


def feature_value(feature: Feature) -> dict[str, Any]:
    """What the server accepts for one feature: the training range's magnitude limit for a
    number, text without NUL (and a known category where unknown ones are refused)."""
    if feature.kind == "numeric":
        limit = magnitude_limit(feature.minimum, feature.maximum)
        schema: dict[str, Any] = {"type": "number", "minimum": -limit, "maximum": limit}
    else:
        schema = {"type": "string", "pattern": TEXT}
        if feature.unknown == "error" and feature.categories:
            schema["enum"] = list(feature.categories)
    return {**schema, "nullable": True} if feature.nullable else schema


def row_schema(served: Served) -> dict[str, Any]:
    """A row of the default model (any other model's features: GET /models/{name})."""
    if not served.features:
        return ROW
    return {
        "type": "object",
        "required": [f.name for f in served.features],
        "properties": {f.name: feature_value(f) for f in served.features},
        "additionalProperties": True,
    }


def prediction_body(served: Served) -> dict[str, Any]:
    """Rows in any accepted JSON shape, or CSV; the rows are the default model's, and the
    examples are a real row of it."""
    row = row_schema(served)
    rows = {"type": "array", "items": row, "maxItems": served.max_rows, "minItems": 1}
    column = {"type": "array", "maxItems": served.max_rows, "minItems": 1}
    columns = {
        "type": "object",
        "required": [f.name for f in served.features],
        "properties": {f.name: {**column, "items": feature_value(f)} for f in served.features},
        "additionalProperties": column,
    }
    shapes = [
        _shape("columnar", data=columns),
        _shape(
            "split",
            columns={"type": "array", "items": {"type": "string"}},
            data={"type": "array", "items": {"type": "array"}, "maxItems": served.max_rows},
        ),
        _shape("MLflow split", dataframe_split=OBJECT),
        _shape("MLflow records", dataframe_records=rows),
        _shape("records", records=rows),
        {**rows, "title": "records list"},
        _shape(
            "stored entities",
            ids={**rows, "items": {"oneOf": [{"type": "integer"}, {"type": "string"}]}},
        ),
        {**row, "title": "one flat record"},
    ]
    row = served.row
    examples = {
        "record": {"value": row},
        "split": {"value": {"columns": list(row), "data": [list(row.values())]}},
        "records": {"value": {"records": [row]}},
    }
    if served.entity_id is not None:
        examples["ids"] = {"value": {"ids": [served.entity_id]}}
    return {
        "application/json": {"schema": {"anyOf": shapes}, "examples": examples},
        "text/csv": {"schema": {"type": "string"}, "example": csv_text(row)},
    }


def _shape(title: str, **properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "title": title,
        "required": list(properties),
        "properties": properties,
    }


def csv_text(row: dict[str, Any]) -> str:
    """A header line and the row, as a CSV body."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(row)
    writer.writerow(["" if v is None else v for v in row.values()])
    return buffer.getvalue()


def job_body(served: Served) -> dict[str, Any]:
    """A batch job: a JSON source, or a multipart CSV upload."""
    source = {"ids": [served.entity_id]} if served.entity_id is not None else {"table": "..."}
    return {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["model", "source"],
                "properties": {
                    "model": {"type": "string"},
                    "version": {"type": "integer", "minimum": 1, "maximum": 999_999_999},
                    "source": {"type": "object", "description": SOURCE_SHAPES},
                    "chunk_rows": {"type": "integer", "minimum": 1},
                },
            },
            "example": {"model": served.model, "source": source},
        },
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["model", "file"],
                "properties": {
                    "model": {"type": "string"},
                    "version": {"type": "integer", "minimum": 1, "maximum": 999_999_999},
                    "file": {"type": "string", "format": "binary"},
                },
            }
        },
    }


def pipeline_upload_body(served: Served) -> dict[str, Any]:
    """A cloudpickled pipeline: the raw body, or multipart field `file` and optional `schema`."""
    binary = {"type": "string", "format": "binary"}
    return {
        "application/octet-stream": {"schema": binary},
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {"file": binary, "schema": {"type": "string"}},
            }
        },
    }
