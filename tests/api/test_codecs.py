"""Codec tables: each body shape -> the columns it decodes to, or the error it raises."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from api import errors
from api.codecs import (
    EntityIds,
    Rows,
    decode_body,
    decode_csv,
    decode_payload,
    decode_query,
    parse_json,
)

MAX_ROWS = 3
TWO_ROWS = {"age": [39, 50], "sex": ["Male", "Female"]}

DECODED = [
    ("columnar", {"data": TWO_ROWS}, TWO_ROWS, 2),
    (
        "columnar one row of scalars",
        {"data": {"age": 39, "sex": "Male"}},
        {"age": [39], "sex": ["Male"]},
        1,
    ),
    ("split", {"columns": ["age", "sex"], "data": [[39, "Male"], [50, "Female"]]}, TWO_ROWS, 2),
    (
        "split with index",
        {"columns": ["age", "sex"], "index": [7, 8], "data": [[39, "Male"], [50, "Female"]]},
        TWO_ROWS,
        2,
    ),
    (
        "mlflow dataframe_split",
        {"dataframe_split": {"columns": ["age", "sex"], "data": [[39, "Male"], [50, "Female"]]}},
        TWO_ROWS,
        2,
    ),
    ("records list", [{"age": 39, "sex": "Male"}, {"age": 50, "sex": "Female"}], TWO_ROWS, 2),
    (
        "records key",
        {"records": [{"age": 39, "sex": "Male"}, {"age": 50, "sex": "Female"}]},
        TWO_ROWS,
        2,
    ),
    (
        "mlflow dataframe_records",
        {"dataframe_records": [{"age": 39, "sex": "Male"}, {"age": 50, "sex": "Female"}]},
        TWO_ROWS,
        2,
    ),
    ("data as records", {"data": [{"age": 39, "sex": "Male"}]}, {"age": [39], "sex": ["Male"]}, 1),
    ("flat record", {"age": 39, "sex": "Male"}, {"age": [39], "sex": ["Male"]}, 1),
    ("flat record with null", {"age": None, "sex": "Male"}, {"age": [None], "sex": ["Male"]}, 1),
    (
        "records with a key missing in one row read as null",
        [{"age": 39, "sex": "Male"}, {"age": 50}],
        {"age": [39, 50], "sex": ["Male", None]},
        2,
    ),
    (
        "records keep nested values for validation to name",
        [{"age": [1, 2]}],
        {"age": [[1, 2]]},
        1,
    ),
]


@pytest.mark.parametrize(
    ("case", "payload", "columns", "n_rows"), DECODED, ids=[c[0] for c in DECODED]
)
def test_payload_decodes_to_columns(case: str, payload: Any, columns: dict, n_rows: int) -> None:
    decoded = decode_payload(payload, max_rows=MAX_ROWS)
    assert isinstance(decoded, Rows)
    assert decoded == Rows(columns, n_rows)


def test_ids_decode_to_entity_ids() -> None:
    assert decode_payload({"ids": [17, "42"]}, max_rows=MAX_ROWS) == EntityIds([17, "42"])


REJECTED = [
    ("number", 5, errors.InvalidBodyError),
    ("string", "hello", errors.InvalidBodyError),
    ("null", None, errors.InvalidBodyError),
    ("empty object", {}, errors.InvalidBodyError),
    ("empty list", [], errors.InvalidBodyError),
    ("list of numbers", [1, 2], errors.InvalidBodyError),
    ("list of lists", [[1, 2]], errors.InvalidBodyError),
    ("data list of lists without columns", {"data": [[39, "Male"]]}, errors.InvalidBodyError),
    ("data a string", {"data": "age=39"}, errors.InvalidBodyError),
    ("data empty object", {"data": {}}, errors.InvalidBodyError),
    (
        "columnar lengths differ",
        {"data": {"age": [1, 2], "sex": ["Male"]}},
        errors.InvalidBodyError,
    ),
    (
        "columnar mixes lists and scalars",
        {"data": {"age": [1], "sex": "Male"}},
        errors.InvalidBodyError,
    ),
    ("columnar with no rows", {"data": {"age": [], "sex": []}}, errors.InvalidBodyError),
    ("split without data", {"columns": ["age"]}, errors.InvalidBodyError),
    ("split columns not strings", {"columns": [1], "data": [[1]]}, errors.InvalidBodyError),
    ("split empty columns", {"columns": [], "data": [[]]}, errors.InvalidBodyError),
    ("split duplicate columns", {"columns": ["a", "a"], "data": [[1, 2]]}, errors.InvalidBodyError),
    ("split short row", {"columns": ["age", "sex"], "data": [[39]]}, errors.InvalidBodyError),
    ("split row not a list", {"columns": ["age"], "data": [{"age": 1}]}, errors.InvalidBodyError),
    ("split data not a list", {"columns": ["age"], "data": {"age": 1}}, errors.InvalidBodyError),
    ("split with extra key", {"columns": ["age"], "data": [[1]], "x": 1}, errors.InvalidBodyError),
    ("dataframe_split not an object", {"dataframe_split": [[1]]}, errors.InvalidBodyError),
    (
        "dataframe_split with extra key",
        {"dataframe_split": {"columns": ["age"], "data": [[1]], "dtypes": {}}},
        errors.InvalidBodyError,
    ),
    ("records not a list", {"records": {"age": 1}}, errors.InvalidBodyError),
    ("records of strings", {"records": ["age"]}, errors.InvalidBodyError),
    ("envelope with extra key", {"records": [{"age": 1}], "age": 2}, errors.InvalidBodyError),
    ("two envelopes", {"ids": [1], "data": {"age": [1]}}, errors.InvalidBodyError),
    ("ids not a list", {"ids": 17}, errors.InvalidBodyError),
    ("ids empty", {"ids": []}, errors.InvalidBodyError),
    ("flat record with a list value", {"age": [39], "sex": "Male"}, errors.InvalidBodyError),
    ("flat record with an object value", {"age": {"v": 39}}, errors.InvalidBodyError),
    ("too many records", [{"age": 1}] * (MAX_ROWS + 1), errors.PayloadTooLargeError),
    (
        "too many columnar rows",
        {"data": {"age": [1] * (MAX_ROWS + 1)}},
        errors.PayloadTooLargeError,
    ),
    (
        "too many split rows",
        {"columns": ["age"], "data": [[1]] * (MAX_ROWS + 1)},
        errors.PayloadTooLargeError,
    ),
    ("too many ids", {"ids": list(range(MAX_ROWS + 1))}, errors.PayloadTooLargeError),
]


@pytest.mark.parametrize(("case", "payload", "error"), REJECTED, ids=[c[0] for c in REJECTED])
def test_payload_is_rejected(case: str, payload: Any, error: type[errors.APIError]) -> None:
    with pytest.raises(error) as raised:
        decode_payload(payload, max_rows=MAX_ROWS)
    assert raised.value.message


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'{"age": 39}', {"age": 39}),
        (b"[1]", [1]),
        (json.dumps(json.dumps({"age": 39})).encode(), {"age": 39}),  # json=df.to_json() clients
        (b'"plain string"', "plain string"),
        (b'{"age": NaN}', {"age": pytest.approx(float("nan"), nan_ok=True)}),
    ],
)
def test_parse_json(raw: bytes, expected: Any) -> None:
    assert parse_json(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [b"", b"   ", b"{", b"{'age': 39}", b"\xff\xfe", b"[" * 100_000, b'"{not json"'],
)
def test_parse_json_rejects(raw: bytes) -> None:
    with pytest.raises(errors.InvalidJSONError):
        parse_json(raw)


def test_csv_keeps_categorical_columns_as_strings() -> None:
    rows = decode_csv(b"age,zip,sex\n39,01234,Male\n50,,\n", max_rows=5, categorical=["zip", "sex"])
    assert rows.n_rows == 2
    assert rows.columns["age"].tolist() == [39, 50]
    assert rows.columns["zip"][0] == "01234"
    assert np.isnan(rows.columns["zip"][1]) and np.isnan(rows.columns["sex"][1])


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"", errors.InvalidBodyError),
        (b"age,sex\n", errors.InvalidBodyError),
        (b'age,sex\n"39,Male\n', errors.InvalidBodyError),
        (b"age\n1\n2\n3\n4\n5\n6\n", errors.PayloadTooLargeError),
        (b"age,sex\n\xff\xfe,\x00\n", errors.InvalidBodyError),
    ],
)
def test_csv_rejects(raw: bytes, error: type[errors.APIError]) -> None:
    with pytest.raises(error):
        decode_csv(raw, max_rows=5, categorical=["sex"])


def test_body_dispatches_on_content_type() -> None:
    assert decode_body("application/json", b'{"age": 1}', max_rows=2) == Rows({"age": [1]}, 1)
    assert decode_body("", b'{"age": 1}', max_rows=2) == Rows({"age": [1]}, 1)
    assert decode_body("application/vnd.api+json", b'{"age": 1}', max_rows=2).n_rows == 1
    assert decode_body("text/csv", b"age\n1\n", max_rows=2).n_rows == 1
    for mimetype in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        with pytest.raises(errors.UnsupportedMediaTypeError):
            decode_body(mimetype, b'{"age": 1}', max_rows=2)


def test_query_is_one_row_of_strings() -> None:
    rows = decode_query(
        {"age": ["39"], "sex": ["Male"], "occupation": [""], "version": ["1"]}, reserved=["version"]
    )
    assert rows == Rows({"age": ["39"], "sex": ["Male"], "occupation": [None]}, 1)
    with pytest.raises(errors.InvalidBodyError):
        decode_query({"age": ["39", "40"]})
    with pytest.raises(errors.InvalidBodyError):
        decode_query({"version": ["1"]}, reserved=["version"])
