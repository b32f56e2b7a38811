"""Feature rows of stored entities, read by id: one parameterised query per request.

Table and column names are checked against the catalog once per (table, id column, features)
and quoted into a cached SQL string; ids are parsed to the id column's type before they reach
the database and travel only as a bound parameter.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from db.deadline import Deadline
from db.engine import is_postgres
from db.identifiers import check_columns

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_INTEGER_TYPE = re.compile(r"(SMALL|BIG)?INT(EGER)?|INT[248]|(BIG|SMALL)?SERIAL")
_TEXT_TYPE = re.compile(r"TEXT|(CHARACTER )?VARYING(\(\d+\))?|(VAR)?CHAR(\(\d+\))?")
# ASCII only: int() also reads other scripts' digits, so "１" (fullwidth) would be entity 1.
_DIGITS = re.compile(r"\s*[+-]?[0-9]{1,19}\s*", re.ASCII)
MAX_LISTED = 5


class InvalidEntityIdError(ValueError):
    """Ids that cannot be values of the feature table's id column."""

    def __init__(self, message: str, bad: list[Any]) -> None:
        super().__init__(message)
        self.bad = bad


class UnsupportedIdColumnError(ValueError):
    """The id column has a type lookups do not handle (integers and text only)."""


@dataclass(frozen=True)
class EntityTable:
    """A checked feature table: where to read, which columns, and the SQL that reads them."""

    table: str
    id_column: str
    columns: tuple[str, ...]
    integer_ids: bool
    sql: str
    postgres: bool

    def parse_ids(self, values: Sequence[Any]) -> list[Any]:
        """Ids converted to the id column's type; InvalidEntityIdError names the bad ones."""
        parse = _integer_id if self.integer_ids else _text_id
        parsed, bad = [], []
        for value in values:
            try:
                parsed.append(parse(value))
            except (TypeError, ValueError):
                bad.append(value)
        if bad:
            kind = "integers" if self.integer_ids else "strings"
            shown = ", ".join(repr(v) for v in bad[:MAX_LISTED])
            raise InvalidEntityIdError(
                f"ids of {self.table} are {kind}; cannot use {shown}"
                + (f" and {len(bad) - MAX_LISTED} more" if len(bad) > MAX_LISTED else ""),
                bad,
            )
        return parsed


@dataclass(frozen=True)
class EntityRows:
    """The rows found: their ids (database order) and their features as columns."""

    ids: list[Any]
    columns: dict[str, list[Any]]

    @property
    def n_rows(self) -> int:
        """How many of the requested ids were found."""
        return len(self.ids)


