"""The codecs' fast paths answer exactly as the plain loops they short-cut."""

from __future__ import annotations

import numpy as np
import pytest

from api.codecs import decode_payload, nested_values


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


class Listish(list):
    """A list subclass: still a nested value."""


@pytest.mark.parametrize(
    ("values", "nested_row"),
    [
        ([1, "a", None, 2.5, True], None),
        ([1, [2]], 1),
        ([{"k": 1}, 2], 0),
        ([1, 2, Listish([2])], 2),
        ([np.float64(1.0), np.str_("a")], None),
        (np.array([1, 2]), None),
    ],
    ids=["scalars", "list", "dict", "list-subclass", "numpy-scalars", "ndarray"],
)
def test_nested_values_match_a_per_value_check(values, nested_row):
    problems = nested_values({"f": values}, ["f"])

    if nested_row is None:
        assert problems == {}
    else:
        assert problems["f"].startswith("expected a single value, got ")
        assert problems["f"].endswith(f" (row {nested_row})")
