"""Malformed V2 and MLflow requests: each a 4xx with a clear message, never a 5xx."""

from __future__ import annotations

import copy
import json
from typing import Any

import pandas as pd
import pytest
from flask.testing import FlaskClient

from tests.api.helpers import RECORD
from tests.api.protocol_bodies import v2_columns

GOOD = v2_columns(pd.DataFrame([RECORD]))
INFER = "/v2/models/adult/infer"


def v2_with(change) -> dict[str, Any]:
    """The good single-row V2 request with `change(payload)` applied."""
    payload = copy.deepcopy(GOOD)
    change(payload)
    return payload


def tensor(payload: dict, name: str) -> dict:
    """The input tensor called `name`."""
    return next(t for t in payload["inputs"] if t["name"] == name)


def setter(name: str, **fields: Any):
    """A change that sets fields of one tensor."""
    return lambda p: tensor(p, name).update(fields)


MATRIX = {"name": "x", "shape": [1, 3], "datatype": "BYTES", "data": ["1", "2", "3"]}

# (id, path, body (dict -> JSON, bytes -> raw), content type, expected status, words in message)
CASES = [
    ("v2 bad json", INFER, b'{"inputs": [', "application/json", 400, "not valid JSON"),
    ("v2 empty body", INFER, b"", "application/json", 400, "empty"),
    ("v2 body is an array", INFER, [1, 2], None, 400, "JSON object"),
    ("v2 no inputs", INFER, {"id": "x"}, None, 400, '"inputs"'),
    ("v2 empty inputs", INFER, {"inputs": []}, None, 400, "non-empty"),
    ("v2 input not an object", INFER, {"inputs": [5]}, None, 400, "must be an object"),
    ("v2 id not a string", INFER, {**GOOD, "id": 5}, None, 400, '"id"'),
    ("v2 no name", INFER, v2_with(lambda p: p["inputs"][0].pop("name")), None, 400, '"name"'),
    ("v2 unknown datatype", INFER, v2_with(setter("age", datatype="FP128")), None, 400, "FP128"),
    ("v2 shape not a list", INFER, v2_with(setter("age", shape=1)), None, 400, "shape"),
    ("v2 negative shape", INFER, v2_with(setter("age", shape=[-1])), None, 400, "shape"),
    ("v2 shape/data mismatch", INFER, v2_with(setter("age", shape=[2])), None, 400, "holds 2"),
    ("v2 huge shape", INFER, v2_with(setter("age", shape=[10**12])), None, 400, "holds"),
    (
        "v2 ragged nested",
        INFER,
        {"inputs": [{**MATRIX, "shape": [2, 3], "data": [["1", "2", "3"], ["1"]]}]},
        None,
        400,
        "ragged",
    ),
    (
        "v2 nested deeper than shape",
        INFER,
        v2_with(setter("age", data=[[39]])),
        None,
        400,
        "deeper",
    ),
    (
        "v2 string where number belongs",
        INFER,
        v2_with(setter("age", data=["abc"])),
        None,
        400,
        "'abc'",
    ),
    ("v2 bool in FP64", INFER, v2_with(setter("age", data=[True])), None, 400, "True"),
    (
        "v2 float in INT64",
        INFER,
        v2_with(setter("age", datatype="INT64", data=[3.5])),
        None,
        400,
        "3.5",
    ),
    ("v2 number in BYTES", INFER, v2_with(setter("sex", data=[1])), None, 400, "strings"),
    ("v2 object in data", INFER, v2_with(setter("sex", data=[{"a": 1}])), None, 400, "strings"),
    ("v2 data not a list", INFER, v2_with(setter("age", data=39)), None, 400, '"data"'),
    (
        "v2 no data (binary)",
        INFER,
        v2_with(lambda p: p["inputs"][0].pop("data")),
        None,
        400,
        "binary",
    ),
    (
        "v2 unknown input name",
        INFER,
        v2_with(lambda p: p["inputs"].append({**tensor(p, "age"), "name": "agee"})),
        None,
        400,
        "'agee'",
    ),
    (
        "v2 duplicate input",
        INFER,
        v2_with(lambda p: p["inputs"].append(tensor(p, "age"))),
        None,
        400,
        "more than once",
    ),
    (
        "v2 missing features",
        INFER,
        v2_with(lambda p: p.update(inputs=p["inputs"][2:])),
        None,
        400,
        "feature(s) are invalid",
    ),
    (
        "v2 rows differ",
        INFER,
        v2_with(setter("age", shape=[2], data=[39, 40])),
        None,
        400,
        "same number of rows",
    ),
    ("v2 3-D feature tensor", INFER, v2_with(setter("age", shape=[1, 1, 1])), None, 400, "[n, 1]"),
    ("v2 matrix wrong width", INFER, {"inputs": [MATRIX]}, None, 400, "[n, 14]"),
    (
        "v2 matrix bad columns",
        INFER,
        {"inputs": [{**MATRIX, "parameters": {"columns": "age"}}]},
        None,
        400,
        "parameters.columns",
    ),
    (
        "v2 matrix beside a tensor",
        INFER,
        {"inputs": [MATRIX, GOOD["inputs"][0]]},
        None,
        400,
        "not both",
    ),
    ("v2 unknown output", INFER, {**GOOD, "outputs": [{"name": "scores"}]}, None, 400, "'scores'"),
    ("v2 outputs not a list", INFER, {**GOOD, "outputs": "predict"}, None, 400, '"outputs"'),
    (
        "v2 too many rows",
        INFER,
        v2_with(lambda p: [t.update(shape=[51], data=t["data"] * 51) for t in p["inputs"]]),
        None,
        413,
        "exceed",
    ),
    ("v2 unknown model", "/v2/models/nope/infer", GOOD, None, 404, "nope"),
    ("v2 bad version", "/v2/models/adult/versions/x/infer", GOOD, None, 400, "positive integer"),
    ("v2 unknown version", "/v2/models/adult/versions/99/infer", GOOD, None, 404, "99"),
    ("mlflow bad json", "/invocations", b"{nope", "application/json", 400, "not valid JSON"),
    ("mlflow empty body", "/invocations", b"", "application/json", 400, "empty"),
    ("mlflow no field", "/invocations", {"data": [1]}, None, 400, "exactly one"),
    (
        "mlflow two fields",
        "/invocations",
        {"instances": [RECORD], "inputs": [RECORD]},
        None,
        400,
        "exactly one",
    ),
    ("mlflow array body", "/invocations", [RECORD], None, 400, "JSON object"),
    ("mlflow empty instances", "/invocations", {"instances": []}, None, 400, "non-empty"),
    ("mlflow instances scalar", "/invocations", {"instances": 5}, None, 400, "instances"),
    ("mlflow short row", "/invocations", {"instances": [[39, "State-gov"]]}, None, 400, "row 0"),
    (
        "mlflow split ragged",
        "/invocations",
        {"dataframe_split": {"columns": ["age", "sex"], "data": [[39]]}},
        None,
        400,
        "row 0",
    ),
    (
        "mlflow strings for numbers",
        "/invocations",
        {"dataframe_records": [{**RECORD, "age": "old"}]},
        None,
        400,
        "age",
    ),
    (
        "mlflow missing features",
        "/invocations",
        {"inputs": {"age": [39]}},
        None,
        400,
        "sex",
    ),
    (
        "mlflow bad predict_method",
        "/invocations",
        {"instances": [RECORD], "params": {"predict_method": "explain"}},
        None,
        400,
        "predict_proba",
    ),
    (
        "mlflow params not object",
        "/invocations",
        {"instances": [RECORD], "params": 1},
        None,
        400,
        "params",
    ),
    ("mlflow bad csv", "/invocations", b'a,b\n"1,2\n', "text/csv", 400, "CSV"),
    ("mlflow wrong media type", "/invocations", b"x", "text/plain", 415, "text/plain"),
    (
        "mlflow unknown model",
        "/models/nope/invocations",
        {"instances": [RECORD]},
        None,
        404,
        "nope",
    ),
]


@pytest.mark.parametrize(
    ("path", "body", "content_type", "status", "words"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_malformed_request_is_a_clear_4xx(
    client: FlaskClient, path: str, body: Any, content_type: str | None, status: int, words: str
) -> None:
    data = body if isinstance(body, bytes) else json.dumps(body)
    response = client.post(path, data=data, content_type=content_type or "application/json")
    payload = response.get_json()
    message = payload.get("error") if path.startswith("/v2") else payload.get("message")
    assert response.status_code == status, payload
    assert words in message, message


def test_there_are_at_least_30_cases() -> None:
    assert len(CASES) >= 30