def _integer_id(value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError
    if isinstance(value, str):
        if not _DIGITS.fullmatch(value):
            raise ValueError
        value = int(value)
    if not isinstance(value, int) or not INT64_MIN <= value <= INT64_MAX:
        raise ValueError
    return value


def _text_id(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise TypeError
    return str(value)


class EntityReader:
    """Reads feature rows by id over the engine's pool, caching checked tables per process.

    With a `deadline`, every read gives up (DatabaseTimeout) when the database does not answer
    in time, so a hung server answers callers quickly instead of holding them.
    """

    def __init__(self, engine: Engine, deadline: Deadline | None = None) -> None:
        self._engine = engine
        self._deadline = deadline
        self._postgres = is_postgres(engine)
        self._tables: dict[tuple[str, str, tuple[str, ...]], EntityTable] = {}
        self._lock = threading.Lock()

    def table(self, table: str, id_column: str, columns: Sequence[str]) -> EntityTable:
        """The table, checked (TableNotFoundError, ColumnNotFoundError, InvalidIdentifierError)."""
        key = (table, id_column, tuple(columns))
        found = self._tables.get(key)
        if found is None:
            with self._lock:
                found = self._tables.get(key) or self._within_deadline(self._check, *key)
                self._tables[key] = found
        return found

    def _check(self, table: str, id_column: str, columns: tuple[str, ...]) -> EntityTable:
        with self._engine.connect() as connection:
            types = check_columns(connection, table, [id_column, *columns])
        id_type = types[id_column].upper()
        integer = bool(_INTEGER_TYPE.fullmatch(id_type))
        if not integer and not _TEXT_TYPE.fullmatch(id_type):
            raise UnsupportedIdColumnError(
                f"id column {table}.{id_column} is {id_type}; lookups need integer or text ids"
            )
        quote = self._engine.dialect.identifier_preparer.quote
        selected = ", ".join(quote(name) for name in (id_column, *columns))
        if self._postgres:
            array = "bigint[]" if integer else "text[]"
            where = f"{quote(id_column)} = ANY(%s::{array})"
        else:
            where = f"{quote(id_column)} IN :ids"
        sql = f"SELECT {selected} FROM {quote(table)} WHERE {where}"
        return EntityTable(table, id_column, columns, integer, sql, self._postgres)

    def fetch(self, table: EntityTable, ids: Sequence[Any]) -> EntityRows:
        """The rows with these (parsed) ids; unknown ids are simply absent."""
        wanted = list(dict.fromkeys(ids))
        read = self._fetch_postgres if table.postgres else self._fetch
        rows = self._within_deadline(read, table, wanted)
        found = [row[0] for row in rows]
        values = list(zip(*rows, strict=True)) if rows else [()] * (len(table.columns) + 1)
        columns = {name: list(values[i + 1]) for i, name in enumerate(table.columns)}
        return EntityRows(found, columns)

    def _within_deadline(self, call: Any, *args: Any) -> Any:
        return call(*args) if self._deadline is None else self._deadline.run(call, *args)

    def _fetch_postgres(self, table: EntityTable, ids: list[Any]) -> list[tuple]:
        # The raw psycopg2 connection skips SQLAlchemy's statement layer; autocommit for this
        # one read saves the BEGIN and ROLLBACK round trips of an implicit transaction. The
        # engine may skip pre-ping (a round trip per checkout): a connection the server closed
        # is then noticed here, discarded and the read retried once on a fresh one.
        dbapi_error = self._engine.dialect.loaded_dbapi.Error
        for attempt in (1, 2):
            try:
                raw = self._engine.raw_connection()
            except dbapi_error as exc:  # the pool re-raises a failed reconnect unwrapped
                raise sa.exc.DBAPIError.instance(None, None, exc, dbapi_error) from exc
            driver = raw.driver_connection
            try:
                driver.autocommit = True
                with driver.cursor() as cursor:
                    cursor.execute(table.sql, (ids,))
                    rows = cursor.fetchall()
                driver.autocommit = False
                return rows
            except dbapi_error as exc:
                raw.invalidate()  # its state is unknown now; the pool opens a fresh one
                if attempt == 1 and self._engine.dialect.is_disconnect(exc, driver, None):
                    continue
                raise sa.exc.DBAPIError.instance(table.sql, None, exc, dbapi_error) from exc
            finally:
                raw.close()
        raise AssertionError("unreachable")  # pragma: no cover

    def _fetch(self, table: EntityTable, ids: list[Any]) -> list[tuple]:
        statement = sa.text(table.sql).bindparams(sa.bindparam("ids", expanding=True))
        with self._engine.connect() as connection:
            return [tuple(row) for row in connection.execute(statement, {"ids": ids})]

    def dispose(self) -> None:
        """Close the pooled connections of the reader's engine (and its deadline's threads)."""
        if self._deadline is not None:
            self._deadline.close()
        self._engine.dispose()

    def first_id(self, table: EntityTable) -> Any | None:
        """The smallest id in the table (for examples), None when it is empty."""
        column = sa.column(table.id_column)
        query = sa.select(column).select_from(sa.table(table.table)).order_by(column).limit(1)
        return self._within_deadline(self._scalar, query)

    def _scalar(self, query: Any) -> Any:
        with self._engine.connect() as connection:
            return connection.scalar(query)
