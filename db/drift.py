"""Bucket counts of a window of logged predictions (or a batch job's rows), counted in SQL.

Drift compares these counts with a version's reference profile (inference/profiles.py). The
database does the work in one scan: each logged request's JSON is parsed once (`::jsonb`), each
of its rows gets one bucket per profiled column — the `width_bucket` of a number over the
profile's extended edges, or a category's text — and GROUP BY GROUPING SETS counts every
column's buckets in that same pass. Only counts per bucket leave PostgreSQL. Names and edges
are bound parameters; the SQL text is built from this module's templates and positions only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from db.identifiers import check_columns, check_identifier
from db.tables import batch_predictions, prediction_log
from inference.profiles import extended_edges, profiled_columns

# Traffic roles whose rows a version answered (pinned: a request that named the version);
# shadow outputs were never served.
SERVED_ROLES = ("production", "canary", "pinned")
_NUMBER = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"


class MonitoringUnavailableError(RuntimeError):
    """Drift, feedback and performance are computed by PostgreSQL; embedded SQLite cannot."""


@dataclass(frozen=True)
class Counted:
    """One column to count: where its value is, numeric or categorical, and its edges."""

    name: str  # the feature, or "prediction" / "probability"
    kind: str
    edges: Sequence[float] | None = None  # profiles.extended_edges for numeric columns
    output: bool = False
    probability_class: str | None = None


@dataclass(frozen=True)
class WindowCounts:
    """Bucket counts of a window, and how much of the window they rest on."""

    counts: list[dict[str | None, int]]
    logged_requests: int  # log rows (requests) in the window
    sample_step: int  # 1: every request counted; n: about one request in n


def window_counts(
    connection: Connection,
    *,
    model_name: str,
    version: int,
    since: datetime,
    until: datetime,
    columns: Sequence[Counted],
    max_requests: int = 0,
) -> WindowCounts:
    """Per column, {bucket: rows} over the version's served predictions in [since, until).

    A window of more than `max_requests` logged requests (0: no limit) is sampled: a request
    is counted when its id hashes to 0 modulo `step`, so about `max_requests` of them are,
    spread evenly over the window, the same ones on every call.
    """
    require_postgres(connection)
    where = (
        "model_name = :model AND model_version = :version AND role = ANY(:roles) "
        "AND logged_at >= :since AND logged_at < :until AND inputs IS NOT NULL"
    )
    params = served_window(model_name, version, since, until)
    logged = connection.scalar(
        sa.text(f"SELECT count(*) FROM {prediction_log.name} WHERE {where}"),
        params,
    )
    step = 1 if not max_requests or logged <= max_requests else math.ceil(logged / max_requests)
    if step > 1:
        where += " AND (hashint8(id) & 2147483647) % :step = 0"
        params["step"] = step
    source = (
        f"(SELECT inputs::jsonb AS i, outputs::jsonb AS o, rows FROM {prediction_log.name} "
        f"WHERE {where} OFFSET 0) AS l "  # OFFSET keeps it whole: each JSON is parsed once
        "CROSS JOIN LATERAL generate_series(0, l.rows - 1) AS r(k)"
    )
    buckets = [_log_bucket(column, n, params) for n, column in enumerate(columns)]
    statement = sa.text(_count_query(source, buckets))
    counts = _collect(connection.execute(statement, params), len(columns))
    return WindowCounts(counts, int(logged), step)


def served_window(
    model_name: str, version: int, since: datetime, until: datetime
) -> dict[str, Any]:
    """Bind parameters naming a version's served log rows in [since, until)."""
    return {
        "model": model_name,
        "version": version,
        "roles": list(SERVED_ROLES),
        "since": since,
        "until": until,
    }


def _count_query(source: str, buckets: Sequence[str]) -> str:
    """One scan of `source`, grouped by each bucket expression on its own (grouping sets)."""
    positions = range(len(buckets))
    selected = ", ".join(f"{bucket} AS b{n}" for n, bucket in zip(positions, buckets, strict=True))
    names = ", ".join(f"b{n}" for n in positions)
    flags = ", ".join(f"GROUPING(b{n})" for n in positions)
    sets = ", ".join(f"(b{n})" for n in positions)
    return (
        f"SELECT {names}, {flags}, count(*) FROM (SELECT {selected} FROM {source}) AS x "
        f"GROUP BY GROUPING SETS ({sets})"
    )


