"""The one path of an online prediction after decoding: validate, predict, encode, log.

Every protocol calls `serve` with the rows its codec decoded and its own encoder, so validation
and prediction (the core), metrics and the prediction log happen once, in this order, for all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from api.codecs import Rows
from api.metrics import PREDICTIONS, request_milliseconds
from api.request_ids import current_request_id
from api.services import services
from inference.model import LoadedModel
from inference.predict import PredictionResult, predict_columns

Answer = TypeVar("Answer")


def serve(
    model: LoadedModel,
    rows: Rows,
    encode: Callable[[PredictionResult], Answer],
    *,
    ids: list[Any] | None = None,
    protocol: str | None = None,
) -> Answer:
    """Predict decoded rows and answer them in the caller's encoding.

    `ids` label stored rows; `protocol` ("v2", "mlflow") marks what was spoken in the log.
    """
    result = predict_columns(model, rows.columns, rows.n_rows)
    answer = encode(result)
    record(model, rows, result, ids=ids, protocol=protocol)
    return answer


def record(
    model: LoadedModel,
    rows: Rows,
    result: PredictionResult,
    *,
    ids: list[Any] | None = None,
    protocol: str | None = None,
) -> None:
    """Count the predicted rows and queue them for the prediction log (no I/O on this thread)."""
    PREDICTIONS.labels(model.name, str(model.version)).inc(rows.n_rows)
    prediction_log = services().prediction_log
    if prediction_log is None:
        return
    outputs = output_columns(result, ids)
    if protocol is not None:
        outputs["protocol"] = protocol
    prediction_log.log(
        model_name=model.name,
        model_version=model.version,
        request_id=current_request_id(),
        rows=rows.n_rows,
        latency_ms=request_milliseconds(),
        inputs=rows.columns,
        outputs=outputs,
    )


def output_columns(result: PredictionResult, ids: list[Any] | None = None) -> dict[str, Any]:
    """The prediction log's `outputs`: predictions, probabilities per class, ids, row by row."""
    outputs: dict[str, Any] = {"predictions": result.predictions}
    if result.probabilities is not None and result.classes is not None:
        by_class = np.ascontiguousarray(result.probabilities.T)
        outputs["probabilities"] = dict(zip(map(str, result.classes), by_class, strict=False))
    if ids is not None:
        outputs["ids"] = ids
    return outputs
