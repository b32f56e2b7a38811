"""Flask's JSON responses through orjson: Flask's values, plain JSON where Flask's was not."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import pytest
from flask import Flask
from flask.json.provider import DefaultJSONProvider

from api.json_provider import OrjsonProvider


@pytest.fixture
def app() -> Flask:
    app = Flask(__name__)
    app.json = OrjsonProvider(app)
    return app


def flask_bytes(app: Flask, value: object) -> bytes:
    stock = DefaultJSONProvider(app)
    stock.sort_keys = False
    return stock.response(value).get_data()


@pytest.mark.parametrize(
    "value",
    [
        {"model": "adult", "version": 1, "predictions": ["<=50K", ">50K"]},
        {"probabilities": [{"<=50K": 0.9037005848850621, ">50K": 0.09629941511493785}]},
        {"huge": 1e16, "small": 0.0001, "negative": -0.0, "nothing": None, "yes": True},
        {"when": datetime(2026, 12, 3, 11, 30, tzinfo=UTC), "price": Decimal("1.50")},
    ],
)
def test_same_bytes_as_flask(app, value):
    with app.app_context():
        assert app.json.response(value).get_data() == flask_bytes(app, value)


def test_tiny_floats_keep_their_value_without_an_exponent(app):
    with app.app_context():
        assert app.json.response([1e-05, 1.2e-07]).get_data() == b"[0.00001,1.2e-7]\n"
        assert json.loads(flask_bytes(app, [1e-05, 1.2e-07])) == [1e-05, 1.2e-07]


def test_utf_8_text_and_null_for_non_finite_floats(app):
    with app.app_context():
        body = app.json.response({"city": "Zürich 日本", "score": float("nan")}).get_data()
    assert body == '{"city":"Zürich 日本","score":null}\n'.encode()


def test_integers_beyond_64_bits_fall_back_to_flasks_encoder_numpy_values_included(app):
    with app.app_context():
        body = app.json.response({"id": 2**70, "age": np.int64(39), "rows": np.arange(2)})
    assert json.loads(body.get_data()) == {"id": 2**70, "age": 39, "rows": [0, 1]}


def test_returning_a_dict_from_a_route_uses_it(app):
    app.add_url_rule("/", view_func=lambda: {"score": float("inf")})
    response = app.test_client().get("/")
    assert response.is_json and response.get_data() == b'{"score":null}\n'
