"""Time a batch job's results streamed as CSV, against PostgreSQL's own COPY of the same rows.

    .venv/bin/python bench/results_csv.py [--rows 2000000] [--runs 3]

Fills `batch_predictions` of the bench database (BENCH_DATABASE_URL, created and migrated when
missing) with `--rows` results of one synthetic job (two classes), then alternates, run after
run: `db.job_results.stream_results_csv` (what GET /jobs/<id>/results?format=csv sends, in
batches from where the last one stopped, the next read while the current batch is consumed)
and one `COPY (SELECT ...) TO STDOUT WITH (FORMAT csv)` of the whole job, the least any CSV
export of those rows costs. Prints rows/s, medians and the ratio; the job's rows are deleted
at the end. Issue 12's target: >= 1,000,000 rows/s.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.harness import parse_bench_args  # noqa: E402
from db.engine import create_database, make_engine  # noqa: E402
from db.job_results import stream_results_csv  # noqa: E402
from db.migrate import upgrade  # noqa: E402

CLASSES = ["<=50K", ">50K"]


def fill(engine: sa.Engine, job_id: str, rows: int) -> None:
    """`rows` results of one job, written by the database itself."""
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO batch_predictions (job_id, entity_id, prediction, probabilities) "
                "SELECT :job, g, CASE WHEN g % 3 = 0 THEN '>50K' ELSE '<=50K' END, "
                "ARRAY[random(), random()] FROM generate_series(1, :rows) AS g"
            ),
            {"job": job_id, "rows": rows},
        )
        connection.execute(sa.text("ANALYZE batch_predictions"))


def streamed(engine: sa.Engine, job_id: str) -> float:
    """Rows per second of stream_results_csv, its bytes consumed as they come."""
    started = time.perf_counter()
    lines = sum(
        chunk.count(b"\n") for chunk in stream_results_csv(engine, job_id=job_id, classes=CLASSES)
    )
    return (lines - 1) / (time.perf_counter() - started)


def copied(engine: sa.Engine, job_id: str) -> float:
    """Rows per second of one COPY of the whole job into memory."""
    started = time.perf_counter()
    with engine.connect() as connection:
        raw = connection.connection.dbapi_connection
        with raw.cursor() as cursor:
            select = cursor.mogrify(
                "SELECT entity_id, prediction, probabilities[1], probabilities[2] "
                "FROM batch_predictions WHERE job_id = %s ORDER BY entity_id",
                (job_id,),
            )
            buffer = io.BytesIO()
            cursor.copy_expert(b"COPY (" + select + b") TO STDOUT WITH (FORMAT csv)", buffer)
            rows = cursor.rowcount
    return rows / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000, help="result rows [2,000,000]")
    parser.add_argument("--runs", type=int, default=3, help="alternating runs [3]")
    args = parse_bench_args(parser)
    create_database(args.database_url)
    upgrade(args.database_url)
    engine = make_engine(args.database_url)
    job_id = str(uuid.uuid4())
    print(f"writing {args.rows:,} results of job {job_id} ...", flush=True)
    fill(engine, job_id, args.rows)
    stream_rates, copy_rates = [], []
    try:
        for run in range(1, args.runs + 1):
            stream_rates.append(streamed(engine, job_id))
            copy_rates.append(copied(engine, job_id))
            print(
                f"run {run}/{args.runs}: stream {stream_rates[-1]:,.0f} rows/s, "
                f"COPY {copy_rates[-1]:,.0f} rows/s",
                flush=True,
            )
    finally:
        with engine.begin() as connection:
            connection.execute(
                sa.text("DELETE FROM batch_predictions WHERE job_id = :job"), {"job": job_id}
            )
        engine.dispose()
    stream, copy = statistics.median(stream_rates), statistics.median(copy_rates)
    print(f"median: stream {stream:,.0f} rows/s, COPY {copy:,.0f} rows/s ({stream / copy:.2f}x)")
    print(f"target >= 1,000,000 rows/s: {'met' if stream >= 1_000_000 else 'missed'}")


if __name__ == "__main__":
    main()
