"""The codecs' fast paths answer exactly as the plain loops they short-cut."""

from __future__ import annotations

import pytest

from api.codecs import decode_payload


def reference_columns(records: list[dict]) -> dict[str, list]:
    """Every key in order of first appearance; a key absent from a record reads as None."""
    names = dict.fromkeys(key for record in records for key in record)
    return {name: [record.get(name) for record in records] for name in names}


@pytest.mark.parametrize(
    "records",
    [
        [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}],
        [{"a": 1, "b": "x"}, {"b": "y", "a": 2}],
        [{"a": 1, "b": "x"}, {"a": 2, "c": "y"}],
        [{"a": 1, "b": "x"}, {"a": 2}],
        [{"a": 1}, {"a": 2, "b": "y"}],
        [{"a": 1}, {"a": None}],
        [{}, {}],
        [{"a": 1, "b": [1, 2]}, {"a": {"k": 1}, "b": None}],
    ],
    ids=["same", "reordered", "other-key", "fewer", "more", "one-key", "empty", "nested"],
)
def test_records_become_the_reference_columns(records):
    decoded = decode_payload(records, max_rows=100)

    assert decoded.columns == reference_columns(records)
    assert list(decoded.columns) == list(reference_columns(records))
    assert decoded.n_rows == len(records)
