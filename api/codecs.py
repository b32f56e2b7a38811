"""Request bodies in every accepted shape -> columns (the answers: api/responses.py).

Decoding yields plain columns (`{feature: list or ndarray}` plus a row count), never a DataFrame:
validation and the compiled fast path read columns, and a DataFrame costs more than the whole
single-row prediction. Only CSV goes through pandas, whose parser is the fast way to read it.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import pandas as pd

from api.bodies import CSV_TYPES
from api.errors import (
    BATCH_HINT,
    InvalidBodyError,
    InvalidJSONError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
)
from api.request_checks import check_json_strings

JSON_TYPES = ("application/json", "")  # a missing Content-Type is read as JSON
SHAPES = (
    'accepted bodies: {"data": {"feature": [values]}}, {"columns": [...], "data": [[...]]}, '
    '{"dataframe_split": {...}}, [{record}, ...], {"records": [...]}, '
    '{"dataframe_records": [...]}, one flat record {"feature": value, ...}, {"ids": [...]}, '
    "or a text/csv body with a header row"
)
ENVELOPES = ("dataframe_split", "dataframe_records", "records", "ids", "data", "columns")
SCALARS = (str, int, float, bool, type(None))
NESTED = (list, dict)


@dataclass(frozen=True)
class Rows:
    """Decoded feature rows as columns."""

    columns: dict[str, Any]
    n_rows: int


@dataclass(frozen=True)
class EntityIds:
    """A request for stored entities by id (checked against the id column later)."""

    ids: list[Any]


Decoded = Rows | EntityIds


def decode_body(
    mimetype: str, raw: bytes, *, max_rows: int, categorical: Iterable[str] = ()
) -> Decoded:
    """Decode a POSTed prediction body of any accepted content type and shape."""
    if mimetype in JSON_TYPES or mimetype.endswith("+json"):
        return decode_payload(parse_json(raw), max_rows=max_rows)
    if mimetype in CSV_TYPES:
        return decode_csv(raw, max_rows=max_rows, categorical=categorical)
    raise UnsupportedMediaTypeError(
        f"cannot read a body of type {mimetype}; send Content-Type: application/json or text/csv",
        {"content_type": mimetype, "accepted": ["application/json", "text/csv"]},
    )


def parse_json(raw: bytes) -> Any:
    """Parse JSON bytes; a JSON string holding JSON (`json=df.to_json()` clients) is unwrapped."""
    if not raw.strip():
        raise InvalidJSONError(f"the request body is empty; {SHAPES}")
    payload = _loads(raw)
    if isinstance(payload, str) and payload.lstrip()[:1] in ("{", "["):
        payload = _loads(payload)
    check_json_strings(raw, payload)
    return payload


def _loads(text: bytes | str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidJSONError(
            f"the body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            {"line": exc.lineno, "column": exc.colno},
        ) from None
    except RecursionError:
        raise InvalidJSONError("the body is nested too deeply to be a request") from None
    except ValueError as exc:  # bytes that are not UTF-8, or an integer of 4,300+ digits
        reason = "holds an integer too long to read" if "digits" in str(exc) else "is not UTF-8"
        raise InvalidJSONError(f"the body is not valid JSON: it {reason}") from None


def decode_payload(payload: Any, *, max_rows: int) -> Decoded:
    """Turn parsed JSON of any accepted shape into rows or ids."""
    if isinstance(payload, list):
        return _records(payload, "the body", max_rows)
    if not isinstance(payload, dict):
        raise InvalidBodyError(f"the body is {_kind(payload)}; {SHAPES}")
    if not payload:
        raise InvalidBodyError(f"the body is an empty object; {SHAPES}")
    envelope = next((key for key in ENVELOPES if key in payload), None)
    if envelope is None:
        return _flat_record(payload)
    if envelope in ("data", "columns") and "columns" in payload:
        _only(payload, "columns", "data", "index")
        return _split(payload, "the body", max_rows)
    _only(payload, envelope)
    value = payload[envelope]
    if envelope == "dataframe_split":
        if not isinstance(value, dict):
            raise InvalidBodyError(f'"dataframe_split" must be an object, got {_kind(value)}')
        _only(value, "columns", "data", "index", where='"dataframe_split"')
        return _split(value, '"dataframe_split"', max_rows)
    if envelope == "ids":
        return _ids(value, max_rows)
    if envelope == "data" and isinstance(value, dict):
        return _columnar(value, max_rows)
    if envelope == "data" and not isinstance(value, list):
        raise InvalidBodyError(
            f'"data" must be an object of columns or an array of records; {SHAPES}'
        )
    return _records(value, f'"{envelope}"', max_rows)


def _kind(value: Any) -> str:
    """The JSON type of a parsed value, with its article ("an array", "a number")."""
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    return "null" if value is None else names.get(type(value), "a number")


def _only(payload: dict, *allowed: str, where: str = "the body") -> None:
    extra = [key for key in payload if key not in allowed]
    if extra:
        raise InvalidBodyError(
            f"unexpected key(s) {', '.join(map(repr, extra))} in {where} beside "
            f"{', '.join(repr(k) for k in allowed if k in payload)}; {SHAPES}",
            {"unexpected": extra},
        )


def check_rows(n_rows: int, max_rows: int) -> None:
    """Refuse empty input and more rows than one online request may carry."""
    if n_rows == 0:
        raise InvalidBodyError(f"the body holds no rows; {SHAPES}")
    if n_rows > max_rows:
        raise PayloadTooLargeError(
            f"{n_rows} rows exceed the limit of {max_rows} per request; {BATCH_HINT}",
            {"rows": n_rows, "max_rows_per_request": max_rows},
        )


def _flat_record(record: dict) -> Rows:
    nested = [key for key, value in record.items() if not isinstance(value, SCALARS)]
    if nested:
        raise InvalidBodyError(
            f"{nested[0]!r} holds {_kind(record[nested[0]])}; a flat record has one value "
            'per feature. For several rows send {"data": {"feature": [values]}}',
            {"fields": nested},
        )
    return Rows({key: [value] for key, value in record.items()}, 1)


def _records(records: Any, where: str, max_rows: int) -> Rows:
    if not isinstance(records, list):
        raise InvalidBodyError(f"{where} must be an array of records, got {_kind(records)}")
    check_rows(len(records), max_rows)
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise InvalidBodyError(
                f"record {i} of {where} is {_kind(record)}, not an object; "
                'rows without names go in {"columns": [...], "data": [[...]]}',
                {"row": i},
            )
    return Rows(_record_columns(records), len(records))


def _record_columns(records: list[dict]) -> dict[str, list]:
    """Records as columns; a key absent from some records reads as null there (validation
    names those rows)."""
    names = list(records[0]) if records else []
    if len(names) > 1 and all(len(record) == len(names) for record in records):
        try:  # the usual case, every record with the same keys: transpose in C
            rows = list(map(itemgetter(*names), records))
        except KeyError:
            pass
        else:
            return dict(zip(names, map(list, zip(*rows, strict=True)), strict=True))
    names = dict.fromkeys(key for record in records for key in record)
    return {name: [r.get(name) for r in records] for name in names}


def _split(split: dict, where: str, max_rows: int) -> Rows:
    columns, data = split.get("columns"), split.get("data")
    if not isinstance(columns, list) or not columns or not all(isinstance(c, str) for c in columns):
        raise InvalidBodyError(f'{where} needs "columns": an array of feature names')
    if len(set(columns)) != len(columns):
        dupes = sorted({c for c in columns if columns.count(c) > 1})
        raise InvalidBodyError(f'"columns" of {where} names {", ".join(dupes)} more than once')
    if not isinstance(data, list):
        raise InvalidBodyError(f'{where} needs "data": an array of rows, each an array of values')
    check_rows(len(data), max_rows)
    for i, row in enumerate(data):
        if not isinstance(row, list) or len(row) != len(columns):
            got = f"{len(row)} value(s)" if isinstance(row, list) else _kind(row)
            raise InvalidBodyError(
                f'row {i} of "data" in {where} has {got}; every row needs {len(columns)} '
                'values, one per entry of "columns"',
                {"row": i},
            )
    transposed = zip(*data, strict=True)
    return Rows({name: list(col) for name, col in zip(columns, transposed, strict=True)}, len(data))


def _columnar(data: dict, max_rows: int) -> Rows:
    if not data:
        raise InvalidBodyError(f'"data" is an empty object; {SHAPES}')
    lists = {name: values for name, values in data.items() if isinstance(values, list)}
    if not lists:
        return _flat_record(data)
    if len(lists) != len(data):
        scalar = next(name for name in data if name not in lists)
        raise InvalidBodyError(
            f'"data" mixes arrays and single values ({scalar!r}); give every feature an array',
            {"fields": [scalar]},
        )
    lengths = {name: len(values) for name, values in lists.items()}
    if len(set(lengths.values())) > 1:
        raise InvalidBodyError(
            'every feature in "data" needs the same number of values; got '
            + ", ".join(f"{name}: {n}" for name, n in lengths.items()),
            {"lengths": lengths},
        )
    n_rows = next(iter(lengths.values()))
    check_rows(n_rows, max_rows)
    return Rows(lists, n_rows)


def _ids(ids: Any, max_rows: int) -> EntityIds:
    if not isinstance(ids, list):
        raise InvalidBodyError(f'"ids" must be an array of entity ids, got {_kind(ids)}')
    if not ids:
        raise InvalidBodyError('"ids" is empty; give at least one entity id')
    check_rows(len(ids), max_rows)
    return EntityIds(ids)


def decode_csv(raw: bytes, *, max_rows: int, categorical: Iterable[str] = ()) -> Rows:
    """A CSV body with a header row; categorical columns stay strings."""
    if not raw.strip():
        raise InvalidBodyError("the CSV body is empty; send a header row and at least one row")
    if b"\x00" in raw:
        raise InvalidBodyError("the CSV body holds a NUL byte; send UTF-8 text")
    try:
        frame = pd.read_csv(io.BytesIO(raw), dtype={name: str for name in categorical})
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidBodyError(f"the CSV body cannot be parsed: {message}") from None
    check_rows(len(frame), max_rows)
    return Rows({str(name): frame[name].to_numpy() for name in frame.columns}, len(frame))


def decode_query(args: Mapping[str, list[str]], *, reserved: Iterable[str] = ()) -> Rows:
    """One row from query arguments (strings, coerced by validation); empty means null."""
    skip = set(reserved)
    repeated = sorted(name for name, values in args.items() if len(values) > 1)
    if repeated:
        raise InvalidBodyError(
            f"{', '.join(repeated)} given more than once; a query string describes one row",
            {"fields": repeated},
        )
    row = {name: values[0] or None for name, values in args.items() if name not in skip}
    if not row:
        raise InvalidBodyError(
            "no features in the query string; add ?feature=value&... per feature"
        )
    return Rows({name: [value] for name, value in row.items()}, 1)
