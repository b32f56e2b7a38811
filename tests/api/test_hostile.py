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
from tests.api.hostile_pickles import HOSTILE_PICKLES

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
case(
    "entity fullwidth 1",
    "GET",
    "/models/adult/entities/%EF%BC%91/prediction",
    None,
    400,
    "INVALID_ID",
)
case("ids Arabic-Indic 3", "POST", P, j({"ids": ["\u0663"]}), 400, "INVALID_ID")
# Feature values too: float() would read these digits of other scripts as 12.
FULLWIDTH_12, ARABIC_INDIC_12 = "\uff11\uff12", "\u0661\u0662"
case("json fullwidth age", "POST", P, j(rec(age=FULLWIDTH_12)), 422, "INVALID_INPUT")
case("csv Arabic-Indic age", "POST", P, csv(rec(age=ARABIC_INDIC_12)), 422, "INVALID_INPUT")
case("query fullwidth age", "GET", f"{P}?{query(age=FULLWIDTH_12)}", None, 422, "INVALID_INPUT")
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


# Tokens: with API_TOKEN set, every route outside the open list refuses a missing, wrong or
# malformed token with 401/403 in the error shape, before it reads anything.
API_TOKEN, ADMIN_TOKEN = "hostile-api-token", "hostile-admin"
BAD_TOKENS = {
    "missing": (None, 401),
    "empty": ("", 401),
    "scheme only": ("Bearer", 401),
    "blank token": ("Bearer    ", 401),
    "basic auth": ("Basic aG9zdGlsZTpwdw==", 401),
    "token without scheme": (API_TOKEN, 401),
    "wrong": ("Bearer wrong-token", 403),
    "prefix of the token": (f"Bearer {API_TOKEN[:-1]}", 403),
    "token plus junk": (f"Bearer {API_TOKEN}x", 403),
    "non-ASCII": ("Bearer t\u00f6ken", 403),
    "huge": ("Bearer " + "x" * 7_000, 403),
    "SQL": ("Bearer ' OR '1'='1", 403),
}
PATH_VALUES = {
    "name": "adult",
    "version": "1",
    "job_id": JOB,
    "run_id": JOB,
    "entity_id": "1",
    "filename": "swagger-ui.css",
}


@pytest.fixture(scope="module")
def guarded_app(api_settings):
    from dataclasses import replace

    from tests.api.conftest import serving_app

    settings = replace(
        api_settings,
        api_token=API_TOKEN,
        admin_token=ADMIN_TOKEN,
        upload_inspect_seconds=20.0,  # a loaded machine starts the child slowly
        upload_inspect_memory_mib=1024,
    )
    with serving_app(settings) as app:
        yield app


def guarded_routes(app) -> list[tuple[str, str]]:
    """(method, path) of every route API_TOKEN guards, its parameters filled in."""
    from api.auth import OPEN_ENDPOINTS

    routes = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in OPEN_ENDPOINTS or rule.endpoint.startswith(("static", "console.")):
            continue
        path = rule.build({arg: PATH_VALUES[arg] for arg in rule.arguments}, append_unknown=False)
        routes += [(m, path[1]) for m in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return routes


def test_api_token_guards_routes_on_every_path(guarded_app) -> None:
    assert len(guarded_routes(guarded_app)) >= 30  # 32 when written


@pytest.mark.parametrize("token", list(BAD_TOKENS), ids=list(BAD_TOKENS))
def test_a_bad_token_is_refused_on_every_guarded_route(
    guarded_app, caplog: pytest.LogCaptureFixture, token: str
) -> None:
    caplog.set_level(logging.DEBUG)
    header, status = BAD_TOKENS[token]
    headers = {} if header is None else {"Authorization": header}
    client = guarded_app.test_client()
    for method, path in guarded_routes(guarded_app):
        response = client.open(path, method=method, headers=headers, json=RECORD)
        body = response.get_json()
        assert response.status_code == status, (method, path, response.get_data()[:300])
        shape = {"error_code", "message", "details"} | (
            {"error"} if path.startswith("/v2") else set()
        )
        assert set(body) == shape, (method, path)
        assert body["error_code"] == ("UNAUTHORIZED" if status == 401 else "FORBIDDEN")
        assert API_TOKEN not in response.get_data(as_text=True)
    assert "Traceback" not in caplog.text and not any(r.exc_info for r in caplog.records)


# Host header attacks: the examples of /usage (and / without arguments) never carry a host
# that is not a well-formed host[:port].
HOSTILE_HOSTS = [
    "evil.example/phish?",
    "evil.example#",
    "user@evil.example",
    "<script>alert(1)</script>",
    "evil.example:99999",
    "evil.example:80:80",
    "$(curl evil.example)",
    "`id`",
    "evil.example\\",
    "a" * 300,
    "[::1",
    "evil example",
    "evil.example;rm -rf ~",
]


@pytest.mark.parametrize("path", ["/usage", "/"])
@pytest.mark.parametrize("host", HOSTILE_HOSTS)
def test_a_hostile_host_header_is_not_copied(client: FlaskClient, path: str, host: str) -> None:
    response = client.get(path, headers={"Host": host})
    text = response.get_data(as_text=True)
    assert host not in text and json.dumps(host)[1:-1] not in text
    if response.status_code == 400:  # werkzeug refuses some hosts (over 255 bytes) itself
        assert set(response.get_json()) == {"error_code", "message", "details"}
    else:
        assert response.status_code == 200
        assert "http://localhost:8000/models/" in text


# Hostile pickles: their code runs in a child process, so the worker answers 422 naming the
# limit hit and keeps serving.
@pytest.mark.parametrize("name", list(HOSTILE_PICKLES), ids=list(HOSTILE_PICKLES))
def test_a_hostile_pickle_upload_is_refused(
    guarded_app, caplog: pytest.LogCaptureFixture, name: str
) -> None:
    caplog.set_level(logging.DEBUG)
    data, phrase = HOSTILE_PICKLES[name]
    client = guarded_app.test_client()
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    response = client.post(
        "/models/hostile/versions",
        data=data,
        content_type="application/octet-stream",
        headers=headers,
    )
    body = response.get_json()
    assert (response.status_code, body["error_code"]) == (422, "INVALID_MODEL"), body
    assert phrase in body["message"], body["message"]
    assert client.get("/models/hostile", headers=headers).status_code == 404
    assert client.post(P, json=RECORD, headers=headers).status_code == 200
    assert "Traceback" not in caplog.text and not any(r.exc_info for r in caplog.records)
