"""Bulk reads and writes of user tables: COPY on PostgreSQL, plain SQL on SQLite.

Every function takes a SQLAlchemy Connection and runs inside the caller's transaction; none
commits. Table and column names go through check_identifier and are quoted by SQLAlchemy;
values are bound parameters (rendered by psycopg2's mogrify for COPY), never formatted in.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import operator
import struct
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from db.engine import is_postgres
from db.identifiers import check_identifier

Condition = tuple[str, str, object]

OPERATORS: dict[str, Callable[[sa.ColumnClause, object], sa.ColumnElement[bool]]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "in": lambda column, values: column.in_(list(values)),  # type: ignore[call-overload]
    "not in": lambda column, values: column.not_in(list(values)),  # type: ignore[call-overload]
}
# PostgreSQL type OIDs that pandas may parse as numbers; everything else is read as text.
_NUMERIC_OIDS = {20, 21, 23, 26, 700, 701, 1700}
_BATCH_ROWS = 10_000
COPY_CHUNK_BYTES = 2**20  # psycopg2 reads 8 kB at a time by default: a Python call each


def select_rows(
    table: str,
    columns: Sequence[str],
    *,
    id_column: str | None = None,
    id_range: tuple[int, int] | None = None,
    ids: Iterable[int] | None = None,
    where: Sequence[Condition] | None = None,
) -> sa.Select:
    """The SELECT behind read_frame: id column first, filters bound, ordered by id."""
    names = _checked_names(table, columns, id_column)
    filters = list(where or ())
    filtered = [check_identifier(column, "column") for column, _, _ in filters]
    source = sa.table(table, *(sa.column(name) for name in dict.fromkeys(names + filtered)))
    query = sa.select(*(source.c[name] for name in names))
    if id_column is not None:
        query = _by_id(query, source.c[id_column], id_range, ids)
    elif id_range is not None or ids is not None:
        raise ValueError("filtering by id_range or ids needs id_column")
    for column, op, value in filters:
        query = query.where(_condition(source.c[column], op, value))
    return query


def read_frame(
    connection: Connection,
    table: str,
    columns: Sequence[str],
    *,
    id_column: str | None = None,
    **filters: Any,
) -> pd.DataFrame:
    """Rows of `table` as a DataFrame of `columns`, indexed by `id_column` when given.

    `filters` are select_rows's: `id_range` (inclusive), `ids`, and `where`, which holds
    (column, operator, value) triples with operator one of = != < <= > >= in, not in.
    Numbers come back int64/float64 and text as str, with NULL as NaN.
    """
    query = select_rows(table, columns, id_column=id_column, **filters)
    if is_postgres(connection):
        frame = _read_postgres(connection, query)
    else:
        frame = _read_generic(connection, query)
    if id_column is None:
        return frame
    return frame.set_index(id_column, drop=id_column not in columns)


def write_frame(connection: Connection, table: str, frame: pd.DataFrame) -> int:
    """Append the frame's columns (not its index) to `table`; returns the rows written.

    Missing values become NULL; JSON columns must already hold JSON text.
    """
    names = [check_identifier(str(name), "column") for name in frame.columns]
    check_identifier(table)
    if not is_postgres(connection):
        records = frame.astype(object).where(frame.notna(), None).itertuples(index=False)
        return _insert_rows(connection, sa.table(table, *map(sa.column, names)), names, records)
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, header=False)
    buffer.seek(0)
    return _copy_from(connection, table, names, buffer, "csv")


def copy_rows(
    connection: Connection,
    table: sa.Table,
    columns: Sequence[str],
    rows: Iterable[Sequence[object]],
) -> int:
    """Append rows (sequences in `columns` order, None for NULL); returns the rows written.

    Values are str or bytes (UTF-8 text, e.g. encoded JSON) for text columns, and numbers,
    booleans or timezone-aware datetimes for the others. On PostgreSQL this is a binary COPY
    encoded from `table`'s column types (see _BinaryStream); elsewhere, batched INSERTs.
    """
    names = [check_identifier(name, "column") for name in columns]
    check_identifier(table.name)
    if is_postgres(connection):
        stream = _BinaryStream([_binary_encoder(table.c[name].type) for name in names], rows)
        _copy_from(connection, table.name, names, stream, "binary")
        return stream.rows
    return _insert_rows(connection, table, names, rows)


def _insert_rows(
    connection: Connection,
    table: sa.TableClause,
    names: list[str],
    rows: Iterable[Sequence[object]],
) -> int:
    insert = table.insert()
    total = 0
    for batch in _batches(rows, _BATCH_ROWS):
        records = [dict(zip(names, map(_decoded, row), strict=True)) for row in batch]
        connection.execute(insert, records)
        total += len(batch)
    return total


def _decoded(value: object) -> object:
    return value.decode() if isinstance(value, bytes) else value


def _checked_names(table: str, columns: Sequence[str], id_column: str | None) -> list[str]:
    check_identifier(table)
    names = [check_identifier(column, "column") for column in columns]
    if not names and id_column is None:
        raise ValueError("read at least one column")
    if id_column is None:
        return names
    check_identifier(id_column, "column")
    return [id_column, *(name for name in names if name != id_column)]


def _by_id(
    query: sa.Select,
    key: sa.ColumnClause,
    id_range: tuple[int, int] | None,
    ids: Iterable[int] | None,
) -> sa.Select:
    """Filter on integer ids (operator.index refuses anything else) and order by id."""
    if id_range is not None:
        first, last = (operator.index(bound) for bound in id_range)
        query = query.where(key.between(first, last))
    if ids is not None:
        query = query.where(key.in_([operator.index(value) for value in ids]))
    return query.order_by(key)


def _condition(column: sa.ColumnClause, op: str, value: object) -> sa.ColumnElement[bool]:
    if op not in OPERATORS:
        raise ValueError(f"unknown operator {op!r}; use one of {', '.join(OPERATORS)}")
    if op.endswith("in") and (isinstance(value, str | bytes) or not isinstance(value, Iterable)):
        raise ValueError(f"operator {op!r} needs a list of values for {column.name!r}")
    return OPERATORS[op](column, value)


def _read_postgres(connection: Connection, query: sa.Select) -> pd.DataFrame:
    """COPY the query's result out as CSV into memory and parse it with pandas."""
    raw = connection.connection.dbapi_connection
    compiled = query.compile(
        dialect=connection.dialect, compile_kwargs={"render_postcompile": True}
    )
    with raw.cursor() as cursor:
        select = cursor.mogrify(str(compiled), compiled.params)
        cursor.execute(b"SELECT * FROM (" + select + b") AS q LIMIT 0")
        text_columns = {
            column.name: str
            for column in cursor.description
            if column.type_code not in _NUMERIC_OIDS
        }
        buffer = io.BytesIO()
        cursor.copy_expert(
            b"COPY (" + select + b") TO STDOUT WITH (FORMAT csv, HEADER true)", buffer
        )
    buffer.seek(0)
    return pd.read_csv(
        buffer, dtype=text_columns, keep_default_na=False, na_values=[""], skip_blank_lines=False
    )


