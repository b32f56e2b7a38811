"""Load a CSV file (optionally gzipped) into a new table: COPY on PostgreSQL, inserts on SQLite.

Column types are inferred from the first rows (db.csv_files): BIGINT, DOUBLE PRECISION or
TEXT; empty is NULL. The whole load is one transaction, so a bad row leaves no table and no
partial data behind.
"""

from __future__ import annotations

import contextlib
import itertools
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from db.csv_files import (
    INFERRED,
    READ_BYTES,
    CsvLayout,
    CsvLoadError,
    Progress,
    infer_layout,
    open_binary,
    open_text,
    read_records,
)
from db.engine import is_postgres
from db.identifiers import check_identifier
from db.tables import metadata as skserve_metadata

INSERT_BATCH_ROWS = 10_000

_COPY_CONTEXT = re.compile(r"line (\d+)(?:, column (\w+))?")
_UNIQUE_VIOLATION = "23505"
_TYPE_NAMES = {sa.BigInteger: "BIGINT", sa.Double: "DOUBLE PRECISION", sa.Text: "TEXT"}


class TableExistsError(CsvLoadError):
    """The target table exists and replacing it was not asked for."""


def load_csv(engine: Engine, path: str | Path, table: str, **options: Any) -> int:
    """Create `table` from the CSV at `path` in one transaction and return the rows loaded.

    `options` are load_csv_into's: id_column, replace, progress.
    """
    with begin(engine) as connection:
        return load_csv_into(connection, path, table, **options)


def load_csv_into(
    connection: Connection,
    path: str | Path,
    table: str,
    *,
    id_column: str | None = None,
    replace: bool = False,
    progress: Progress | None = None,
) -> int:
    """Like load_csv, inside the caller's transaction (never commits).

    `id_column` is the table's integer primary key: the CSV's own column of that name, or
    generated 1..N in file order when the CSV has none; None makes no key.
    """
    path = Path(path)
    check_identifier(table)
    if table in skserve_metadata.tables or table == "alembic_version":
        raise CsvLoadError(f"{table!r} is one of skserve's own tables; choose another name")
    layout = infer_layout(path, id_column=id_column)
    target = _prepare_table(connection, table, layout, replace=replace)
    if is_postgres(connection):
        return _copy_postgres(connection, target, layout, path, progress)
    return _insert_rows(connection, target, layout, path, progress)


@contextlib.contextmanager
def begin(engine: Engine) -> Iterator[Connection]:
    """engine.begin(), plus an explicit BEGIN on SQLite so that DDL is rolled back too."""
    with engine.begin() as connection:
        open_transaction(connection)
        yield connection


def open_transaction(connection: Connection) -> None:
    """Make sure SQLite is inside a transaction, so that the DDL that follows rolls back too."""
    if connection.dialect.name == "sqlite":
        raw = connection.connection.dbapi_connection
        # pysqlite only opens a transaction before DML, so CREATE TABLE would autocommit.
        if not raw.in_transaction:
            connection.exec_driver_sql("BEGIN")


def _prepare_table(
    connection: Connection, table: str, layout: CsvLayout, *, replace: bool
) -> sa.Table:
    if sa.inspect(connection).has_table(table):
        if not replace:
            raise TableExistsError(f"table {table!r} already exists")
        connection.execute(sa.text(f"DROP TABLE {_quote(connection, table)}"))
    target = sa.Table(table, sa.MetaData(), *_columns(layout, is_postgres(connection)))
    target.create(connection)
    return target


def _columns(layout: CsvLayout, postgres: bool) -> list[sa.Column]:
    columns = []
    for name, type_ in layout.columns.items():
        if name != layout.id_column:
            columns.append(sa.Column(name, type_))
        elif layout.generate_id and postgres:
            # The identity numbers rows 1..N in file order as COPY inserts them.
            columns.append(sa.Column(name, sa.BigInteger, sa.Identity(start=1), primary_key=True))
        else:
            columns.append(sa.Column(name, sa.BigInteger, primary_key=True, autoincrement=False))
    return columns


def _quote(connection: Connection, name: str) -> str:
    return connection.dialect.identifier_preparer.quote(name)


