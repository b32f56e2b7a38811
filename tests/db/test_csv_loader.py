"""load_csv on both backends: types, ids, gzip, progress, and all-or-nothing failures."""

from __future__ import annotations

import gzip

import pytest
import sqlalchemy as sa

from db import csv_files
from db.csv_files import CsvLoadError
from db.csv_loader import TableExistsError, load_csv
from db.identifiers import InvalidIdentifierError, table_columns

GOOD = "age,city,score,note\n39,Paris,1.5,\n50,,2,x\n-3,Oslo,1e3,y z\n"


def write(tmp_path, text: str, name: str = "data.csv"):
    path = tmp_path / name
    if name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def rows(engine, table: str, order: str = "1") -> list[tuple]:
    with engine.connect() as connection:
        return [
            tuple(row)
            for row in connection.execute(sa.text(f"SELECT * FROM {table} ORDER BY {order}"))
        ]


def exists(engine, table: str) -> bool:
    return sa.inspect(engine).has_table(table)


def test_types_are_inferred_and_empty_is_null(engine, tmp_path):
    assert load_csv(engine, write(tmp_path, GOOD), "people") == 3
    types = table_columns(engine, "people")
    assert types["age"] == "BIGINT" and types["city"] == "TEXT"
    assert types["score"] in ("DOUBLE PRECISION", "DOUBLE") and types["note"] == "TEXT"
    assert rows(engine, "people", "age") == [
        (-3, "Oslo", 1000.0, "y z"),
        (39, "Paris", 1.5, None),
        (50, None, 2.0, "x"),
    ]


def test_digits_of_other_scripts_make_a_text_column(engine, tmp_path):
    text = "n,x\n\uff11\uff12,\u0663.5\n7,2.5\n"  # fullwidth 12, Arabic-Indic 3.5
    assert load_csv(engine, write(tmp_path, text), "digits") == 2
    types = table_columns(engine, "digits")
    assert types["n"] == "TEXT" and types["x"] == "TEXT"
    assert rows(engine, "digits", "x") == [("7", "2.5"), ("\uff11\uff12", "\u0663.5")]


def test_gzipped_csv_loads(engine, tmp_path):
    assert load_csv(engine, write(tmp_path, GOOD, "data.csv.gz"), "people") == 3


def test_progress_reports_every_byte_of_the_file(engine, tmp_path):
    path = write(tmp_path, GOOD * 1, "data.csv.gz")
    seen = []
    load_csv(engine, path, "people", progress=seen.append)
    assert sum(seen) == path.stat().st_size


def test_missing_id_column_is_generated_in_file_order(engine, tmp_path):
    load_csv(engine, write(tmp_path, GOOD), "people", id_column="id")
    assert list(table_columns(engine, "people"))[0] == "id"
    assert [(row[0], row[1]) for row in rows(engine, "people", "id")] == [(1, 39), (2, 50), (3, -3)]
    assert sa.inspect(engine).get_pk_constraint("people")["constrained_columns"] == ["id"]


def test_existing_id_column_becomes_the_primary_key(engine, tmp_path):
    load_csv(engine, write(tmp_path, "id,x\n10,a\n7,b\n"), "things", id_column="id")
    assert rows(engine, "things", "id") == [(7, "b"), (10, "a")]
    assert sa.inspect(engine).get_pk_constraint("things")["constrained_columns"] == ["id"]


