"""The prediction log against real PostgreSQL and SQLite: format, valid text, byte bounds."""

from __future__ import annotations

import json
import uuid

import numpy as np
import pytest
import sqlalchemy as sa

from db.log_encoding import MAX_TEXT_CHARS, encode_columns
from db.prediction_log import PredictionLogger
from db.tables import prediction_log

DEAD_DATABASE = "postgresql+psycopg2://postgres@127.0.0.1:1/none"


def log_fields(request_id: str | None = None, **changes):
    fields = dict(
        model_name="m",
        model_version=1,
        request_id=request_id,
        rows=2,
        latency_ms=1.0,
        inputs={"age": np.array([39.0, np.nan]), "workclass": np.array(["Private", None], object)},
        outputs={
            "predictions": np.array(["<=50K", ">50K"], object),
            "probabilities": {"<=50K": np.array([0.75, 0.25]), ">50K": np.array([0.25, 0.75])},
        },
    )
    return {**fields, **changes}


def written(logger: PredictionLogger, engine, request_id: str) -> dict:
    logger.drain()
    with engine.begin() as conn:
        row = conn.execute(
            sa.select(prediction_log).where(prediction_log.c.request_id == request_id)
        ).one()
        conn.execute(prediction_log.delete().where(prediction_log.c.request_id == request_id))
    return row._asdict()


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_entries_are_stored_column_by_column(backend, pg_url, pg_engine, sqlite_url):
    url, engine = (pg_url, pg_engine) if backend == "postgresql" else (sqlite_url, None)
    engine = engine or sa.create_engine(sqlite_url)
    logger = PredictionLogger(url, flush_seconds=60)
    request_id = uuid.uuid4().hex
    assert logger.log(**log_fields(request_id))
    row = written(logger, engine, request_id)
    logger.stop()
    assert (row["model_name"], row["model_version"], row["rows"]) == ("m", 1, 2)
    assert row["inputs"] == {"age": [39.0, None], "workclass": ["Private", None]}
    assert row["outputs"] == {
        "predictions": ["<=50K", ">50K"],
        "probabilities": {"<=50K": [0.75, 0.25], ">50K": [0.25, 0.75]},
    }


def test_the_documented_query_reads_features_and_row_indexes(pg_url, pg_engine):
    logger = PredictionLogger(pg_url, flush_seconds=60)
    request_id = uuid.uuid4().hex
    logger.log(**log_fields(request_id))
    logger.drain()
    query = sa.text(
        "SELECT v.value::float AS age, v.idx - 1 AS row_index, p.value::float AS p "
        "FROM prediction_log AS l, "
        "json_array_elements_text(l.inputs::json -> 'age') WITH ORDINALITY AS v(value, idx), "
        "json_array_elements_text(l.outputs::json -> 'probabilities' -> '>50K') "
        "WITH ORDINALITY AS p(value, idx) "
        "WHERE l.request_id = :rid AND p.idx = v.idx ORDER BY row_index"
    )
    with pg_engine.begin() as conn:
        rows = conn.execute(query, {"rid": request_id}).all()
        conn.execute(prediction_log.delete().where(prediction_log.c.request_id == request_id))
    logger.stop()
    assert [tuple(r) for r in rows] == [(39.0, 0, 0.25), (None, 1, 0.75)]


POISON = ["a\x00b", "lone \ud800 surrogate", "\udfff", "x" * 100_000]


def test_poisoned_text_is_stored_as_valid_text_and_json_queries_still_work(pg_url, pg_engine):
    logger = PredictionLogger(pg_url, flush_seconds=60)
    request_id = uuid.uuid4().hex
    inputs = {"workclass\x00": np.array(POISON, dtype=object), "big": [10**400, 2**70, 1, 2]}
    assert logger.log(**log_fields(request_id, rows=4, inputs=inputs))
    logger.drain()
    query = sa.text(
        "SELECT json_array_elements_text(inputs::json -> 'workclass') FROM prediction_log "
        "WHERE request_id = :rid"
    )
    with pg_engine.begin() as conn:
        texts = conn.execute(query, {"rid": request_id}).scalars().all()
        everything = conn.execute(
            sa.text("SELECT count(*) FROM prediction_log, json_each_text(inputs::json)")
        ).scalar()
        conn.execute(prediction_log.delete().where(prediction_log.c.request_id == request_id))
    logger.stop()
    assert texts[:3] == ["ab", "lone ? surrogate", "?"]
    assert texts[3] == "x" * MAX_TEXT_CHARS + "…"
    assert everything >= 2


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        ({"age": [39, None], "w": ["Private", "x"]}, {"age": [39, None], "w": ["Private", "x"]}),
        ({"h": np.array([1.5, np.nan]), "n": np.int64(3)}, {"h": [1.5, None], "n": 3}),
        ({"p": [float("inf")], "q": np.array([-np.inf])}, {"p": [None], "q": [None]}),
        ({"o": np.array([1, "a", np.nan], object)}, {"o": [1, "a", None]}),
        ({"big": [10**30]}, {"big": [1e30]}),
    ],
)
def test_encoding_has_no_numpy_nan_or_oversized_integers(columns, expected):
    assert json.loads(encode_columns(columns, 4)) == expected


