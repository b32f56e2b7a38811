"""Hostile input on every route: each gets a 4xx in the JSON error shape, never a 5xx, and
nothing is logged as a traceback (issue 11's classes: huge numbers, NUL and lone surrogates,
bad path parameters, deep nesting, wide CSVs, NaN echoes, huge strings)."""

from __future__ import annotations

import io
import json
import logging
from typing import Any
from urllib.parse import urlencode

import pytest
from flask.testing import FlaskClient

from inference.validation import magnitude_limit
from tests.api.helpers import RECORD

JSON = "application/json"
P = "/models/adult/predict"
JOB = "00000000-0000-4000-8000-000000000000"
HUGE = "x" * 10_000_000


def rec(**changes: Any) -> dict[str, Any]:
    return {**RECORD, **changes}


def j(payload: Any) -> dict[str, Any]:
    return {"data": json.dumps(payload), "content_type": JSON}


def raw(text: str | bytes, content_type: str = JSON) -> dict[str, Any]:
    return {"data": text, "content_type": content_type}


def csv(*rows: dict[str, Any], header: list[str] | None = None) -> dict[str, Any]:
    names = header or list(RECORD)
    lines = [",".join(names)] + [",".join(str(r.get(n, "")) for n in names) for r in rows]
    return raw("\n".join(lines) + "\n", "text/csv")


def query(**changes: Any) -> str:

    return urlencode(rec(**changes))


def upload(data: bytes, name: str = "rows.csv", **fields: str) -> dict[str, Any]:
    return {
        "data": {"file": (io.BytesIO(data), name), **fields},
        "content_type": "multipart/form-data",
    }


WIDE = (",".join(["id"] + [f"c{i}" for i in range(3000)]) + "\n" + ",".join(["1"] * 3001)).encode()
BIG_INT = "9" * 400
NUL, SURROGATE = "\u0000", "\ud800"
ADMIN = {"Authorization": "Bearer hostile-admin"}

# (case, method, path, request kwargs, status, error_code)
CASES: list[tuple[str, str, str, dict[str, Any], int, str]] = []


def case(name: str, method: str, path: str, kwargs: dict | None, status: int, code: str) -> None:
    CASES.append((name, method, path, kwargs or {}, status, code))


# Finite but huge numbers, in every way a number arrives.
for feature in ("age", "fnlwgt", "capital_gain", "hours_per_week"):
    case(f"json 1e40 {feature}", "POST", P, j(rec(**{feature: 1e40})), 422, "INVALID_INPUT")
    case(f"json -3e38 {feature}", "POST", P, j(rec(**{feature: -3e38})), 422, "INVALID_INPUT")
    case(f"csv 1e40 {feature}", "POST", P, csv(rec(**{feature: "1e40"})), 422, "INVALID_INPUT")
    case(
        f"query 1e40 {feature}",
        "GET",
        f"{P}?{query(**{feature: '1e40'})}",
        None,
        422,
        "INVALID_INPUT",
    )
    case(
        f"query {feature} 400 digits",
        "GET",
        f"{P}?{query(**{feature: BIG_INT})}",
        None,
        422,
        "INVALID_INPUT",
    )
