"""Planning a batch job's rows into chunks by id range, so a chunk reads its rows with one
indexed COPY."""

from __future__ import annotations

import operator
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from db.job_sources import Source, SourceError


@dataclass(frozen=True)
class ChunkPlan:
    """One planned chunk: the inclusive id range it reads and how many rows that is."""

    index: int
    first_id: int
    last_id: int
    rows: int


def plan_chunks(connection: Connection, source: Source, chunk_rows: int) -> list[ChunkPlan]:
    """Split the source's rows into chunks of `chunk_rows` ids; SourceError when it is empty."""
    if source.ids is not None:
        parts = [source.ids[i : i + chunk_rows] for i in range(0, len(source.ids), chunk_rows)]
        return [ChunkPlan(n, part[0], part[-1], len(part)) for n, part in enumerate(parts)]
    key = sa.column(source.id_column)
    conditions = [key.is_not(None)]
    if source.id_range is not None:
        conditions.append(key.between(*source.id_range))
    table = sa.table(source.table, key)
    total, last = connection.execute(
        sa.select(sa.func.count(key), sa.func.max(key)).select_from(table).where(*conditions)
    ).one()
    if not total:
        where = f" with ids in {list(source.id_range)}" if source.id_range else ""
        raise SourceError(f"no rows to predict: {source.label} has no rows{where}")
    starts = _chunk_starts(connection, table, key, conditions, chunk_rows)
    ends = [start - 1 for start in starts[1:]] + [last]
    sizes = [chunk_rows] * (len(starts) - 1) + [total - chunk_rows * (len(starts) - 1)]
    return [
        ChunkPlan(n, first, end, rows)
        for n, (first, end, rows) in enumerate(zip(starts, ends, sizes, strict=True))
    ]


def _chunk_starts(
    connection: Connection,
    table: sa.TableClause,
    key: sa.ColumnClause,
    conditions: list[sa.ColumnElement[bool]],
    chunk_rows: int,
) -> list[int]:
    """Every chunk_rows-th id in id order: the first id of each chunk."""
    numbered = (
        sa.select(key.label("id"), sa.func.row_number().over(order_by=key).label("n"))
        .select_from(table)
        .where(*conditions)
        .subquery()
    )
    query = (
        sa.select(numbered.c.id).where((numbered.c.n - 1) % chunk_rows == 0).order_by(numbered.c.id)
    )
    return [operator.index(value) for value in connection.scalars(query)]
