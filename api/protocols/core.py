"""What every protocol layer shares with the native routes: the prediction path, errors."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from flask import Response

from api.codecs import Rows
from api.error_handlers import render_error
from api.serving import serve
from inference.model import LoadedModel
from inference.predict import PredictionResult


def predict_logged(
    model: LoadedModel, rows: Rows, *, protocol: str
) -> tuple[LoadedModel, PredictionResult]:
    """Route, validate, predict, count and log `rows` on the native path (api.serving.serve).

    The prediction log holds the native outputs (so monitoring reads one shape) plus the
    protocol that was spoken; the protocol layer encodes the result itself, naming the model
    that answered (the canary, for its share of requests).
    """
    return serve(model, rows, lambda answered, result: (answered, result), protocol=protocol)


def server_version() -> str:
    """skserve's installed version."""
    try:
        return version("skserve")
    except PackageNotFoundError:  # running from a source tree without an install
        return "0+unknown"


def native_error(exc: Exception) -> Response:
    """The native error response for `exc`, for a protocol layer to reshape."""
    return render_error(exc)
