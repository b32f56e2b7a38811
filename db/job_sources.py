"""What a batch job reads: a feature table, listed ids, an id range, or an uploaded CSV.

Names are checked against the catalog and values are bound parameters; no SQL from a client
reaches the database. db.chunk_plans splits a checked source into chunks.
"""

from __future__ import annotations

import bisect
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from db.csv_loader import load_csv_into, open_transaction
from db.identifiers import check_columns, check_identifier
from db.tables import metadata as skserve_metadata

UPLOAD_PREFIX = "batch_upload_"
MAX_LISTED = 20
_INTEGER_TYPE = re.compile(r"(SMALL|BIG)?INT(EGER)?|INT[248]|(BIG|SMALL)?SERIAL")
_ID_BATCH = 10_000


class SourceError(ValueError):
    """A job source that cannot be used; `details` says what is wrong."""

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.details = details or {}


class UnknownIdsError(SourceError):
    """Some requested ids are not in the feature table."""


@dataclass(frozen=True)
class Source:
    """Where a job's rows come from; stored as JSON in batch_jobs.source."""

    table: str
    id_column: str = "id"
    ids: tuple[int, ...] | None = None  # sorted, without duplicates
    id_range: tuple[int, int] | None = None  # inclusive
    upload: dict[str, Any] | None = None  # {"filename", "rows"} of a staged CSV upload

    @property
    def kind(self) -> str:
        """ "ids", "id_range", "upload" or "table"."""
        if self.ids is not None:
            return "ids"
        if self.id_range is not None:
            return "id_range"
        return "upload" if self.upload is not None else "table"

    @property
    def label(self) -> str:
        """How messages name the rows: the client's file for an upload, else the table."""
        if self.upload is not None:
            return f"the uploaded CSV {self.upload['filename']!r}"
        return f"table {self.table!r}"

    def to_dict(self) -> dict[str, Any]:
        """The JSON stored with the job."""
        data: dict[str, Any] = {"table": self.table, "id_column": self.id_column}
        if self.ids is not None:
            data["ids"] = list(self.ids)
        if self.id_range is not None:
            data["id_range"] = list(self.id_range)
        if self.upload is not None:
            data["upload"] = dict(self.upload)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Source:
        """Inverse of to_dict."""
        ids, id_range = data.get("ids"), data.get("id_range")
        return cls(
            table=data["table"],
            id_column=data.get("id_column", "id"),
            ids=tuple(ids) if ids is not None else None,
            id_range=(id_range[0], id_range[1]) if id_range is not None else None,
            upload=data.get("upload"),
        )

    def summary(self) -> dict[str, Any]:
        """The source for status responses: an id count instead of the id list."""
        data = self.to_dict()
        if self.ids is not None:
            data["ids"] = len(self.ids)
        return {"kind": self.kind, **data}

    def chunk_ids(self, first_id: int, last_id: int) -> list[int] | None:
        """The listed ids inside one chunk's range (None unless the source lists ids)."""
        if self.ids is None:
            return None
        start = bisect.bisect_left(self.ids, first_id)
        stop = bisect.bisect_right(self.ids, last_id)
        return list(self.ids[start:stop])


def parse_source(data: Any, *, default_table: str | None, default_id_column: str = "id") -> Source:
    """A Source from a request body's "source" object; raises SourceError naming the problem."""
    if not isinstance(data, Mapping):
        raise SourceError(
            'source must be an object such as {"table": "adult_features"}, {"ids": [1, 2]} '
            'or {"id_range": [1, 1000]}'
        )
    unknown = sorted(set(data) - {"table", "id_column", "ids", "id_range"})
    if unknown:
        raise SourceError(f"unknown source field(s): {', '.join(unknown)}", {"unknown": unknown})
    if "ids" in data and "id_range" in data:
        raise SourceError("give either ids or id_range, not both")
    table = data.get("table", default_table)
    if table is None:
        raise SourceError("source names no table and the model has no feature table")
    table = check_identifier(_text(table, "table"))
    id_column = check_identifier(_text(data.get("id_column", default_id_column), "id_column"))
    if "ids" in data:
        return Source(table, id_column, ids=_parse_ids(data["ids"]))
    if "id_range" in data:
        return Source(table, id_column, id_range=_parse_range(data["id_range"]))
    return Source(table, id_column)


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise SourceError(f"{name} must be a string, got {value!r}")
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63


