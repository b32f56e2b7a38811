"""Chunk planning: contiguous id ranges of chunk_rows rows, whatever the gaps between ids."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from db.chunk_plans import plan_chunks
from db.job_sources import Source

DUPLICATED_IDS = """
CREATE TABLE jobs_dup_ids AS SELECT * FROM adult_features WHERE id <= 10
    UNION ALL SELECT * FROM adult_features WHERE id = 3
"""


@pytest.fixture
def session(pg_connection: sa.Connection, demo_tables) -> Session:
    """A rolled-back session with a feature table whose id 3 appears twice."""
    pg_connection.exec_driver_sql(DUPLICATED_IDS)
    with Session(bind=pg_connection, join_transaction_mode="create_savepoint") as session:
        yield session


@pytest.mark.parametrize(
    ("source", "chunk_rows", "expected"),
    [
        # (first id, last id, rows) per chunk; the last chunk ends at the last id.
        (Source("adult_features", id_range=(1, 10)), 4, [(1, 4, 4), (5, 8, 4), (9, 10, 2)]),
        (Source("adult_features", id_range=(1, 10)), 10, [(1, 10, 10)]),
        (Source("adult_features", id_range=(1, 10)), 50, [(1, 10, 10)]),
        (Source("adult_features", ids=(2, 3, 7, 9, 20)), 2, [(2, 3, 2), (7, 9, 2), (20, 20, 1)]),
        (Source("jobs_dup_ids", id_range=(8, 100)), 2, [(8, 9, 2), (10, 10, 1)]),
    ],
)
def test_chunks_are_contiguous_id_ranges(session, source, chunk_rows, expected):
    chunks = plan_chunks(session.connection(), source, chunk_rows)
    assert [(c.first_id, c.last_id, c.rows) for c in chunks] == expected
    assert [c.index for c in chunks] == list(range(len(expected)))


def test_a_gappy_table_is_planned_by_rows_not_by_id_span(session):
    session.execute(
        sa.text("CREATE TABLE jobs_gappy AS SELECT * FROM adult_features WHERE id % 7 = 0")
    )
    chunks = plan_chunks(session.connection(), Source("jobs_gappy"), 1_000)
    assert sum(c.rows for c in chunks) == 32_561 // 7
    assert all(c.rows == 1_000 for c in chunks[:-1])
    assert [c.first_id for c in chunks[1:]] == [c.last_id + 1 for c in chunks[:-1]]
