"""db.entities: feature rows by id on both backends, ids parsed before they reach SQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from db.engine import make_engine
from db.entities import EntityReader, InvalidEntityIdError, UnsupportedIdColumnError
from db.identifiers import ColumnNotFoundError, InvalidIdentifierError, TableNotFoundError

ROWS = [(1, 39.0, "Male"), (2, None, "Female"), (5, 50.0, None)]


@pytest.fixture
def tables(engine: Engine) -> Engine:
    """`people` (integer ids), `codes` (text ids), `floats` (unsupported ids) on each backend."""
    statements = [
        "CREATE TABLE people (id BIGINT PRIMARY KEY, age DOUBLE PRECISION, sex TEXT)",
        "CREATE TABLE codes (code VARCHAR(10) PRIMARY KEY, age DOUBLE PRECISION)",
        "CREATE TABLE floats (id DOUBLE PRECISION PRIMARY KEY, age DOUBLE PRECISION)",
        "INSERT INTO codes VALUES ('x1', 1.0), ('y2', 2.0)",
    ]
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(sa.text(statement))
        connection.execute(
            sa.text("INSERT INTO people VALUES (:i, :a, :s)"),
            [{"i": i, "a": a, "s": s} for i, a, s in ROWS],
        )
    return engine


def test_rows_by_id_as_columns(tables: Engine) -> None:
    reader = EntityReader(tables)
    table = reader.table("people", "id", ["sex", "age"])
    found = reader.fetch(table, [5, 1, 99, 1])
    order = sorted(range(found.n_rows), key=lambda i: found.ids[i])
    assert [found.ids[i] for i in order] == [1, 5]
    assert [found.columns["sex"][i] for i in order] == ["Male", None]
    assert [found.columns["age"][i] for i in order] == [39.0, 50.0]
    assert reader.first_id(table) == 1


def test_no_rows_found(tables: Engine) -> None:
    reader = EntityReader(tables)
    found = reader.fetch(reader.table("people", "id", ["age"]), [404])
    assert (found.ids, found.columns, found.n_rows) == ([], {"age": []}, 0)


def test_text_ids(tables: Engine) -> None:
    reader = EntityReader(tables)
    table = reader.table("codes", "code", ["age"])
    assert table.parse_ids(["x1", 7]) == ["x1", "7"]
    found = reader.fetch(table, ["y2", "1' OR '1'='1"])
    assert (found.ids, found.columns) == (["y2"], {"age": [2.0]})


def test_integer_ids_are_parsed_before_the_query(tables: Engine) -> None:
    table = EntityReader(tables).table("people", "id", ["age"])
    assert table.parse_ids([1, "2", " 5 ", "-3", "+4"]) == [1, 2, 5, -3, 4]
    bad = ["1 OR 1=1", "1; DROP TABLE people", 1.5, True, None, [1], 2**63, "", "1e3"]
    with pytest.raises(InvalidEntityIdError) as raised:
        table.parse_ids([1, *bad])
    assert raised.value.bad == bad
    assert "are integers" in str(raised.value) and "and 4 more" in str(raised.value)


def test_integer_ids_take_ascii_digits_only(tables: Engine) -> None:
    table = EntityReader(tables).table("people", "id", ["age"])
    # Fullwidth 1; Arabic-Indic 3; 1 then an Arabic-Indic 0; 1 after a no-break space.
    other_digits = ["\uff11", "\u0663", "1\u0660", "\u00a01"]
    with pytest.raises(InvalidEntityIdError) as raised:
        table.parse_ids(other_digits)
    assert raised.value.bad == other_digits


def test_tables_and_columns_are_checked_against_the_catalog(tables: Engine) -> None:
    reader = EntityReader(tables)
    with pytest.raises(TableNotFoundError):
        reader.table("nobody", "id", ["age"])
    with pytest.raises(ColumnNotFoundError):
        reader.table("people", "id", ["age", "height"])
    with pytest.raises(InvalidIdentifierError):
        reader.table("people; DROP TABLE people", "id", ["age"])
    with pytest.raises(UnsupportedIdColumnError):
        reader.table("floats", "id", ["age"])


def test_checked_tables_are_cached(tables: Engine) -> None:
    reader = EntityReader(tables)
    assert reader.table("people", "id", ["age"]) is reader.table("people", "id", ["age"])


def test_a_failed_read_leaves_the_pool_usable(pg_schema_engine: Engine) -> None:
    with pg_schema_engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE gone (id BIGINT PRIMARY KEY, age INTEGER)"))
    reader = EntityReader(pg_schema_engine)
    table = reader.table("gone", "id", ["age"])
    with pg_schema_engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE gone"))
    with pytest.raises(sa.exc.ProgrammingError):
        reader.fetch(table, [1])
    with pg_schema_engine.connect() as connection:
        assert connection.scalar(sa.text("SELECT 1")) == 1


def test_a_connection_the_server_closed_is_replaced(pg_url: str, demo_tables: Engine) -> None:
    engine = make_engine(pg_url, pool_pre_ping=False)
    reader = EntityReader(engine)
    table = reader.table("adult_features", "id", ["age"])
    try:
        assert reader.fetch(table, [1]).ids == [1]
        with engine.connect() as connection:  # the same pooled connection the read used
            pid = connection.scalar(sa.text("SELECT pg_backend_pid()"))
        with demo_tables.connect() as admin:
            admin.scalar(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        assert reader.fetch(table, [1]).ids == [1]
    finally:
        reader.dispose()