def _log_bucket(column: Counted, position: int, params: dict[str, Any]) -> str:
    """The SQL bucket of one column of row `r.k` of a logged request."""
    params[f"name{position}"] = column.name
    if column.probability_class is not None:
        params[f"class{position}"] = column.probability_class
        value = f"(l.o -> 'probabilities' -> :class{position} -> r.k)"
    elif column.output:
        value = "(l.o -> 'predictions' -> r.k)"
    else:
        value = f"(l.i -> :name{position} -> r.k)"
    text = f"({value} #>> '{{}}')"
    params["number_pattern"] = _NUMBER
    number = (
        f"CASE jsonb_typeof({value}) WHEN 'number' THEN {value}::float8 "
        f"WHEN 'string' THEN CASE WHEN {text} ~ :number_pattern THEN {text}::float8 END END"
    )
    return _bucket(column, position, params, text=text, number=number)


def _bucket(
    column: Counted, position: int, params: dict[str, Any], *, text: str, number: str
) -> str:
    """A categorical column's value as text, or a numeric one's bin over its edges."""
    if column.kind == "categorical":
        return text
    params[f"edges{position}"] = list(column.edges or [])
    return f"width_bucket({number}, CAST(:edges{position} AS float8[]))::text"


def job_counts(
    connection: Connection,
    *,
    job_id: str,
    table: str,
    id_column: str,
    classes: Sequence[str] | None,
    columns: Sequence[Counted],
) -> list[dict[str | None, int]]:
    """Per column, {bucket: rows} over the source rows a batch job has predicted."""
    require_postgres(connection)
    check_identifier(table)
    features = [c.name for c in columns if not c.output]
    check_columns(connection, table, [id_column, *features])
    quote = connection.dialect.identifier_preparer.quote
    params: dict[str, Any] = {"job_id": job_id}
    buckets = []
    for position, column in enumerate(columns):
        if column.probability_class is not None:
            index = list(classes or []).index(column.probability_class) + 1
            value = f"p.probabilities[{index}]"
        elif column.output:
            value = "p.prediction"
        else:
            value = f"f.{quote(column.name)}"
        text, number = f"CAST({value} AS text)", f"CAST({value} AS float8)"
        buckets.append(_bucket(column, position, params, text=text, number=number))
    source = (
        f"{quote(table)} AS f JOIN {batch_predictions.name} AS p "
        f"ON p.job_id = :job_id AND p.entity_id = f.{quote(id_column)}"
    )
    query = sa.text(_count_query(source, buckets))
    return _collect(connection.execute(query, params), len(columns))


def _collect(result: sa.CursorResult, n_columns: int) -> list[dict[str | None, int]]:
    """{bucket: rows} per column from _count_query's rows (GROUPING() is 0 for the set's own)."""
    counts: list[dict[str | None, int]] = [{} for _ in range(n_columns)]
    for row in result:
        position = list(row[n_columns : 2 * n_columns]).index(0)
        counts[position][row[position]] = int(row[-1])
    return counts


def require_postgres(connection: Connection) -> None:
    """Raise MonitoringUnavailableError unless `connection` is to PostgreSQL."""
    if connection.dialect.name != "postgresql":
        raise MonitoringUnavailableError(
            "drift, feedback and performance are computed by PostgreSQL, which the embedded "
            "SQLite database is not: set DATABASE_URL to a PostgreSQL server"
        )


def counted_columns(profile: Mapping[str, Any]) -> list[Counted]:
    """What to count for each column of a reference profile, in profiled_columns order."""
    columns = []
    for group, name, column in profiled_columns(profile):
        numeric = column["kind"] == "numeric"
        columns.append(
            Counted(
                name=name,
                kind=column["kind"],
                edges=extended_edges(column) if numeric else None,
                output=group == "output",
                probability_class=column.get("class"),
            )
        )
    return columns