def _parse_ids(values: Any) -> tuple[int, ...]:
    if not isinstance(values, list) or not values:
        raise SourceError("ids must be a non-empty list of integers")
    bad = [value for value in values if not _is_int(value)]
    if bad:
        raise SourceError("ids must be integers", {"invalid_ids": bad[:MAX_LISTED]})
    return tuple(sorted(set(values)))


def _parse_range(values: Any) -> tuple[int, int]:
    if not (isinstance(values, list) and len(values) == 2 and all(map(_is_int, values))):
        raise SourceError("id_range must be two integers [first, last] (inclusive)")
    if values[0] > values[1]:
        raise SourceError(f"id_range {values} is empty: first must be <= last")
    return values[0], values[1]


def check_source(connection: Connection, source: Source, features: Sequence[str]) -> None:
    """Check the table, its columns and the ids against the catalog before a job is created.

    Raises db.identifiers' TableNotFoundError, ColumnNotFoundError or InvalidIdentifierError,
    or SourceError.
    """
    if source.table in skserve_metadata.tables or source.table == "alembic_version":
        raise SourceError(f"{source.table!r} is one of skserve's own tables, not feature rows")
    label = source.label if source.upload is not None else None
    types = check_columns(connection, source.table, [source.id_column, *features], label=label)
    if not _INTEGER_TYPE.fullmatch(types[source.id_column].upper()):
        raise SourceError(
            f"id column {source.id_column!r} of {source.label} is {types[source.id_column]}; "
            "batch jobs need integer ids",
            {"id_column": source.id_column},
        )
    if not _unique_index(connection, source.table, source.id_column):
        _check_no_duplicates(connection, source)
    if source.ids is not None:
        _check_known_ids(connection, source)


def _unique_index(connection: Connection, table: str, column: str) -> bool:
    inspector = sa.inspect(connection)
    if inspector.get_pk_constraint(table).get("constrained_columns") == [column]:
        return True
    if any(u["column_names"] == [column] for u in inspector.get_unique_constraints(table)):
        return True
    return any(i["unique"] and i["column_names"] == [column] for i in inspector.get_indexes(table))


def _check_no_duplicates(connection: Connection, source: Source) -> None:
    key = sa.column(source.id_column)
    query = (
        sa.select(key)
        .select_from(sa.table(source.table))
        .where(key.is_not(None))
        .group_by(key)
        .having(sa.func.count() > 1)
        .limit(1)
    )
    duplicate = connection.scalar(query)
    if duplicate is not None:
        raise SourceError(
            f"id column {source.id_column!r} of {source.label} is not unique "
            f"(id {duplicate} appears more than once)",
            {"duplicate_id": duplicate},
        )


def _check_known_ids(connection: Connection, source: Source) -> None:
    key = sa.column(source.id_column)
    found: set[int] = set()
    ids = list(source.ids or ())
    for start in range(0, len(ids), _ID_BATCH):
        batch = ids[start : start + _ID_BATCH]
        query = sa.select(key).select_from(sa.table(source.table)).where(key.in_(batch))
        found.update(connection.scalars(query))
    missing = [value for value in ids if value not in found]
    if missing:
        raise UnknownIdsError(
            f"{len(missing)} of {len(ids)} ids are not in {source.label}",
            {"not_found": missing[:MAX_LISTED], "not_found_count": len(missing)},
        )


def stage_csv(connection: Connection, path: str | Path, *, id_column: str, filename: str) -> Source:
    """Load an uploaded CSV into a new table (COPY on PostgreSQL) and return it as a Source.

    The CSV's `id_column` is used when present, otherwise rows are numbered 1..N in file
    order. The table is created inside the caller's transaction (on SQLite too), so a job
    refused later leaves no table behind. Raises db.csv_files.CsvLoadError naming the
    offending line.
    """
    table = f"{UPLOAD_PREFIX}{uuid.uuid4().hex}"
    open_transaction(connection)
    rows = load_csv_into(connection, path, table, id_column=id_column)
    return Source(table, id_column, upload={"filename": filename, "rows": rows})


def drop_staged(connection: Connection, source: Source, *, lock_timeout_ms: int = 10_000) -> None:
    """Drop the table an uploaded CSV was staged into (nothing for other sources).

    A chunk still reading the table delays the drop; after `lock_timeout_ms` it gives up.
    """
    if source.upload is None or not source.table.startswith(UPLOAD_PREFIX):
        return
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text(f"SET LOCAL lock_timeout = {int(lock_timeout_ms)}"))
    quoted = connection.dialect.identifier_preparer.quote(check_identifier(source.table))
    connection.execute(sa.text(f"DROP TABLE IF EXISTS {quoted}"))