case(
    "json 400-digit integer",
    "POST",
    P,
    raw(json.dumps(RECORD).replace("39", BIG_INT, 1)),
    422,
    "INVALID_INPUT",
)
case(
    "json 5000-digit integer",
    "POST",
    P,
    raw(json.dumps(RECORD).replace("39", "9" * 5000, 1)),
    400,
    "INVALID_JSON",
)
case("csv 400-digit integer", "POST", P, csv(rec(age=BIG_INT)), 422, "INVALID_INPUT")
case(
    "columnar huge",
    "POST",
    P,
    j({"data": {k: [v, 1e300 if k == "age" else v] for k, v in RECORD.items()}}),
    422,
    "INVALID_INPUT",
)
case("seed alias huge", "POST", "/predict", j(rec(age=1e39)), 422, "INVALID_INPUT")
case("seed query huge", "GET", f"/?{query(age='1e39')}", None, 422, "INVALID_INPUT")
case("json Infinity", "POST", P, raw(json.dumps(rec(age=float("inf")))), 422, "INVALID_INPUT")
case("json -Infinity", "POST", P, raw(json.dumps(rec(age=float("-inf")))), 422, "INVALID_INPUT")
# NUL and lone surrogates in JSON strings, keys, CSV and query strings.
for where, body in {
    "value": rec(workclass=f"a{NUL}b"),
    "key": {**RECORD, NUL: 1},
    "surrogate value": rec(workclass=SURROGATE),
    "surrogate key": {**RECORD, SURROGATE: 1},
    "records": {"records": [rec(sex=NUL)]},
    "split column": {"columns": [NUL], "data": [[1]]},
    "ids": {"ids": [NUL]},
}.items():
    case(f"json {where} NUL/surrogate", "POST", P, j(body), 400, "INVALID_JSON")
    case(f"seed json {where} NUL/surrogate", "POST", "/model/predict", j(body), 400, "INVALID_JSON")
case("csv NUL", "POST", P, raw(b"age\n\x00\n", "text/csv"), 400, "INVALID_BODY")
case(
    "csv not UTF-8",
    "POST",
    P,
    raw(b"age,workclass\n39,\xff\xfe\n", "text/csv"),
    400,
    "INVALID_BODY",
)
case("query NUL value", "GET", f"{P}?{query(workclass=NUL)}", None, 400, "INVALID_PARAMETER")
case("query NUL name", "GET", f"{P}?%00=1", None, 400, "INVALID_PARAMETER")
case("query invalid UTF-8", "GET", f"{P}?age=%ff", None, 400, "INVALID_PARAMETER")
case("query encoded surrogate", "GET", f"{P}?age=%ed%a0%80", None, 400, "INVALID_PARAMETER")
case("seed query NUL", "GET", "/?age=%00", None, 400, "INVALID_PARAMETER")
case("version NUL", "POST", f"{P}?version=%00", j(RECORD), 400, "INVALID_PARAMETER")
case("jobs status NUL", "GET", "/jobs?status=%00", None, 400, "INVALID_PARAMETER")
case("jobs offset NUL", "GET", "/jobs?offset=%00", None, 400, "INVALID_PARAMETER")
case("results format NUL", "GET", f"/jobs/{JOB}/results?format=%00", None, 400, "INVALID_PARAMETER")
# Path segments: NUL, invalid UTF-8, characters outside the pattern, on every route.
for segment in ("%00", "%ff", "a%20b", "-lead", "x" * 200, "%ed%a0%80"):
    status_code = 400
    case(
        f"model {segment[:8]}", "GET", f"/models/{segment}", None, status_code, "INVALID_PARAMETER"
    )
    case(
        f"predict model {segment[:8]}",
        "POST",
        f"/models/{segment}/predict",
        j(RECORD),
        400,
        "INVALID_PARAMETER",
    )
    case(f"job {segment[:8]}", "GET", f"/jobs/{segment}", None, 400, "INVALID_PARAMETER")
for path in (
    "/models/%00/versions/1",
    "/models/%00/versions/1/artifact",
    "/models/adult/versions/%00",
    "/models/adult/versions/%00/artifact",
    "/models/%00/predict?age=1",
    "/models/%00/entities/1/prediction",
    "/models/adult/entities/%00/prediction",
    "/models/adult/entities/%ff/prediction",
    "/models/%00/train/" + JOB,
    "/models/adult/train/%00",
    "/jobs/%00/results",
    "/jobs/not-a-uuid",
    "/jobs/" + JOB.replace("0", "A"),
    "/%00",
    "/docs/%00",
):
    case(f"GET {path}", "GET", path, None, 400, "INVALID_PARAMETER")
