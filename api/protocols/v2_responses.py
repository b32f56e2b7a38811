"""Open Inference Protocol (V2) responses: infer outputs and model metadata."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from inference.model import LoadedModel
from inference.predict import PredictionResult

if TYPE_CHECKING:
    from api.protocols.v2_codec import InferRequest

OUTPUTS = ("predict", "predict_proba")


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
