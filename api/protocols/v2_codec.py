"""Open Inference Protocol (V2) bodies <-> feature columns and prediction results.

Two request layouts are read: one tensor per feature (MLServer's pandas codec, `content_type:
"pd"`; shape `[n]` or `[n, 1]`), or one 2-D tensor `[n, k]` whose columns are named by
`parameters.columns` or follow the schema's feature order. Tensor `data` may be flat
(row-major) or nested to match its shape.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from api.codecs import Rows, check_rows
from api.errors import InvalidBody
from inference.model import LoadedModel
from inference.predict import PredictionResult

NUMERIC = {
    **{f"INT{bits}": int for bits in (8, 16, 32, 64)},
    **{f"UINT{bits}": int for bits in (8, 16, 32, 64)},
    **{f"FP{bits}": float for bits in (16, 32, 64)},
}
DATATYPES = (*NUMERIC, "BOOL", "BYTES")
OUTPUTS = ("predict", "predict_proba")


@dataclass(frozen=True)
class InferRequest:
    """A decoded infer request: the rows, the request id to echo and the outputs asked for."""

    rows: Rows
    request_id: str | None
    outputs: list[str] | None


def decode_infer(payload: Any, model: LoadedModel, *, max_rows: int) -> InferRequest:
    """Check an infer request against the protocol and turn its tensors into columns."""
    if not isinstance(payload, dict):
        raise InvalidBody('an infer request is a JSON object with "inputs": [tensor, ...]')
    request_id = payload.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise InvalidBody(f'"id" must be a string, got {request_id!r}')
    tensors = payload.get("inputs")
    if not isinstance(tensors, list) or not tensors:
        raise InvalidBody('"inputs" must be a non-empty array of {name, shape, datatype, data}')
    inputs = [_tensor(t, i) for i, t in enumerate(tensors)]
    _unique([t.name for t in inputs], "inputs")
    rows = _rows(inputs, model.schema.names, max_rows)
    return InferRequest(rows, request_id, _requested_outputs(payload.get("outputs"), model))


@dataclass(frozen=True)
class _Tensor:
    name: str
    shape: list[int]
    datatype: str
    values: list[Any]
    columns: list[str] | None


def _tensor(raw: Any, index: int) -> _Tensor:
    if not isinstance(raw, dict):
        raise InvalidBody(f"input {index} must be an object {{name, shape, datatype, data}}")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidBody(f'input {index} needs a "name" string')
    shape = raw.get("shape")
    if not isinstance(shape, list) or not shape or not all(_dimension(d) for d in shape):
        raise InvalidBody(
            f'input {name!r}: "shape" must be an array of non-negative integers, got {shape!r}'
        )
    datatype = raw.get("datatype")
    if datatype not in DATATYPES:
        raise InvalidBody(
            f"input {name!r}: datatype {datatype!r} is not one of {', '.join(DATATYPES)}"
        )
    if "data" not in raw:
        raise InvalidBody(f'input {name!r} has no "data" (binary tensors are not supported)')
    values = _flatten(raw["data"], shape, name)
    return _Tensor(name, shape, datatype, _typed(values, datatype, name), _columns(raw, name))


def _dimension(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _columns(raw: dict, name: str) -> list[str] | None:
    parameters = raw.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise InvalidBody(f'input {name!r}: "parameters" must be an object')
    columns = parameters.get("columns")
    if columns is None:
        return None
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise InvalidBody(f'input {name!r}: "parameters.columns" must be an array of names')
    _unique(columns, f"parameters.columns of {name!r}")
    return columns


def _flatten(data: Any, shape: list[int], name: str) -> list[Any]:
    """Row-major values of `data`, flat or nested exactly as `shape` says."""
    if not isinstance(data, list):
        raise InvalidBody(f'input {name!r}: "data" must be an array, got {type(data).__name__}')
    size = math.prod(shape)
    if not any(isinstance(v, list) for v in data):
        if len(data) != size:
            raise InvalidBody(
                f"input {name!r}: shape {shape} holds {size} value(s) but data has {len(data)}",
                {"input": name, "shape": shape, "values": len(data)},
            )
        return data
    flat: list[Any] = []
    _walk(data, shape, 0, name, flat)
    return flat


def _walk(item: Any, shape: list[int], depth: int, name: str, out: list[Any]) -> None:
    if depth == len(shape):
        if isinstance(item, list):
            raise InvalidBody(f"input {name!r}: data is nested deeper than shape {shape}")
        out.append(item)
        return
    if not isinstance(item, list) or len(item) != shape[depth]:
        raise InvalidBody(
            f"input {name!r}: data is not nested as shape {shape} says (ragged, or a "
            f"dimension of another length at level {depth}); send it flat or nested exactly",
            {"input": name, "shape": shape},
        )
    for value in item:
        _walk(value, shape, depth + 1, name, out)


def _typed(values: list[Any], datatype: str, name: str) -> list[Any]:
    """Check each value against the datatype; BOOL becomes 0/1 so numeric features take it."""
    if datatype == "BYTES":
        wrong = [v for v in values if v is not None and not isinstance(v, str)]
        expected = "strings"
    elif datatype == "BOOL":
        wrong = [v for v in values if v is not None and not isinstance(v, bool)]
        expected = "true or false"
        values = values if wrong else [v if v is None else int(v) for v in values]
    else:
        kinds = (int,) if NUMERIC[datatype] is int else (int, float)
        wrong = [
            v for v in values if v is not None and (isinstance(v, bool) or not isinstance(v, kinds))
        ]
        expected = "integers" if kinds == (int,) else "numbers"
    if wrong:
        raise InvalidBody(
            f"input {name!r}: datatype {datatype} holds {expected}, got {wrong[0]!r}",
            {"input": name, "datatype": datatype},
        )
    return values


def _rows(inputs: list[_Tensor], features: list[str], max_rows: int) -> Rows:
    matrix = [t for t in inputs if t.columns is not None or _is_matrix(t, features)]
    if matrix:
        if len(inputs) > 1:
            raise InvalidBody(
                "send either one tensor per feature or a single 2-D tensor, not both",
                {"inputs": [t.name for t in inputs]},
            )
        return _matrix_rows(matrix[0], features, max_rows)
    unknown = [t.name for t in inputs if t.name not in features]
    if unknown:
        raise InvalidBody(
            f"unknown input(s) {', '.join(map(repr, unknown))}; the model's inputs are "
            f"{', '.join(features)} (GET /v2/models/<name> lists them)",
            {"unknown_inputs": unknown, "inputs": features},
        )
    lengths = {t.name: t.shape[0] for t in inputs}
    for t in inputs:
        if len(t.shape) > 2 or (len(t.shape) == 2 and t.shape[1] != 1):
            raise InvalidBody(
                f"input {t.name!r}: a feature tensor has shape [n] or [n, 1], got {t.shape}",
                {"input": t.name, "shape": t.shape},
            )
    if len(set(lengths.values())) > 1:
        raise InvalidBody(
            "every input needs the same number of rows (shape[0]); got "
            + ", ".join(f"{name}: {n}" for name, n in lengths.items()),
            {"rows": lengths},
        )
    n_rows = inputs[0].shape[0]
    check_rows(n_rows, max_rows)
    return Rows({t.name: t.values for t in inputs}, n_rows)


def _is_matrix(tensor: _Tensor, features: list[str]) -> bool:
    return tensor.name not in features and len(tensor.shape) == 2 and tensor.shape[1] != 1


def _matrix_rows(tensor: _Tensor, features: list[str], max_rows: int) -> Rows:
    columns = tensor.columns or features
    if len(tensor.shape) != 2 or tensor.shape[1] != len(columns):
        raise InvalidBody(
            f"input {tensor.name!r}: a 2-D tensor needs shape [n, {len(columns)}] (one column "
            f"per name in {'parameters.columns' if tensor.columns else 'the model inputs'}), "
            f"got {tensor.shape}",
            {"input": tensor.name, "shape": tensor.shape, "columns": columns},
        )
    n_rows, width = tensor.shape
    check_rows(n_rows, max_rows)
    values = tensor.values
    return Rows({name: values[j::width] for j, name in enumerate(columns)}, n_rows)


def _unique(names: list[str], where: str) -> None:
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InvalidBody(f"{where} names {', '.join(map(repr, repeated))} more than once")


def _requested_outputs(raw: Any, model: LoadedModel) -> list[str] | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or not all(isinstance(o, dict) for o in raw):
        raise InvalidBody('"outputs" must be an array of objects like {"name": "predict"}')
    names = [o.get("name") for o in raw]
    available = output_names(model)
    unknown = [n for n in names if n not in available]
    if unknown:
        raise InvalidBody(
            f"unknown output(s) {', '.join(map(repr, unknown))}; this model has "
            f"{', '.join(available)}",
            {"unknown_outputs": unknown, "outputs": available},
        )
    return list(dict.fromkeys(names))


def output_names(model: LoadedModel) -> list[str]:
    """The outputs a model can return: predict, plus predict_proba for classifiers."""
    return list(OUTPUTS) if model.classes is not None else ["predict"]


def encode_infer(
    model: LoadedModel, result: PredictionResult, request: InferRequest
) -> dict[str, Any]:
    """The infer response: `predict` ([n]) and, for classifiers, `predict_proba` ([n, k])."""
    wanted = request.outputs or output_names(model)
    predictions = result.prediction_list()
    outputs = []
    if "predict" in wanted:
        outputs.append(tensor("predict", [len(predictions)], _datatype(predictions), predictions))
    if "predict_proba" in wanted and result.probabilities is not None:
        probabilities = result.probabilities
        values = [p if math.isfinite(p) else None for p in probabilities.ravel().tolist()]
        classes = [str(c) for c in model.classes or []]
        outputs.append(
            tensor("predict_proba", list(probabilities.shape), "FP64", values, classes=classes)
        )
    body: dict[str, Any] = {"model_name": model.name, "model_version": str(model.version)}
    if request.request_id is not None:
        body["id"] = request.request_id
    if result.warnings:
        body["parameters"] = {"warnings": result.warnings}
    body["outputs"] = outputs
    return body


def tensor(
    name: str, shape: list[int], datatype: str, data: list[Any], **parameters: Any
) -> dict[str, Any]:
    """One output tensor."""
    out: dict[str, Any] = {"name": name, "shape": shape, "datatype": datatype}
    if parameters:
        out["parameters"] = parameters
    out["data"] = data
    return out


def _datatype(values: list[Any]) -> str:
    kinds = {type(v) for v in values if v is not None}
    if kinds <= {bool}:
        return "BOOL" if kinds else "FP64"
    if kinds <= {int}:
        return "INT64"
    if kinds <= {int, float}:
        return "FP64"
    return "BYTES"


def model_metadata(model: LoadedModel, versions: list[int]) -> dict[str, Any]:
    """Model metadata: one input tensor per feature (FP64 or BYTES, shape [-1]) and the outputs."""
    inputs = [
        {
            "name": f.name,
            "datatype": "FP64" if f.kind == "numeric" else "BYTES",
            "shape": [-1],
        }
        for f in model.schema.features
    ]
    classes = model.classes
    predict_type = "FP64" if classes is None else _datatype(list(classes))
    outputs = [{"name": "predict", "datatype": predict_type, "shape": [-1]}]
    if classes is not None:
        outputs.append({"name": "predict_proba", "datatype": "FP64", "shape": [-1, len(classes)]})
    return {
        "name": model.name,
        "versions": [str(v) for v in versions],
        "platform": "sklearn",
        "inputs": inputs,
        "outputs": outputs,
        "parameters": {
            "content_type": "pd",
            "version": str(model.version),
            **({"classes": [str(c) for c in classes]} if classes is not None else {}),
        },
    }