def _copy_postgres(
    connection: Connection, target: sa.Table, layout: CsvLayout, path: Path, progress: Progress
) -> int:
    names = [c.name for c in target.columns if not (layout.generate_id and c.primary_key)]
    sql = (
        f"COPY {_quote(connection, target.name)} "
        f"({', '.join(_quote(connection, name) for name in names)}) "
        "FROM STDIN WITH (FORMAT csv, HEADER true, ENCODING 'UTF8')"
    )
    raw = connection.connection.dbapi_connection
    with open_binary(path, progress) as stream, raw.cursor() as cursor:
        try:
            cursor.copy_expert(sql, stream, size=READ_BYTES)
        except connection.dialect.dbapi.Error as exc:
            raise _copy_error(exc, layout) from None
        rows = cursor.rowcount
        cursor.execute(f"ANALYZE {_quote(connection, target.name)}")
    return rows


def _copy_error(exc: Exception, layout: CsvLayout) -> CsvLoadError:
    """A CsvLoadError naming the CSV line PostgreSQL's COPY complained about."""
    diag = exc.diag  # type: ignore[attr-defined]
    message = diag.message_primary or str(exc).strip()
    if diag.sqlstate == _UNIQUE_VIOLATION:
        # The primary message names the table's constraint, which the user never saw.
        message = f"duplicate {layout.id_column} ({diag.message_detail})"
    found = _COPY_CONTEXT.search(diag.context or "")
    if not found:
        return CsvLoadError(f"COPY failed: {message}")
    line, column = int(found.group(1)), found.group(2)
    where = f"CSV line {line}" + (f", column {column}" if column else "")
    data_error = (diag.sqlstate or "").startswith("22")
    hint = INFERRED if column in layout.columns and data_error else ""
    return CsvLoadError(f"{where}: {message}{hint}", line=line)


def _insert_rows(
    connection: Connection, target: sa.Table, layout: CsvLayout, path: Path, progress: Progress
) -> int:
    # Positional rows straight to the driver (qmark on SQLite): SQLAlchemy's per-row
    # parameter processing would cost more than parsing the CSV.
    sql = str(target.insert().compile(dialect=connection.dialect))
    convert = _row_converter(layout)
    total = 0
    with open_text(path, progress) as text:
        records = read_records(text)
        next(records)
        while batch := list(itertools.islice(records, INSERT_BATCH_ROWS)):
            rows = [convert(record, line, total + i + 1) for i, (line, record) in enumerate(batch)]
            connection.exec_driver_sql(sql, rows)
            total += len(rows)
    return total


def _row_converter(layout: CsvLayout) -> Callable[[list[str], int, int], tuple[object, ...]]:
    """A function turning one CSV record (line, row number) into a row in table order."""
    names = [n for n in layout.columns if not (layout.generate_id and n == layout.id_column)]
    parsers = [_PARSERS[layout.columns[name]] for name in names]
    # Generated ids are unique by construction; loaded ones are checked to name the bad line.
    checked = layout.id_column is not None and not layout.generate_id
    id_index = names.index(layout.id_column) if checked else None
    seen_ids: set[object] = set()

    def convert(record: list[str], line: int, number: int) -> tuple[object, ...]:
        if len(record) != len(names):
            raise CsvLoadError(
                f"CSV line {line}: expected {len(names)} fields, found {len(record)}", line=line
            )
        try:
            values = [parse(value) for parse, value in zip(parsers, record, strict=True)]
        except ValueError:
            raise _bad_value(layout, names, record, line) from None
        if layout.generate_id:
            values.insert(0, number)
        if id_index is not None:
            _check_id(values[id_index], seen_ids, names[id_index], line)
        return tuple(values)

    return convert


def _bad_value(layout: CsvLayout, names: list[str], record: list[str], line: int) -> CsvLoadError:
    for name, value in zip(names, record, strict=True):
        try:
            _PARSERS[layout.columns[name]](value)
        except ValueError:
            kind = _TYPE_NAMES[layout.columns[name]]
            return CsvLoadError(
                f"CSV line {line}, column {name}: {value!r} is not a valid {kind}{INFERRED}",
                line=line,
            )
    return CsvLoadError(f"CSV line {line}: cannot parse the row", line=line)


def _check_id(value: object, seen: set[object], name: str, line: int) -> None:
    if value is None:
        raise CsvLoadError(f"CSV line {line}: id column {name!r} is empty", line=line)
    if value in seen:
        raise CsvLoadError(f"CSV line {line}: duplicate {name} {value}", line=line)
    seen.add(value)


def _int_or_none(value: str) -> int | None:
    return int(value) if value != "" else None


def _float_or_none(value: str) -> float | None:
    return float(value) if value != "" else None


def _text_or_none(value: str) -> str | None:
    return value if value != "" else None


_PARSERS: dict[type, Callable[[str], object]] = {
    sa.BigInteger: _int_or_none,
    sa.Double: _float_or_none,
    sa.Text: _text_or_none,
}
