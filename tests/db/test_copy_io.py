"""read_frame, write_frame and copy_rows on both backends, inside a rolled-back transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import psycopg2
import pytest
import sqlalchemy as sa

from db.copy_io import copy_rows, read_frame, select_rows, write_frame
from db.identifiers import InvalidIdentifierError
from db.tables import JsonText, UtcDateTime

CITIES = ["Paris", "Oslo", None, "Lima", "Oslo"]
ENTITIES = sa.Table(
    "entities",
    sa.MetaData(),
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("age", sa.BigInteger),
    sa.Column("score", sa.Double),
    sa.Column("city", sa.Text),
)


@pytest.fixture
def entities(connection):
    """`entities`: ids 1..5 with an int, a float and a text column (one NULL each)."""
    connection.execute(
        sa.text(
            "CREATE TABLE entities "
            "(id BIGINT PRIMARY KEY, age BIGINT, score DOUBLE PRECISION, city TEXT)"
        )
    )
    frame = pd.DataFrame(
        {
            "id": [1, 2, 3, 4, 5],
            "age": [30, 41, 25, None, 60],
            "score": [0.5, np.nan, 2.25, 3.0, -1.0],
            "city": CITIES,
        }
    )
    frame["age"] = frame["age"].astype("Int64")
    assert write_frame(connection, "entities", frame) == 5
    return connection


def test_whole_table_in_id_order_with_numpy_types(entities):
    frame = read_frame(entities, "entities", ["age", "score", "city"], id_column="id")
    assert frame.index.name == "id" and frame.index.tolist() == [1, 2, 3, 4, 5]
    assert list(frame.columns) == ["age", "score", "city"]
    assert frame["score"].dtype == np.float64
    assert frame["age"].dtype == np.float64  # a NULL makes integers float, as in read_csv
    assert frame["city"].isna().tolist() == [c is None for c in CITIES]
    assert frame["city"].dropna().tolist() == [c for c in CITIES if c]


def test_integers_without_nulls_are_int64(entities):
    frame = read_frame(entities, "entities", ["id", "age"], id_range=(1, 3), id_column="id")
    assert frame["id"].dtype == np.int64 and frame["age"].dtype == np.int64


def test_id_range_is_inclusive(entities):
    frame = read_frame(entities, "entities", ["city"], id_column="id", id_range=(2, 4))
    assert frame.index.tolist() == [2, 3, 4]


def test_ids_come_back_sorted_and_unknown_ids_are_left_out(entities):
    frame = read_frame(entities, "entities", ["age"], id_column="id", ids=[5, 1, 99])
    assert frame.index.tolist() == [1, 5]
    assert frame["age"].tolist() == [30, 60]


def test_no_matching_rows_gives_an_empty_frame(entities):
    frame = read_frame(entities, "entities", ["age", "city"], id_column="id", ids=[])
    assert frame.empty and list(frame.columns) == ["age", "city"]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ([("city", "=", "Oslo")], [2, 5]),
        ([("city", "!=", "Oslo")], [1, 4]),
        ([("age", "<", 30)], [3]),
        ([("age", "<=", 30)], [1, 3]),
        ([("score", ">", 0.5)], [3, 4]),
        ([("score", ">=", 0.5)], [1, 3, 4]),
        ([("city", "in", ["Paris", "Lima"])], [1, 4]),
        ([("city", "not in", ["Paris", "Lima"])], [2, 5]),
        ([("city", "=", "Oslo"), ("age", ">", 50)], [5]),
        ([("city", "=", None)], [3]),
    ],
)
def test_where_conditions(entities, where, expected):
    frame = read_frame(entities, "entities", ["age"], id_column="id", where=where)
    assert frame.index.tolist() == expected


def test_where_combines_with_id_filters(entities):
    where = [("city", "=", "Oslo")]
    frame = read_frame(entities, "entities", ["city"], id_column="id", id_range=(1, 4), where=where)
    assert frame.index.tolist() == [2]


def test_where_values_are_bound_not_spliced(entities):
    sneaky = "Oslo' OR '1'='1"
    frame = read_frame(
        entities, "entities", ["city"], id_column="id", where=[("city", "=", sneaky)]
    )
    assert frame.empty
    drop = "x'); DROP TABLE entities; --"
    read_frame(entities, "entities", ["city"], where=[("city", "in", [drop])])
    assert len(read_frame(entities, "entities", ["city"])) == 5


@pytest.mark.parametrize(
    "call",
    [
        {"table": "entities; DROP TABLE entities", "columns": ["age"]},
        {"table": "entities", "columns": ["age, (SELECT 1)"]},
        {"table": "entities", "columns": ["age"], "id_column": "id DESC"},
        {"table": "entities", "columns": ["age"], "where": [("age > 0 OR 1", "=", 1)]},
        {"table": "pg_catalog", "columns": ["age"]},
    ],
)
def test_injection_looking_names_are_refused(entities, call):
    with pytest.raises(InvalidIdentifierError):
        read_frame(entities, **call)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"where": [("age", "LIKE", "1%")]}, ValueError),
        ({"where": [("city", "in", "Oslo")]}, ValueError),
        ({"id_range": (1, 3)}, ValueError),
        ({"id_column": "id", "ids": ["1; DROP TABLE entities"]}, TypeError),
        ({"id_column": "id", "id_range": ("1", "3")}, TypeError),
    ],
)
def test_bad_filters_are_refused(entities, kwargs, error):
    with pytest.raises(error):
        read_frame(entities, "entities", ["age"], **kwargs)


def test_select_renders_quoted_names_and_bound_values():
    query = select_rows("Mixed", ["Age"], id_column="id", where=[("Age", "=", "x")])
    sql = str(query.compile())
    assert '"Mixed"' in sql and '"Age"' in sql and "x" not in sql.replace("Mixed", "")


def test_write_frame_turns_nan_and_none_into_null(entities):
    frame = read_frame(
        entities, "entities", ["age", "score", "city"], id_column="id", ids=[2, 3, 4]
    )
    nulls = entities.execute(
        sa.text("SELECT id FROM entities WHERE age IS NULL OR score IS NULL OR city IS NULL")
    )
    assert sorted(row[0] for row in nulls) == [2, 3, 4]
    assert frame.isna().sum().sum() == 3


def test_copy_rows_streams_a_generator(entities):
    rows = ((i, i % 90, i / 2, f"c{i}" if i % 3 else None) for i in range(100, 25_100))
    assert copy_rows(entities, ENTITIES, ["id", "age", "score", "city"], rows) == 25_000
    frame = read_frame(entities, "entities", ["city"], id_column="id", id_range=(100, 25_099))
    assert len(frame) == 25_000 and frame["city"].isna().sum() == len(range(102, 25_100, 3))


AWKWARD_TEXT = [
    "tab\there",
    "new\nline\r\nand return",
    "back\\slash \\N \\t",
    "\\N",
    "",
    'quote " and comma ,',
    "unicode é 日本 \U0001f600",
]


def test_copy_rows_keeps_text_and_bytes_exactly_and_none_as_null(entities):
    rows = [(i, None, 0.1 * i, text) for i, text in enumerate(AWKWARD_TEXT, start=200)]
    rows += [(300, 1, float("inf"), b'{"a": "x\\"y"}'), (301, 2, float("-inf"), None)]
    assert copy_rows(entities, ENTITIES, ["id", "age", "score", "city"], rows) == len(rows)
    stored = entities.execute(
        sa.text("SELECT id, age, score, city FROM entities WHERE id >= 200 ORDER BY id")
    ).all()
    expected = [(i, a, s, c.decode() if isinstance(c, bytes) else c) for i, a, s, c in rows]
    assert [tuple(row) for row in stored] == expected


TYPED = sa.Table(
    "typed",
    sa.MetaData(),
    sa.Column("at", UtcDateTime()),
    sa.Column("flag", sa.Boolean),
    sa.Column("small", sa.SmallInteger),
    sa.Column("count", sa.Integer),
    sa.Column("big", sa.BigInteger),
    sa.Column("ratio", sa.Float),
    sa.Column("name", sa.String(20)),
    sa.Column("doc", JsonText()),
)


def test_copy_rows_writes_every_column_type_it_knows(connection):
    TYPED.create(connection)
    at = datetime(2026, 12, 3, 11, 30, 15, 123456, tzinfo=UTC)
    rows = [
        (at, True, -32768, 2**31 - 1, -(2**63), 1 / 3, "naïve", b'{"a": [1, null]}'),
        (at.astimezone(timezone(timedelta(hours=-5))), False, 7, -1, 2**63 - 1, -0.0, "", "{}"),
        (datetime(1970, 1, 1), True, 3, 4, 5, 2.0, "x", None),
        (None,) * 8,
    ]
    assert copy_rows(connection, TYPED, [c.name for c in TYPED.columns], rows) == len(rows)
    stored = [tuple(row) for row in connection.execute(sa.select(TYPED))]
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    assert stored == [
        (at, True, -32768, 2**31 - 1, -(2**63), 1 / 3, "naïve", {"a": [1, None]}),
        (at, False, 7, -1, 2**63 - 1, -0.0, "", {}),
        (epoch, True, 3, 4, 5, 2.0, "x", None),
        (None,) * 8,
    ]


def test_copy_rows_writes_rows_spanning_many_reads(connection):
    TYPED.create(connection)
    text = "é" * 100_000  # 200 kB of UTF-8 a row: a 1 MiB read holds about five
    rows = ((i, f'"{text}{i}"') for i in range(23))
    assert copy_rows(connection, TYPED, ["count", "doc"], rows) == 23
    stored = connection.execute(sa.select(TYPED.c["count"], TYPED.c.doc).order_by("count")).all()
    assert [(n, doc) for n, doc in stored] == [(i, f"{text}{i}") for i in range(23)]


def test_copy_rows_takes_numpy_scalars_on_postgresql(pg_connection):
    TYPED.create(pg_connection)
    row = (np.True_, np.int16(3), np.int32(4), np.int64(5), np.float64(0.25))
    copy_rows(pg_connection, TYPED, ["flag", "small", "count", "big", "ratio"], [row])
    stored = pg_connection.execute(sa.select(*TYPED.c["flag", "small", "count", "big", "ratio"]))
    assert tuple(stored.one()) == (True, 3, 4, 5, 0.25)


def test_copy_rows_refuses_a_type_it_cannot_encode_and_a_row_of_the_wrong_length(pg_connection):
    odd = sa.Table("odd", sa.MetaData(), sa.Column("n", sa.Numeric), sa.Column("m", sa.Integer))
    odd.create(pg_connection)
    with pytest.raises(TypeError, match="no binary encoding"):
        copy_rows(pg_connection, odd, ["n"], [(1,)])
    with pytest.raises(psycopg2.errors.QueryCanceled, match="longer than"):
        copy_rows(pg_connection, odd, ["m"], [(1, 2)])


def test_write_frame_refuses_bad_column_names(entities):
    with pytest.raises(InvalidIdentifierError):
        write_frame(entities, "entities", pd.DataFrame({"id); DROP TABLE entities; --": [9]}))