case("DELETE job NUL", "DELETE", "/jobs/%00", None, 400, "INVALID_PARAMETER")
case(
    "DELETE version NUL",
    "DELETE",
    "/models/%00/versions/1",
    {"headers": ADMIN},
    400,
    "INVALID_PARAMETER",
)
case(
    "promote NUL",
    "POST",
    "/models/%00/versions/1/promote",
    {"headers": ADMIN},
    400,
    "INVALID_PARAMETER",
)
case(
    "upload NUL name",
    "POST",
    "/models/%00/versions",
    {"headers": ADMIN, "data": b"x"},
    400,
    "INVALID_PARAMETER",
)
case("train NUL", "POST", "/models/%00/train", {"headers": ADMIN}, 400, "INVALID_PARAMETER")
case("not a training run", "GET", "/models/adult/train/not-a-run", None, 404, "NOT_FOUND")
case("unknown job", "GET", f"/jobs/{JOB}", None, 404, "JOB_NOT_FOUND")
case("unknown job results", "GET", f"/jobs/{JOB}/results", None, 404, "JOB_NOT_FOUND")
# Deep nesting, on every JSON route.
for path in (P, "/predict", "/jobs"):
    case(f"100,000 [ on {path}", "POST", path, raw("[" * 100_000), 400, "INVALID_JSON")
    case(f"30,000 {{ on {path}", "POST", path, raw('{"a":' * 30_000), 400, "INVALID_JSON")
# Batch job bodies.
SRC = {"table": "adult_features"}
for name, body, status, code in [
    ("model NUL", {"model": NUL, "source": SRC}, 400, "INVALID_JSON"),
    ("model surrogate", {"model": SURROGATE, "source": SRC}, 400, "INVALID_JSON"),
    ("table NUL", {"model": "adult", "source": {"table": f"adult{NUL}"}}, 400, "INVALID_JSON"),
    ("model huge", {"model": HUGE[:150_000], "source": SRC}, 404, "MODEL_NOT_FOUND"),
    ("model number", {"model": 5, "source": SRC}, 400, "INVALID_BODY"),
    (
        "table injection",
        {"model": "adult", "source": {"table": "x; DROP TABLE t"}},
        422,
        "INVALID_SOURCE",
    ),
    ("version huge", {"model": "adult", "version": 10**30, "source": SRC}, 400, "INVALID_VERSION"),
    (
        "version NaN",
        {"model": "adult", "version": float("nan"), "source": SRC},
        400,
        "INVALID_VERSION",
    ),
    (
        "chunk rows huge",
        {"model": "adult", "source": SRC, "chunk_rows": 10**30},
        422,
        "INVALID_SOURCE",
    ),
    (
        "chunk rows text",
        {"model": "adult", "source": SRC, "chunk_rows": "many"},
        422,
        "INVALID_SOURCE",
    ),
    (
        "chunk rows NaN",
        {"model": "adult", "source": SRC, "chunk_rows": float("nan")},
        422,
        "INVALID_SOURCE",
    ),
    ("ids huge", {"model": "adult", "source": {"ids": [10**30]}}, 422, "INVALID_SOURCE"),
    ("ids NaN", {"model": "adult", "source": {"ids": [float("nan")]}}, 422, "INVALID_SOURCE"),
    (
        "id range huge",
        {"model": "adult", "source": {"id_range": [1, 10**30]}},
        422,
        "INVALID_SOURCE",
    ),
    (
        "id range text",
        {"model": "adult", "source": {"id_range": ["a", "b"]}},
        422,
        "INVALID_SOURCE",
    ),
    ("source list", {"model": "adult", "source": [1]}, 422, "INVALID_SOURCE"),
]:
    case(f"job {name}", "POST", "/jobs", j(body), status, code)
