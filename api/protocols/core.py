"""The one path every protocol layer takes: validate -> predict -> log, as the native route does."""

from __future__ import annotations

import time
from importlib.metadata import PackageNotFoundError, version

from flask import Response
from sqlalchemy.exc import InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from api import errors
from api.codecs import Rows, encode_result
from api.routes.predictions import predict_rows, record_prediction
from inference.model import LoadedModel
from inference.predict import PredictionResult


def predict_logged(
    model: LoadedModel, rows: Rows, *, protocol: str, started: float
) -> PredictionResult:
    """Validate and predict `rows`, then count and log them like a native prediction.

    The prediction log holds the native body (so monitoring reads one shape) plus the
    protocol that was spoken; `started` is the request's `time.perf_counter()`.
    """
    result = predict_rows(model, rows)
    body = {**encode_result(model, result), "protocol": protocol}
    record_prediction(body, (time.perf_counter() - started) * 1000)
    return result


def server_version() -> str:
    """skserve's installed version."""
    try:
        return version("skserve")
    except PackageNotFoundError:  # running from a source tree without an install
        return "0+unknown"


def native_error(exc: Exception) -> Response:
    """The native error response for `exc`, for a protocol layer to reshape."""
    if isinstance(exc, errors.APIError):
        return errors.handle_api_error(exc)
    if isinstance(exc, HTTPException):
        return errors.handle_http_exception(exc)
    if isinstance(exc, OperationalError | InterfaceError):
        return errors.handle_database_error(exc)
    return errors.handle_unexpected(exc)