def _read_generic(connection: Connection, query: sa.Select) -> pd.DataFrame:
    frame = pd.read_sql(query, connection)
    for name in frame.columns:
        if not pd.api.types.is_numeric_dtype(frame[name]):
            frame[name] = frame[name].replace("", np.nan)
    return frame


def _copy_from(
    connection: Connection, table: str, names: list[str], stream: object, copy_format: str
) -> int:
    quote = connection.dialect.identifier_preparer.quote
    sql = (
        f"COPY {quote(table)} ({', '.join(quote(name) for name in names)}) "
        f"FROM STDIN WITH (FORMAT {copy_format})"
    )
    raw = connection.connection.dbapi_connection
    with raw.cursor() as cursor:
        cursor.copy_expert(sql, stream, size=COPY_CHUNK_BYTES)
        return cursor.rowcount


def _batches(rows: Iterable[Sequence[object]], size: int) -> Iterable[list[Sequence[object]]]:
    iterator = iter(rows)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


# PostgreSQL's binary COPY format: a signature, flags and header extension length, then per row
# the field count and each field as its length (-1 for NULL) and bytes in network order.
_BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
_BINARY_TRAILER = struct.pack("!h", -1)
_FIELD_COUNT = struct.Struct("!h")
_LENGTH = struct.Struct("!i")
_NULL = _LENGTH.pack(-1)
_POSTGRES_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)
_BOOLEAN = {True: struct.pack("!ib", 1, 1), False: struct.pack("!ib", 1, 0)}