case("job body NaN literal", "POST", "/jobs", raw('{"model": NaN}'), 400, "INVALID_BODY")
case("job CSV 3,000 columns", "POST", "/jobs", upload(WIDE, model="adult"), 422, "INVALID_CSV")
case("job CSV NUL", "POST", "/jobs", upload(b"id,age\n1,\x00\n", model="adult"), 422, "INVALID_CSV")
case(
    "job CSV not UTF-8",
    "POST",
    "/jobs",
    upload(b"id,age\n1,\xff\n", model="adult"),
    422,
    "INVALID_CSV",
)
case("job form model NUL", "POST", "/jobs", upload(b"id\n1\n", model=NUL), 400, "INVALID_PARAMETER")
case(
    "job form version junk",
    "POST",
    "/jobs",
    upload(b"id\n1\n", model="adult", version="1e9"),
    400,
    "INVALID_VERSION",
)
# Predictions by id and wide CSV bodies.
case("ids NaN", "POST", P, raw('{"ids": [NaN]}'), 400, "INVALID_ID")
case("ids Infinity", "POST", P, raw('{"ids": [Infinity]}'), 400, "INVALID_ID")
case("ids huge", "POST", P, j({"ids": [10**30]}), 400, "INVALID_ID")
case("ids nested", "POST", P, j({"ids": [[1]]}), 400, "INVALID_ID")
case("entity huge", "GET", f"/models/adult/entities/{BIG_INT}/prediction", None, 400, "INVALID_ID")
case("csv 3,000 columns", "POST", P, raw(WIDE, "text/csv"), 422, "INVALID_INPUT")
case("csv ragged", "POST", P, raw("age,sex\n1,2\n1,2,3,4\n", "text/csv"), 400, "INVALID_BODY")
# Huge strings: refused or answered, never echoed whole.
case(
    "huge category",
    "POST",
    "/models/adult/predict",
    j(rec(age=HUGE[:150_000])),
    422,
    "INVALID_INPUT",
)
case("huge key", "POST", P, j({**RECORD, HUGE[:150_000]: 1}), 200, "")
case("huge version", "GET", f"/model?version={'9' * 50_000}", None, 400, "INVALID_VERSION")
case("huge status", "GET", f"/jobs?status={'x' * 50_000}", None, 400, "INVALID_BODY")
case("huge path", "GET", "/models/" + "a" * 50_000, None, 400, "INVALID_PARAMETER")
case("body over the limit", "POST", P, raw(HUGE), 413, "PAYLOAD_TOO_LARGE")


@pytest.mark.parametrize(
    ("name", "method", "path", "kwargs", "status", "code"), CASES, ids=[c[0] for c in CASES]
)
def test_hostile_input_gets_a_4xx_in_the_error_shape(
    client: FlaskClient,
    caplog: pytest.LogCaptureFixture,
    name: str,
    method: str,
    path: str,
    kwargs: dict[str, Any],
    status: int,
    code: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    response = client.open(path, method=method, **kwargs)
    text = response.get_data(as_text=True)
    assert response.status_code == status, text[:500]
    assert response.mimetype == "application/json"
    assert len(text) < 20_000, "input echoed back whole"
    body = json.loads(text, parse_constant=_no_constants)
    if status >= 400:
        assert set(body) == {"error_code", "message", "details"}
        assert body["error_code"] == code
    assert "Traceback" not in caplog.text and not any(r.exc_info for r in caplog.records)


def _no_constants(name: str) -> None:
    raise AssertionError(f"the response holds {name}, which is not JSON")


def test_there_are_at_least_a_hundred_cases() -> None:
    assert len(CASES) >= 100


def test_every_numeric_feature_predicts_at_its_limit(client: FlaskClient, app) -> None:

    schema = app.extensions["skserve"].store.production("adult").schema
    for feature in schema.features:
        if feature.kind == "numeric":
            limit = magnitude_limit(feature.minimum, feature.maximum)
            for value in (limit, -limit):
                response = client.post(P, json=rec(**{feature.name: value}))
                assert response.status_code == 200, (feature.name, value, response.get_json())
