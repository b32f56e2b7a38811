"""Names are checked before they reach SQL; unknown tables and columns are named in errors."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from db.identifiers import (
    ColumnNotFoundError,
    InvalidIdentifierError,
    TableNotFoundError,
    check_columns,
    check_identifier,
    table_columns,
)


@pytest.mark.parametrize(
    "name", ["adult", "adult_features", "_private", "Age", "x1", "a" * 63, "select"]
)
def test_plain_identifiers_pass(name):
    assert check_identifier(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "1abc",
        "a b",
        "a-b",
        "a.b",
        "public.adult",
        'a"b',
        "a'b",
        "x; DROP TABLE model_versions; --",
        "Robert'); DROP TABLE students;--",
        "adult/*comment*/",
        "naïve",
        "a" * 64,
        "pg_class",
        "PG_roles",
        "sqlite_master",
        None,
        42,
    ],
)
def test_suspicious_identifiers_are_refused(name):
    with pytest.raises(InvalidIdentifierError, match="invalid column name"):
        check_identifier(name, kind="column")


def test_invalid_identifier_is_a_value_error():
    with pytest.raises(ValueError, match="letters, digits or underscores"):
        check_identifier("drop table x")


@pytest.fixture
def people(connection):
    """A small table on each backend, inside the rolled-back transaction."""
    connection.execute(
        sa.text("CREATE TABLE people (id BIGINT PRIMARY KEY, age BIGINT, name TEXT, score FLOAT)")
    )
    return connection


def test_table_columns_in_order_with_types(people):
    columns = table_columns(people, "people")
    assert list(columns) == ["id", "age", "name", "score"]
    assert columns["id"] == "BIGINT" and columns["name"] == "TEXT"


def test_unknown_table(people):
    with pytest.raises(TableNotFoundError, match="table 'nobody' does not exist"):
        table_columns(people, "nobody")


def test_check_columns_returns_the_requested_columns(people):
    assert list(check_columns(people, "people", ["name", "age"])) == ["name", "age"]


def test_check_columns_names_every_unknown_column_and_lists_the_table(people):
    with pytest.raises(ColumnNotFoundError) as caught:
        check_columns(people, "people", ["age", "agee", "nam"])
    assert caught.value.missing == ["agee", "nam"]
    message = str(caught.value)
    assert "'agee', 'nam'" in message and "id, age, name, score" in message


def test_check_columns_refuses_injection_before_touching_the_catalog(people):
    with pytest.raises(InvalidIdentifierError):
        check_columns(people, "people", ["age", "age; DROP TABLE people"])
    with pytest.raises(InvalidIdentifierError):
        table_columns(people, "people; DROP TABLE people")
    assert "age" in table_columns(people, "people")