def _packer(layout: str) -> Callable[[Any], bytes]:
    packed = struct.Struct("!i" + layout)
    size = packed.size - 4  # the value's own bytes, after its length
    return lambda value: packed.pack(size, value)


def _timestamp(packed: Callable[[Any], bytes]) -> Callable[[dt.datetime], bytes]:
    # Microseconds since PostgreSQL's epoch; a naive datetime is taken as UTC.
    def encode(value: dt.datetime) -> bytes:
        aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
        return packed((aware - _POSTGRES_EPOCH) // _MICROSECOND)

    return encode


def _binary_encoder(column_type: sa.types.TypeEngine) -> Callable[[Any], bytes] | None:
    """How one column's values are sent in binary COPY: None for text (sent as it is)."""
    if isinstance(column_type, sa.types.TypeDecorator):
        column_type = column_type.impl_instance
    if isinstance(column_type, sa.String):  # Text and JSON-as-text too
        return None
    if isinstance(column_type, sa.DateTime):
        return _timestamp(_packer("q"))
    if isinstance(column_type, sa.Boolean):
        return _BOOLEAN.__getitem__
    if isinstance(column_type, sa.BigInteger):
        return _packer("q")
    if isinstance(column_type, sa.SmallInteger):
        return _packer("h")
    if isinstance(column_type, sa.Integer):
        return _packer("i")
    if isinstance(column_type, sa.Float) and not isinstance(column_type, sa.REAL):
        return _packer("d")
    raise TypeError(f"copy_rows has no binary encoding for {column_type!r} columns")


class _BinaryStream:
    """A read-only file of binary COPY data encoded from rows on demand, for COPY FROM STDIN.

    Each read returns about COPY_CHUNK_BYTES, whatever size was asked: psycopg2 sends what it
    gets as it is. Text goes out as it is, copied once into the read; the text format needed
    every value escaped and PostgreSQL to scan every byte for the escapes, a quarter of its
    time per prediction log entry.
    """

    def __init__(
        self, encoders: list[Callable[[Any], bytes] | None], rows: Iterable[Sequence[object]]
    ) -> None:
        self._encoders = encoders
        self._field_count = _FIELD_COUNT.pack(len(encoders))
        self._row_bytes = 2 + 12 * len(encoders)  # at most, without text
        self._rows = iter(rows)
        self._started = self._finished = False
        self.rows = 0

    def read(self, size: int = -1) -> bytes:
        """The next rows as binary COPY data; b"" at the end (`size` is only a hint)."""
        if self._finished:
            return b""
        parts = [] if self._started else [_BINARY_HEADER]
        self._started = True
        length = 0
        for row in self._rows:
            self.rows += 1
            length += self._row_bytes
            parts.append(self._field_count)
            for encode, value in zip(self._encoders, row, strict=True):
                if value is None:
                    parts.append(_NULL)
                elif encode is None:
                    text = value if isinstance(value, bytes) else value.encode()
                    parts += (_LENGTH.pack(len(text)), text)
                    length += len(text)
                else:
                    parts.append(encode(value))
            if length >= COPY_CHUNK_BYTES:
                break
        else:
            parts.append(_BINARY_TRAILER)
            self._finished = True
        return b"".join(parts)
