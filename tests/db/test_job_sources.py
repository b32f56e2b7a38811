"""Job sources: parsing and catalog checks, table-driven (planning: test_chunk_plans.py)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from db.identifiers import ColumnNotFoundError, InvalidIdentifierError, TableNotFoundError
from db.job_sources import Source, SourceError, UnknownIdsError, parse_source
from db.job_submission import JobRequest, create_batch_job

ODD_TABLES = """
CREATE TABLE jobs_text_ids AS SELECT id::text AS id, age, workclass, fnlwgt, education,
    education_num, marital_status, occupation, relationship, race, sex, capital_gain,
    capital_loss, hours_per_week, native_country FROM adult_features WHERE id <= 10;
CREATE TABLE jobs_dup_ids AS SELECT * FROM adult_features WHERE id <= 10
    UNION ALL SELECT * FROM adult_features WHERE id = 3;
CREATE TABLE jobs_no_pk AS SELECT * FROM adult_features WHERE id <= 10;
CREATE TABLE jobs_missing_age AS SELECT * FROM adult_features WHERE id <= 10;
ALTER TABLE jobs_missing_age DROP COLUMN age;
CREATE TABLE jobs_empty AS SELECT * FROM adult_features WHERE false;
"""


@pytest.fixture
def session(pg_connection: sa.Connection, adult_model, demo_tables) -> Session:
    """A rolled-back session with a few odd feature tables."""
    pg_connection.exec_driver_sql(ODD_TABLES)
    with Session(bind=pg_connection, join_transaction_mode="create_savepoint") as session:
        yield session


def create(session: Session, source=None, **fields):
    request = JobRequest("adult", source=source, **fields)
    return create_batch_job(session, request, default_chunk_rows=1_000)


@pytest.mark.parametrize(
    ("source", "error", "fragment"),
    [
        ("adult_features", SourceError, "must be an object"),
        ({"table": "no_such_table"}, TableNotFoundError, "does not exist"),
        ({"table": "adult_features; DROP TABLE x"}, InvalidIdentifierError, "invalid table name"),
        ({"table": "jobs_missing_age"}, ColumnNotFoundError, "'age'"),
        ({"table": "adult_features", "id_column": "nope"}, ColumnNotFoundError, "'nope'"),
        ({"table": "jobs_text_ids"}, SourceError, "need integer ids"),
        ({"table": "jobs_dup_ids"}, SourceError, "id 3 appears more than once"),
        ({"table": "jobs_empty"}, SourceError, "no rows to predict"),
        ({"table": "batch_jobs"}, SourceError, "skserve's own tables"),
        ({"ids": []}, SourceError, "non-empty list"),
        ({"ids": [1, "2", True]}, SourceError, "must be integers"),
        ({"ids": [1, 2, 10_000_000]}, UnknownIdsError, "1 of 3 ids are not in"),
        ({"id_range": [5, 1]}, SourceError, "is empty"),
        ({"id_range": [1]}, SourceError, "two integers"),
        ({"id_range": [10_000_000, 10_000_100]}, SourceError, "no rows to predict"),
        ({"ids": [1], "id_range": [1, 2]}, SourceError, "not both"),
        ({"table": "adult_features", "where": "1=1"}, SourceError, "unknown source field"),
    ],
)
def test_bad_sources_are_refused_before_anything_is_written(session, source, error, fragment):
    count = sa.text("SELECT count(*) FROM batch_jobs")
    before = session.scalar(count)
    with pytest.raises(error) as raised:
        create(session, source)
    assert fragment in str(raised.value)
    assert session.scalar(count) == before


@pytest.mark.parametrize("chunk_rows", [0, -1, "10", 2.5, 10_000_000])
def test_bad_chunk_sizes_are_refused(session, chunk_rows):
    with pytest.raises(SourceError, match="chunk_rows"):
        create(session, {"table": "adult_features"}, chunk_rows=chunk_rows)


def test_unknown_ids_are_listed(session):
    with pytest.raises(UnknownIdsError) as raised:
        create(session, {"ids": [1, 99_999_999, 99_999_998]})
    assert raised.value.details == {"not_found": [99_999_998, 99_999_999], "not_found_count": 2}


def test_the_model_feature_table_is_the_default_source(session):
    job = create(session)
    assert job.source == {"table": "adult_features", "id_column": "id"}
    assert (job.rows_total, job.chunks_total) == (32_561, 33)


def test_a_table_without_a_primary_key_but_unique_ids_is_accepted(session):
    job = create(session, {"table": "jobs_no_pk"}, chunk_rows=4)
    assert (job.rows_total, job.chunks_total) == (10, 3)


def test_the_version_is_pinned_at_submit(session, adult_model):
    job = create(session, {"ids": [1]})
    assert (job.model_name, job.model_version) == ("adult", adult_model.version)
    assert job.classes == ["<=50K", ">50K"]


def test_parse_source_keeps_ids_sorted_and_unique():
    source = parse_source({"ids": [5, 1, 5, 3]}, default_table="t")
    assert source == Source("t", "id", ids=(1, 3, 5))
    assert Source.from_dict(source.to_dict()) == source
    assert source.summary() == {"kind": "ids", "table": "t", "id_column": "id", "ids": 3}
    assert source.chunk_ids(2, 5) == [3, 5]