def test_the_buffer_is_bounded_in_bytes_while_the_database_hangs():
    logger = PredictionLogger(DEAD_DATABASE, max_bytes=2 * 2**20, flush_seconds=600)
    huge = np.array(["c" * 2**20], dtype=object)  # a 1 MB category, cut to 256 characters
    accepted = [
        logger.log(**log_fields(rows=1, inputs={"workclass": huge, "age": [1.0]}))
        for _ in range(300)
    ]
    assert all(accepted)
    assert logger.pending_bytes < 300 * 1_000
    logger.stop()  # drains: the write fails, is counted, and nothing raises
    assert (logger.dropped, logger.written) == (300, 0)


def test_entries_beyond_the_byte_bound_are_dropped_and_counted():
    logger = PredictionLogger(DEAD_DATABASE, max_bytes=64 * 1024, flush_seconds=600)
    inputs = {"age": np.arange(2_000, dtype=np.float64)}
    accepted = [logger.log(**log_fields(rows=2_000, inputs=inputs)) for _ in range(20)]
    assert accepted[0] and not accepted[-1]
    assert logger.pending_bytes <= 64 * 1024
    logger.stop()
    assert logger.dropped == 20 and logger.failed_batches >= 1


def test_inputs_too_large_to_keep_are_left_out_but_outputs_kept(pg_url, pg_engine):
    logger = PredictionLogger(pg_url, max_entry_bytes=1_000, flush_seconds=60)
    request_id = uuid.uuid4().hex
    inputs = {"age": np.arange(1_000, dtype=np.float64)}
    assert logger.log(**log_fields(request_id, inputs=inputs))
    row = written(logger, pg_engine, request_id)
    logger.stop()
    assert row["inputs"] is None and row["outputs"]["predictions"] == ["<=50K", ">50K"]
    assert logger.inputs_left_out == 1


def test_sampling_zero_logs_nothing(pg_url):
    logger = PredictionLogger(pg_url, sample=0.0)
    assert not logger.log(**log_fields())
    logger.stop()


def test_the_log_commits_asynchronously_and_bounds_each_statement(pg_url):
    logger = PredictionLogger(pg_url)
    with logger._engine.connect() as conn:
        settings = conn.execute(
            sa.text(
                "SELECT current_setting('synchronous_commit'), current_setting('statement_timeout')"
            )
        ).one()
    logger.stop()
    assert tuple(settings) == ("off", "30s")


def test_one_write_takes_at_most_batch_bytes_of_entries(pg_url, pg_engine):
    logger = PredictionLogger(pg_url, batch_bytes=1, flush_seconds=60)
    request_ids = [uuid.uuid4().hex for _ in range(3)]
    for request_id in request_ids:
        logger.log(**log_fields(request_id))
    assert logger.flush() == 1  # an entry larger than the bound still goes, alone
    logger.drain()
    with pg_engine.begin() as conn:
        stored = conn.execute(
            sa.select(sa.func.count()).where(prediction_log.c.request_id.in_(request_ids))
        ).scalar()
        conn.execute(prediction_log.delete().where(prediction_log.c.request_id.in_(request_ids)))
    logger.stop()
    assert (stored, logger.written) == (3, 3)


def test_the_json_columns_are_lz4_compressed_text(pg_engine):
    # Text, so PostgreSQL does not re-check JSON the writer made valid (migration 0005).
    with pg_engine.connect() as conn:
        columns = conn.execute(
            sa.text(
                "SELECT attname, format_type(atttypid, atttypmod), attcompression "
                "FROM pg_attribute WHERE attrelid = 'prediction_log'::regclass "
                "AND attname IN ('inputs', 'outputs') ORDER BY attname"
            )
        ).all()
        has_lz4 = conn.scalar(
            sa.text(
                "SELECT 'lz4' = ANY(enumvals) FROM pg_settings "
                "WHERE name = 'default_toast_compression'"
            )
        )
    codec = "l" if has_lz4 else ""
    assert [tuple(c) for c in columns] == [("inputs", "text", codec), ("outputs", "text", codec)]
