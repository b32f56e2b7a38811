"""Validation reports every offending feature in one error (table-driven)."""

import math

import numpy as np
import pandas as pd
import pytest

from inference.schema import Feature, FeatureSchema
from inference.validation import InvalidInputError, validate_columns, validate_frame

SCHEMA = FeatureSchema(
    (
        Feature("age", "numeric", "integer", nullable=False, minimum=17, maximum=90),
        Feature("hours", "numeric", "float", nullable=True),
        Feature(
            "workclass",
            "categorical",
            "string",
            nullable=True,
            categories=("Private", "State-gov"),
            unknown="ignore",
        ),
        Feature(
            "sex",
            "categorical",
            "string",
            nullable=False,
            categories=("Female", "Male"),
            unknown="error",
        ),
    )
)
GOOD = {"age": [39], "hours": [40.0], "workclass": ["Private"], "sex": ["Male"]}


def _with(**changes):
    return {**GOOD, **changes}


def _without(*names):
    return {k: v for k, v in GOOD.items() if k not in names}


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        (_without("age"), {"age": "No age provided"}),
        (
            _without("age", "sex", "hours"),
            {"age": "No age provided", "sex": "No sex provided", "hours": "No hours provided"},
        ),
        (_with(age=["abc"]), {"age": "expected a number, got 'abc'"}),
        (_with(age=[True]), {"age": "expected a number, got True"}),
        # float() reads these as 12, 12 and 1000; PostgreSQL and CSV inference do not.
        (_with(age=["\uff11\uff12"]), {"age": "expected a number, got '\uff11\uff12'"}),
        (_with(age=["\u0661\u0662"]), {"age": "expected a number, got '\u0661\u0662'"}),
        (_with(hours=["1_000"]), {"hours": "expected a number, got '1_000'"}),
        (_with(age=[None]), {"age": "null is not allowed (training saw none)"}),
        (_with(age=[math.inf]), {"age": "expected a finite number, got inf"}),
        (_with(hours=[-math.inf]), {"hours": "expected a finite number, got -inf"}),
        (_with(sex=[None]), {"sex": "null is not allowed (training saw none)"}),
        (_with(sex=[1]), {"sex": "expected a string, got 1"}),
        (_with(sex=["Other"]), {"sex": "unknown category 'Other'; the model cannot encode it"}),
        (
            _with(age=["x"], sex=["Other"], workclass=[3]),
            {
                "age": "expected a number, got 'x'",
                "sex": "unknown category 'Other'; the model cannot encode it",
                "workclass": "expected a string, got 3",
            },
        ),
    ],
)
def test_rejects_every_offending_feature(columns, expected):
    with pytest.raises(InvalidInputError) as caught:
        validate_columns(SCHEMA, columns, 1)
    assert caught.value.details == expected


def test_names_offending_rows_when_there_are_many():
    columns = {**{k: v * 3 for k, v in GOOD.items()}, "age": [30, "x", "y"]}
    with pytest.raises(InvalidInputError) as caught:
        validate_columns(SCHEMA, columns, 3)
    assert caught.value.details == {"age": "expected a number, got 'x' (rows 1, 2)"}


def test_column_length_mismatch_is_reported():
    with pytest.raises(InvalidInputError) as caught:
        validate_columns(SCHEMA, {**GOOD, "age": [1, 2]}, 1)
    assert caught.value.details == {"age": "expected 1 values, got 2"}


def test_accepts_numeric_strings_nullable_nulls_and_converts_types():
    validated = validate_columns(SCHEMA, _with(age=["39"], hours=[None], workclass=[None]), 1)
    assert validated.columns["age"].dtype == np.float64
    assert validated.columns["age"][0] == 39.0
    assert np.isnan(validated.columns["hours"][0])
    assert validated.columns["workclass"][0] != validated.columns["workclass"][0]  # NaN
    assert validated.warnings == []


