"""Check table and column names before they reach SQL; names are then quoted by SQLAlchemy."""

from __future__ import annotations

import re
from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_RESERVED_PREFIXES = ("pg_", "sqlite_")


class InvalidIdentifierError(ValueError):
    """A table or column name that skserve refuses to put into SQL."""


class TableNotFoundError(LookupError):
    """The named table does not exist."""

    def __init__(self, table: str) -> None:
        super().__init__(f"table {table!r} does not exist")
        self.table = table


class ColumnNotFoundError(LookupError):
    """One or more named columns are not in the table.

    `label` names the table for the client when its own name would mean nothing to them
    (the file an uploaded CSV came from, not the table it was staged into).
    """

    def __init__(
        self, table: str, missing: list[str], available: list[str], *, label: str | None = None
    ) -> None:
        names = ", ".join(repr(name) for name in missing)
        noun = "column" if len(missing) == 1 else "columns"
        super().__init__(
            f"{label or f'table {table!r}'} has no {noun} {names}; "
            f"its columns are: {', '.join(available)}"
        )
        self.label = label
        self.table = table
        self.missing = missing
        self.available = available


def check_identifier(name: str, kind: str = "table") -> str:
    """Return `name` if it is a plain SQL identifier (letters, digits, _), else raise."""
    if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name):
        raise InvalidIdentifierError(
            f"invalid {kind} name {name!r}: use 1-63 letters, digits or underscores, "
            "not starting with a digit"
        )
    if name.lower().startswith(_RESERVED_PREFIXES):
        raise InvalidIdentifierError(
            f"invalid {kind} name {name!r}: names starting with pg_ or sqlite_ are reserved"
        )
    return name


def table_columns(bind: Engine | Connection | Session, table: str) -> dict[str, str]:
    """The table's columns in order, mapped to their SQL type names."""
    check_identifier(table)
    connection = bind.connection() if isinstance(bind, Session) else bind
    inspector = sa.inspect(connection)
    if not inspector.has_table(table):
        raise TableNotFoundError(table)
    dialect = connection.dialect
    return {
        column["name"]: column["type"].compile(dialect=dialect)
        for column in inspector.get_columns(table)
    }


def check_columns(
    bind: Engine | Connection | Session,
    table: str,
    columns: Iterable[str],
    *,
    label: str | None = None,
) -> dict[str, str]:
    """The requested columns mapped to their SQL types; raises naming every unknown one."""
    wanted = [check_identifier(column, "column") for column in columns]
    available = table_columns(bind, table)
    missing = [column for column in wanted if column not in available]
    if missing:
        raise ColumnNotFoundError(table, missing, list(available), label=label)
    return {column: available[column] for column in wanted}
