"""Schema inference from a training frame."""

import numpy as np
import pandas as pd

from inference.schema import FeatureSchema, infer_schema


def test_infers_kinds_categories_nulls_and_ranges():
    frame = pd.DataFrame(
        {
            "age": [20, 35, 50],
            "score": [0.5, np.nan, 1.5],
            "color": ["red", None, "blue"],
            "size": ["S", "M", "S"],
        }
    )

    schema = infer_schema(frame)
    age, score, color, size = schema.features

    assert (age.kind, age.dtype, age.nullable, age.minimum, age.maximum) == (
        "numeric",
        "integer",
        False,
        20.0,
        50.0,
    )
    assert (score.kind, score.dtype, score.nullable) == ("numeric", "float", True)
    assert (color.kind, color.nullable, color.categories) == ("categorical", True, ("blue", "red"))
    assert (size.nullable, size.categories) == (False, ("M", "S"))


def test_round_trips_through_json_form():
    schema = infer_schema(pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]}))
    assert FeatureSchema.from_dict(schema.to_dict()) == schema