def test_non_integer_id_column_is_refused(engine, tmp_path):
    with pytest.raises(CsvLoadError, match="must hold integers"):
        load_csv(engine, write(tmp_path, "id,x\nA1,a\n"), "things", id_column="id")
    assert not exists(engine, "things")


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("a,b\n1,x\n2\n", 3, "field|missing data"),
        ("a,b\n1,x\n2,y,z\n", 3, "field|extra data"),
        ("a,b\n1,x\n2,y\n3,z\nfour,w\n", 5, "four"),
        ('a,b\n1,x\n2,"open\n', 3, "end of data|unterminated"),
    ],
    ids=["short row", "long row", "bad number after the sample", "unterminated quote"],
)
def test_malformed_row_names_its_line_and_leaves_no_table(
    engine, tmp_path, monkeypatch, text, line, message
):
    monkeypatch.setattr(csv_files, "SAMPLE_ROWS", 2)
    with pytest.raises(CsvLoadError, match=message) as caught:
        load_csv(engine, write(tmp_path, text), "broken")
    assert caught.value.line == line
    assert f"line {line}" in str(caught.value)
    assert not exists(engine, "broken")


@pytest.mark.parametrize(
    "text", ["id,x\n1,a\n1,b\n", "id,x\n1,a\n,b\n"], ids=["duplicate id", "empty id"]
)
def test_bad_ids_name_their_line(engine, tmp_path, text):
    with pytest.raises(CsvLoadError, match="line 3") as caught:
        load_csv(engine, write(tmp_path, text), "things", id_column="id")
    assert caught.value.line == 3
    assert not exists(engine, "things")


def test_existing_table_is_refused_unless_replaced(engine, tmp_path):
    load_csv(engine, write(tmp_path, GOOD), "people")
    with pytest.raises(TableExistsError, match="already exists"):
        load_csv(engine, write(tmp_path, "a\n1\n", "other.csv"), "people")
    assert load_csv(engine, write(tmp_path, "a\n1\n", "other.csv"), "people", replace=True) == 1
    assert rows(engine, "people") == [(1,)]


def test_failed_replace_keeps_the_old_table(engine, tmp_path):
    load_csv(engine, write(tmp_path, GOOD), "people")
    with pytest.raises(CsvLoadError):
        load_csv(engine, write(tmp_path, "a,b\n1\n", "bad.csv"), "people", replace=True)
    assert len(rows(engine, "people")) == 3


@pytest.mark.parametrize(
    "table", ["people; DROP TABLE model_versions", "1st", "a b", 'x"y', "pg_temp", ""]
)
def test_bad_table_names_are_refused(engine, tmp_path, table):
    with pytest.raises(InvalidIdentifierError):
        load_csv(engine, write(tmp_path, GOOD), table)


@pytest.mark.parametrize("header", ["first name,age", 'age,"x""); DROP TABLE y; --"', "age,"])
def test_bad_column_names_are_refused(engine, tmp_path, header):
    with pytest.raises(InvalidIdentifierError, match="CSV header"):
        load_csv(engine, write(tmp_path, header + "\n1,2\n"), "people")
    assert not exists(engine, "people")


def test_bad_id_column_name_is_refused(engine, tmp_path):
    with pytest.raises(InvalidIdentifierError):
        load_csv(engine, write(tmp_path, GOOD), "people", id_column="id; --")


def test_repeated_header_names_are_refused(engine, tmp_path):
    with pytest.raises(CsvLoadError, match="repeats column names: a"):
        load_csv(engine, write(tmp_path, "a,b,a\n1,2,3\n"), "people")


def test_skserve_tables_cannot_be_overwritten(engine, tmp_path):
    with pytest.raises(CsvLoadError, match="skserve's own tables"):
        load_csv(engine, write(tmp_path, GOOD), "model_versions", replace=True)


def test_empty_file_is_refused(engine, tmp_path):
    with pytest.raises(CsvLoadError, match="empty"):
        load_csv(engine, write(tmp_path, ""), "people")


def test_header_only_file_makes_an_empty_text_table(engine, tmp_path):
    assert load_csv(engine, write(tmp_path, "a,b\n"), "people") == 0
    assert table_columns(engine, "people") == {"a": "TEXT", "b": "TEXT"}


def test_byte_order_mark_is_ignored(engine, tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffage,city\n1,Zürich\n".encode())
    load_csv(engine, path, "people")
    assert rows(engine, "people") == [(1, "Zürich")]
