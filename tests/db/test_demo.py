"""The bundled Adult data loads into both demo tables on both backends, once."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from db.demo import (
    DEMO_ROWS,
    FEATURES_TABLE,
    TRAINING_TABLE,
    DemoDataError,
    demo_data_loaded,
    demo_row_counts,
    load_demo_data,
)
from db.identifiers import table_columns

FEATURES = [
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education_num",
    "marital_status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital_gain",
    "capital_loss",
    "hours_per_week",
    "native_country",
]


def scalar(engine, sql: str):
    with engine.connect() as connection:
        return connection.execute(sa.text(sql)).scalar_one()


def test_demo_tables_hold_every_row_with_unique_ids(engine):
    assert not demo_data_loaded(engine)
    seen = []
    counts = load_demo_data(engine, progress=seen.append)
    assert (
        counts
        == {TRAINING_TABLE: DEMO_ROWS, FEATURES_TABLE: DEMO_ROWS}
        == {
            TRAINING_TABLE: 32_561,
            FEATURES_TABLE: 32_561,
        }
    )
    assert list(table_columns(engine, TRAINING_TABLE)) == [*FEATURES, "income"]
    assert list(table_columns(engine, FEATURES_TABLE)) == ["id", *FEATURES]
    ids = scalar(engine, "SELECT COUNT(DISTINCT id) FROM adult_features")
    bounds = (
        scalar(engine, "SELECT MIN(id) FROM adult_features"),
        scalar(engine, "SELECT MAX(id) FROM adult_features"),
    )
    assert ids == DEMO_ROWS and bounds == (1, DEMO_ROWS)
    assert scalar(engine, "SELECT COUNT(*) FROM adult_training WHERE income = '>50K'") == 7_841
    assert scalar(engine, "SELECT COUNT(*) FROM adult_features WHERE workclass IS NULL") == 1_836
    assert sum(seen) > 0 and demo_data_loaded(engine)
    # ids follow the file order: the first and last rows of adult.csv.gz
    assert scalar(engine, "SELECT age FROM adult_features WHERE id = 1") == 39
    assert scalar(engine, f"SELECT fnlwgt FROM adult_features WHERE id = {DEMO_ROWS}") == 287927


def test_loading_again_changes_nothing_unless_replaced(engine):
    load_demo_data(engine)
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE adult_features SET age = 0 WHERE id = 1"))
    assert load_demo_data(engine) == {TRAINING_TABLE: DEMO_ROWS, FEATURES_TABLE: DEMO_ROWS}
    assert scalar(engine, "SELECT age FROM adult_features WHERE id = 1") == 0
    load_demo_data(engine, replace=True)
    assert scalar(engine, "SELECT age FROM adult_features WHERE id = 1") == 39


def test_a_missing_table_is_loaded_without_touching_the_other(engine):
    load_demo_data(engine)
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE adult_training SET age = 0 WHERE age = 39"))
        connection.execute(sa.text("DROP TABLE adult_features"))
    assert demo_row_counts(engine) == {TRAINING_TABLE: DEMO_ROWS, FEATURES_TABLE: None}
    load_demo_data(engine)
    assert demo_data_loaded(engine)
    assert scalar(engine, "SELECT COUNT(*) FROM adult_training WHERE age = 39") == 0


def test_a_foreign_table_with_a_demo_name_is_not_overwritten(engine):
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE adult_training (x BIGINT)"))
        connection.execute(sa.text("INSERT INTO adult_training VALUES (1)"))
    with pytest.raises(DemoDataError, match="1 rows, not the 32,561 demo rows"):
        load_demo_data(engine)
    assert demo_row_counts(engine) == {TRAINING_TABLE: 1, FEATURES_TABLE: None}
