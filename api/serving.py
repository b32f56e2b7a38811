"""The one path of an online prediction after decoding: route, validate, predict, encode, log.

Every protocol calls `serve` with the rows its codec decoded and its own encoder, so routing
(production or canary, api/traffic.py), validation and prediction (the core), metrics, the
prediction log and shadow predictions happen once, in this order, for all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from api.codecs import Rows
from api.metrics import PREDICTIONS, request_milliseconds
from api.request_ids import current_request_id
from api.services import services
from api.traffic import route_request
from db.prediction_log import PredictionLogger
from inference.model import LoadedModel
from inference.predict import PredictionResult, predict_columns

Answer = TypeVar("Answer")


def serve(
    model: LoadedModel,
    rows: Rows,
    encode: Callable[[LoadedModel, PredictionResult], Answer],
    *,
    ids: list[Any] | None = None,
    protocol: str | None = None,
) -> Answer:
    """Predict decoded rows and answer them in the caller's encoding.

    `model` is the version the request resolved to; when that is production, a canary may
    answer instead, so `encode` is given the model that answered. `ids` label stored rows;
    `protocol` ("v2", "mlflow") marks what was spoken in the log.
    """
    svc = services()
    route = route_request(svc.store, model, ids)
    result = predict_columns(route.model, rows.columns, rows.n_rows)
    answer = encode(route.model, result)
    PREDICTIONS.labels(route.model.name, str(route.model.version)).inc(rows.n_rows)
    if svc.prediction_log is None:
        return answer
    request_id = current_request_id()
    logged = log_prediction(
        svc.prediction_log,
        route.model,
        rows,
        result,
        request_id=request_id,
        latency_ms=request_milliseconds(),
        role=route.role,
        ids=ids,
        protocol=protocol,
    )
    if logged and route.shadows and svc.shadows is not None:
        svc.shadows.submit(route.shadows, rows, request_id=request_id, ids=ids, protocol=protocol)
    return answer


def log_prediction(
    prediction_log: PredictionLogger,
    model: LoadedModel,
    rows: Rows,
    result: PredictionResult,
    *,
    request_id: str | None,
    latency_ms: float,
    role: str,
    ids: list[Any] | None = None,
    protocol: str | None = None,
    with_inputs: bool = True,
) -> bool:
    """Queue one prediction for the prediction log (no I/O on this thread); False if not kept.

    Shadow rows leave their inputs out: the served row of the same request holds them.
    """
    outputs = output_columns(result, ids)
    if protocol is not None:
        outputs["protocol"] = protocol
    return prediction_log.log(
        model_name=model.name,
        model_version=model.version,
        request_id=request_id,
        rows=rows.n_rows,
        latency_ms=latency_ms,
        inputs=rows.columns if with_inputs else None,
        outputs=outputs,
        role=role,
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