@pytest.mark.parametrize(
    ("text", "number"), [(" 40 ", 40.0), ("1e1", 10.0), ("-.5", -0.5), ("+3.", 3.0)]
)
def test_numeric_text_in_ascii_is_read_as_its_number(text, number):
    validated = validate_columns(SCHEMA, _with(hours=[text]), 1)
    assert validated.columns["hours"][0] == number


def test_unknown_category_that_encoder_ignores_is_a_warning():
    validated = validate_columns(SCHEMA, _with(workclass=["Martian"]), 1)
    assert validated.warnings == ["workclass: unknown category 'Martian' encoded as all zeros"]


def test_extra_columns_are_ignored_with_a_warning():
    validated = validate_columns(SCHEMA, _with(colour=["red"], zip=["123"]), 1)
    assert set(validated.columns) == {"age", "hours", "workclass", "sex"}
    assert validated.warnings == ["ignored unknown field(s): colour, zip"]


def test_validates_dataframes_from_the_database():
    frame = pd.DataFrame(
        {
            "age": [39, 50],
            "hours": [40.0, np.nan],
            "workclass": ["Private", np.nan],
            "sex": ["Male", "Female"],
        }
    )
    validated = validate_frame(SCHEMA, frame)
    assert validated.n_rows == 2
    assert validated.columns["age"].tolist() == [39.0, 50.0]
    assert validated.to_frame().shape == (2, 4)


def test_nested_values_are_named_per_feature():
    columns = {
        "age": [1, [2]],
        "hours": np.array([1.0, 2.0]),
        "workclass": ["Private", {"a": 1}],
        "other": [[1], [2]],
        "sex": ["Male", "Female"],
    }
    with pytest.raises(InvalidInputError) as caught:
        validate_columns(SCHEMA, columns, 2)
    assert caught.value.details == {
        "age": "expected a single value, got an array (row 1)",
        "workclass": "expected a single value, got an object (row 1)",
    }


class Listish(list):
    """A list subclass: still a nested value."""


@pytest.mark.parametrize(
    ("values", "nested_row"),
    [
        ([1, 2.5, None, 3], None),
        ([1, [2]], 1),
        ([{"k": 1}, 2], 0),
        ([1, 2, Listish([2])], 2),
        ([np.float64(1.0), np.int64(2)], None),
        (np.array([1, 2]), None),
        ([[1, 2], [3]], 0),
    ],
    ids=["scalars", "list", "dict", "list-subclass", "numpy-scalars", "ndarray", "ragged"],
)
def test_nested_values_match_a_per_value_check(values, nested_row):
    columns = {**{k: v * len(values) for k, v in GOOD.items()}, "hours": values}
    if nested_row is None:
        validate_columns(SCHEMA, columns, len(values))
        return
    with pytest.raises(InvalidInputError) as caught:
        validate_columns(SCHEMA, columns, len(values))
    problem = caught.value.details["hours"]
    assert problem.startswith("expected a single value, got ")
    assert problem.endswith(f" (row {nested_row})")


@pytest.mark.parametrize("values", [[[1, 2], [3]], [["a"], ["b", "c"]], [{"a": 1}, ["b"]]])
@pytest.mark.parametrize("feature", ["age", "sex"])
def test_ragged_nested_lists_are_a_validation_error(feature, values):
    with pytest.raises(InvalidInputError) as caught:
        validate_columns(SCHEMA, {**{k: v * 2 for k, v in GOOD.items()}, feature: values}, 2)
    assert caught.value.details[feature].startswith("expected a single value, got ")


@pytest.mark.parametrize("values", [39, "39", {"a": 1}, None])
def test_a_column_that_is_not_a_list_is_a_validation_error(values):
    with pytest.raises(InvalidInputError) as caught:
        validate_columns(SCHEMA, _with(age=values), 1)
    assert caught.value.details == {"age": "expected a list of values, one per row"}
