"""MLflow scoring bodies (`mlflow models serve`) -> feature columns; results -> MLflow's shape.

MLflow accepts a JSON object with exactly one of `dataframe_split`, `dataframe_records`,
`instances` or `inputs` (plus optional `params`), or a `text/csv` body. `instances` and
`inputs` hold records, columns (`{"feature": [values]}`) or rows in the schema's feature order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from api.codecs import (
    CSV_TYPES,
    JSON_TYPES,
    Rows,
    check_rows,
    decode_csv,
    decode_payload,
    parse_json,
)
from api.errors import InvalidBody, InvalidJSON, UnsupportedMediaType
from inference.model import LoadedModel
from inference.predict import PredictionResult

FIELDS = ("dataframe_split", "dataframe_records", "instances", "inputs")
METHODS = ("predict", "predict_proba")
FORMATS_HINT = (
    "send a JSON object with exactly one of dataframe_split, dataframe_records, instances or "
    "inputs (optionally params), or a text/csv body with a header row"
)


@dataclass(frozen=True)
class ScoringRequest:
    """Decoded rows and the prediction method asked for."""

    rows: Rows
    method: str


def decode_scoring(
    mimetype: str, raw: bytes, model: LoadedModel, *, max_rows: int, method: str | None
) -> ScoringRequest:
    """Decode an /invocations body of either content type."""
    categorical = [f.name for f in model.schema.features if f.kind == "categorical"]
    if mimetype in CSV_TYPES:
        rows = decode_csv(raw, max_rows=max_rows, categorical=categorical)
        return ScoringRequest(rows, _method(method, model))
    if not (mimetype in JSON_TYPES or mimetype.endswith("+json")):
        raise UnsupportedMediaType(
            f"cannot read a body of type {mimetype}; MLflow scoring takes application/json "
            "or text/csv",
            {"content_type": mimetype, "accepted": ["application/json", "text/csv"]},
        )
    if not raw.strip():
        raise InvalidJSON(f"the request body is empty; {FORMATS_HINT}")
    payload = parse_json(raw)
    if not isinstance(payload, dict):
        raise InvalidBody(f"the body must be a JSON object; {FORMATS_HINT}")
    given = [key for key in FIELDS if key in payload]
    extra = [key for key in payload if key not in (*FIELDS, "params")]
    if len(given) != 1 or extra:
        raise InvalidBody(
            f"found {', '.join(map(repr, given + extra)) or 'no input field'}; {FORMATS_HINT}",
            {"fields": given + extra},
        )
    params = payload.get("params") or {}
    if not isinstance(params, dict):
        raise InvalidBody('"params" must be an object, e.g. {"predict_method": "predict_proba"}')
    rows = _rows(given[0], payload[given[0]], model, max_rows)
    return ScoringRequest(rows, _method(method or params.get("predict_method"), model))


def _rows(field: str, value: Any, model: LoadedModel, max_rows: int) -> Rows:
    if field.startswith("dataframe_"):
        decoded = decode_payload({field: value}, max_rows=max_rows)
        assert isinstance(decoded, Rows)  # these envelopes never carry ids
        return decoded
    if isinstance(value, dict):
        return _as_rows(decode_payload({"data": value}, max_rows=max_rows))
    if isinstance(value, list) and value and all(isinstance(row, list) for row in value):
        return _ordered_rows(value, model.schema.names, field, max_rows)
    if isinstance(value, list) and value and all(isinstance(row, dict) for row in value):
        return _as_rows(decode_payload({"records": value}, max_rows=max_rows))
    raise InvalidBody(
        f'"{field}" must be a non-empty array of records, an array of rows in the model\'s '
        'feature order, or an object of columns {"feature": [values]}'
    )


def _as_rows(decoded: Any) -> Rows:
    assert isinstance(decoded, Rows)  # "data" and "records" never carry ids
    return decoded


def _ordered_rows(rows: list[list], names: list[str], field: str, max_rows: int) -> Rows:
    check_rows(len(rows), max_rows)
    for i, row in enumerate(rows):
        if len(row) != len(names):
            raise InvalidBody(
                f'row {i} of "{field}" has {len(row)} value(s); rows without names need one '
                f"value per feature, in order: {', '.join(names)}",
                {"row": i, "features": names},
            )
    columns = zip(*rows, strict=True)
    return Rows({name: list(col) for name, col in zip(names, columns, strict=True)}, len(rows))


def _method(raw: Any, model: LoadedModel) -> str:
    method = raw or "predict"
    if method not in METHODS:
        raise InvalidBody(
            f"predict_method must be predict or predict_proba, got {raw!r}",
            {"predict_method": raw},
        )
    if method == "predict_proba" and model.classes is None:
        raise InvalidBody(f"model {model.name!r} is a regressor; it has no predict_proba")
    return method


def encode_scoring(result: PredictionResult, method: str) -> dict[str, Any]:
    """MLflow's response: `{"predictions": [...]}`, class probabilities as rows of lists."""
    if method == "predict_proba" and result.probabilities is not None:
        rows = result.probabilities.tolist()
        return {"predictions": [[p if p == p else None for p in row] for row in rows]}
    return {"predictions": result.prediction_list()}
