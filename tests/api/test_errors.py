"""Malformed and invalid requests: each gets its documented status and error_code, never a 5xx."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.exc import OperationalError

from api.error_handlers import register_error_handlers
from tests.api.helpers import RECORD

JSON = "application/json"
PREDICT = "/models/adult/predict"


def record(**changes: Any) -> dict[str, Any]:
    """RECORD with some features changed; a value of ... removes the feature."""
    changed = {**RECORD, **changes}
    return {k: v for k, v in changed.items() if v is not ...}


def raw(text: str | bytes, content_type: str = JSON) -> dict[str, Any]:
    return {"data": text, "content_type": content_type}


def body(payload: Any) -> dict[str, Any]:
    return raw(json.dumps(payload))


# (case, method, path, request kwargs, status, error_code, feature the details must name)
CASES = [
    # malformed JSON
    ("truncated object", "POST", PREDICT, raw("{"), 400, "INVALID_JSON", None),
    ("empty body", "POST", PREDICT, raw(""), 400, "INVALID_JSON", None),
    ("single quotes", "POST", PREDICT, raw("{'age': 39}"), 400, "INVALID_JSON", None),
    ("not UTF-8", "POST", PREDICT, raw(b'{"age": "\xff"}'), 400, "INVALID_JSON", None),
    ("trailing garbage", "POST", PREDICT, raw('{"age": 39} x'), 400, "INVALID_JSON", None),
    ("absurd nesting", "POST", PREDICT, raw("[" * 50_000), 400, "INVALID_JSON", None),
    ("JSON string of bad JSON", "POST", PREDICT, body("{age"), 400, "INVALID_JSON", None),
    # wrong shapes
    ("number body", "POST", PREDICT, body(5), 400, "INVALID_BODY", None),
    ("string body", "POST", PREDICT, body("age=39"), 400, "INVALID_BODY", None),
    ("null body", "POST", PREDICT, body(None), 400, "INVALID_BODY", None),
    ("empty object", "POST", PREDICT, body({}), 400, "INVALID_BODY", None),
    ("empty list", "POST", PREDICT, body([]), 400, "INVALID_BODY", None),
    ("list of numbers", "POST", PREDICT, body([39, 40]), 400, "INVALID_BODY", None),
    ("rows without columns", "POST", PREDICT, body({"data": [[39]]}), 400, "INVALID_BODY", None),
    (
        "columnar lengths differ",
        "POST",
        PREDICT,
        body({"data": {"age": [39, 40], "sex": ["Male"]}}),
        400,
        "INVALID_BODY",
        None,
    ),
    (
        "split row too short",
        "POST",
        PREDICT,
        body({"columns": ["age", "sex"], "data": [[39]]}),
        400,
        "INVALID_BODY",
        None,
    ),
    (
        "split duplicate columns",
        "POST",
        PREDICT,
        body({"columns": ["age", "age"], "data": [[39, 40]]}),
        400,
        "INVALID_BODY",
        None,
    ),
    (
        "dataframe_split list",
        "POST",
        PREDICT,
        body({"dataframe_split": [[1]]}),
        400,
        "INVALID_BODY",
        None,
    ),
    ("records object", "POST", PREDICT, body({"records": RECORD}), 400, "INVALID_BODY", None),
    (
        "two envelopes",
        "POST",
        PREDICT,
        body({"ids": [1], "records": [RECORD]}),
        400,
        "INVALID_BODY",
        None,
    ),
    ("ids not a list", "POST", PREDICT, body({"ids": 1}), 400, "INVALID_BODY", None),
    ("ids empty", "POST", PREDICT, body({"ids": []}), 400, "INVALID_BODY", None),
    ("flat record with array", "POST", PREDICT, body(record(age=[39])), 400, "INVALID_BODY", None),
    # invalid features
    ("missing feature", "POST", PREDICT, body(record(age=...)), 422, "INVALID_INPUT", "age"),
    ("only unknown fields", "POST", PREDICT, body({"colour": "blue"}), 422, "INVALID_INPUT", "age"),
    ("number as text", "POST", PREDICT, body(record(age="abc")), 422, "INVALID_INPUT", "age"),
    ("category as number", "POST", PREDICT, body(record(sex=1)), 422, "INVALID_INPUT", "sex"),
    ("boolean as number", "POST", PREDICT, body(record(age=True)), 422, "INVALID_INPUT", "age"),
    ("null number", "POST", PREDICT, body(record(age=None)), 422, "INVALID_INPUT", "age"),
    ("null category", "POST", PREDICT, body(record(sex=None)), 422, "INVALID_INPUT", "sex"),
    (
        "infinite number",
        "POST",
        PREDICT,
        raw('{"data": {"age": [1e999]}}'),
        422,
        "INVALID_INPUT",
        "age",
    ),
    (
        "Infinity literal",
        "POST",
        PREDICT,
        raw(json.dumps(record(hours_per_week=float("inf")))),
        422,
        "INVALID_INPUT",
        "hours_per_week",
    ),
    (
        "NaN literal",
        "POST",
        PREDICT,
        raw(json.dumps(record(fnlwgt=float("nan")))),
        422,
        "INVALID_INPUT",
        "fnlwgt",
    ),
    (
        "nested value in records",
        "POST",
        PREDICT,
        body([record(fnlwgt={"v": 1})]),
        422,
        "INVALID_INPUT",
        "fnlwgt",
    ),
    (
        "bad value in row 2",
        "POST",
        PREDICT,
        body([RECORD, record(capital_gain="lots")]),
        422,
        "INVALID_INPUT",
        "capital_gain",
    ),
    (
        "CSV text in a number column",
        "POST",
        PREDICT,
        raw("age,fnlwgt\nabc,1\n", "text/csv"),
        422,
        "INVALID_INPUT",
        "age",
    ),
    (
        "CSV unparseable",
        "POST",
        PREDICT,
        raw('age,sex\n"39,Male\n', "text/csv"),
        400,
        "INVALID_BODY",
        None,
    ),
    ("CSV header only", "POST", PREDICT, raw("age,sex\n", "text/csv"), 400, "INVALID_BODY", None),
    # too large
    ("too many rows", "POST", PREDICT, body([RECORD] * 51), 413, "PAYLOAD_TOO_LARGE", None),
    (
        "too many ids",
        "POST",
        PREDICT,
        body({"ids": list(range(1, 52))}),
        413,
        "PAYLOAD_TOO_LARGE",
        None,
    ),
    (
        "huge body",
        "POST",
        PREDICT,
        body({"data": {"age": [1] * 100_000}}),
        413,
        "PAYLOAD_TOO_LARGE",
        None,
    ),
    # ids
    (
        "unknown ids",
        "POST",
        PREDICT,
        body({"ids": [999_999_998, 999_999_999]}),
        404,
        "ENTITY_NOT_FOUND",
        None,
    ),
    (
        "unknown entity",
        "GET",
        "/models/adult/entities/999999999/prediction",
        {},
        404,
        "ENTITY_NOT_FOUND",
        None,
    ),
    ("text entity id", "GET", "/models/adult/entities/abc/prediction", {}, 400, "INVALID_ID", None),
    (
        "SQL in a path id",
        "GET",
        "/models/adult/entities/1%20OR%201=1/prediction",
        {},
        400,
        "INVALID_ID",
        None,
    ),
    (
        "SQL in ids",
        "POST",
        PREDICT,
        body({"ids": ["1; DROP TABLE adult_features; --"]}),
        400,
        "INVALID_ID",
        None,
    ),
    ("SQL quote in ids", "POST", PREDICT, body({"ids": ["1' OR '1'='1"]}), 400, "INVALID_ID", None),
    ("float id", "POST", PREDICT, body({"ids": [1.5]}), 400, "INVALID_ID", None),
    ("boolean id", "POST", PREDICT, body({"ids": [True]}), 400, "INVALID_ID", None),
    ("object id", "POST", PREDICT, body({"ids": [{"id": 1}]}), 400, "INVALID_ID", None),
    ("id beyond bigint", "POST", PREDICT, body({"ids": [2**64]}), 400, "INVALID_ID", None),
    # models and versions
    ("unknown model", "POST", "/models/nope/predict", body(RECORD), 404, "MODEL_NOT_FOUND", None),
    (
        "unknown model by query",
        "GET",
        "/models/nope/predict?age=39",
        {},
        404,
        "MODEL_NOT_FOUND",
        None,
    ),
    (
        "unknown version",
        "POST",
        PREDICT + "?version=999",
        body(RECORD),
        404,
        "VERSION_NOT_FOUND",
        None,
    ),
    ("text version", "POST", PREDICT + "?version=abc", body(RECORD), 400, "INVALID_VERSION", None),
    ("zero version", "POST", PREDICT + "?version=0", body(RECORD), 400, "INVALID_VERSION", None),
    (
        "negative version",
        "POST",
        PREDICT + "?version=-1",
        body(RECORD),
        400,
        "INVALID_VERSION",
        None,
    ),
    (
        "fractional version",
        "POST",
        PREDICT + "?version=1.5",
        body(RECORD),
        400,
        "INVALID_VERSION",
        None,
    ),
    (
        "SQL in version",
        "POST",
        PREDICT + "?version=1;DROP",
        body(RECORD),
        400,
        "INVALID_VERSION",
        None,
    ),
    (
        "unknown version of an entity",
        "GET",
        "/models/adult/entities/1/prediction?version=999",
        {},
        404,
        "VERSION_NOT_FOUND",
        None,
    ),
    (
        "download unknown version",
        "GET",
        "/model/download?version=999",
        {},
        404,
        "VERSION_NOT_FOUND",
        None,
    ),
    # content types
    (
        "text/plain",
        "POST",
        PREDICT,
        raw(json.dumps(RECORD), "text/plain"),
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        None,
    ),
    (
        "form encoded",
        "POST",
        PREDICT,
        raw("age=39", "application/x-www-form-urlencoded"),
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        None,
    ),
    (
        "xml",
        "POST",
        "/predict",
        raw("<age>39</age>", "application/xml"),
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        None,
    ),
    # query strings
    ("query repeats a feature", "GET", PREDICT + "?age=39&age=40", {}, 400, "INVALID_BODY", None),
    ("query without features", "GET", PREDICT + "?version=1", {}, 400, "INVALID_BODY", None),
    ("query with a bad value", "GET", PREDICT + "?age=old", {}, 422, "INVALID_INPUT", "age"),
    ("seed query with a bad value", "GET", "/?age=old", {}, 422, "INVALID_INPUT", "age"),
    # routing
    ("unknown endpoint", "GET", "/nowhere", {}, 404, "NOT_FOUND", None),
    ("predict with DELETE", "DELETE", PREDICT, {}, 405, "METHOD_NOT_ALLOWED", None),
    ("alias with PUT", "PUT", "/predict", body(RECORD), 405, "METHOD_NOT_ALLOWED", None),
    ("health with POST", "POST", "/health", {}, 405, "METHOD_NOT_ALLOWED", None),
]


@pytest.mark.parametrize(
    ("case", "method", "path", "kwargs", "status", "error_code", "feature"),
    CASES,
    ids=[case[0] for case in CASES],
)
def test_bad_request_gets_its_error(
    client: FlaskClient,
    case: str,
    method: str,
    path: str,
    kwargs: dict[str, Any],
    status: int,
    error_code: str,
    feature: str | None,
) -> None:
    response = client.open(path, method=method, **kwargs)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/json"
    error = response.get_json()
    assert set(error) == {"error_code", "message", "details"}
    assert error["error_code"] == error_code
    assert error["message"] and "Traceback" not in error["message"]
    if feature is not None:
        assert feature in error["details"]


def test_there_are_at_least_forty_cases() -> None:
    assert len(CASES) >= 40


def test_huge_body_says_to_submit_a_batch_job(client: FlaskClient) -> None:
    error = client.post(PREDICT, **body([RECORD] * 51)).get_json()
    assert "POST /jobs" in error["message"]
    assert error["details"] == {"rows": 51, "max_rows_per_request": 50}


def test_method_not_allowed_names_the_allowed_methods(client: FlaskClient) -> None:
    response = client.delete(PREDICT)
    assert response.get_json()["details"]["allowed_methods"] == ["GET", "POST"]
    assert "POST" in response.headers["Allow"]


def test_every_invalid_feature_is_named(client: FlaskClient) -> None:
    bad = record(age="x", sex=None, race=3, fnlwgt=float("inf"), education=...)
    error = client.post(PREDICT, **raw(json.dumps(bad))).get_json()
    assert set(error["details"]) == {"age", "sex", "race", "fnlwgt", "education"}


def _bare_app() -> Flask:
    app = Flask(__name__)
    register_error_handlers(app)

    @app.get("/bug")
    def bug() -> None:
        raise RuntimeError("secret internals")

    @app.get("/db")
    def db_down() -> None:
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    return app


def test_unexpected_errors_are_logged_and_generic(caplog: pytest.LogCaptureFixture) -> None:
    response = _bare_app().test_client().get("/bug")
    assert response.status_code == 500
    error = response.get_json()
    assert error["error_code"] == "INTERNAL_ERROR" and "secret" not in error["message"]
    assert "secret internals" in caplog.text


def test_database_errors_are_503_without_sql() -> None:
    response = _bare_app().test_client().get("/db")
    assert response.status_code == 503
    error = response.get_json()
    assert error["error_code"] == "SERVICE_UNAVAILABLE" and "SELECT" not in error["message"]
