"""Time one batch job over 1,000,000 Adult-shaped rows on 2 real workers, against in-process.

    .venv/bin/python bench/batch.py [--rows 1000000] [--workers 2] [--runs 3]
        [--database-url postgresql+psycopg2://postgres@127.0.0.1:5432/skserve_bench_batch]
        [--redis-url redis://127.0.0.1:6379/12]

The database is created, migrated and given the demo data and a trained Adult model when it has
none; the feature table `bench_features` (ids 1..N, rows of adult_features repeated) is made
once. The Redis index is flushed. Each run starts nothing new: the `skserve worker` processes
are started once and preloaded, then one job is submitted and timed from its first chunk
starting to its last chunk finishing (the job's own started_at/finished_at). The baseline does
the same work without jobs: N/2 rows per process, read with COPY, predict_frame, written with
the same binary COPY, in 2 processes started beforehand. The first run checks that exactly N
result rows exist, one per id, and that a sample equals `pipeline.predict` in this process, and
then streams that job's results as CSV from a `skserve api` (GET /jobs/<id>/results?format=csv)
to time it. While jobs run, every worker process (RQ's work horses included) has its RSS sampled
every 0.2 s. Issue 12's targets: the job within 1.15x the in-process time, every worker under
600 MB, the CSV at >= 1,000,000 rows/s.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from db.engine import create_database, make_engine, make_session_factory  # noqa: E402

DEFAULT_DATABASE_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/skserve_bench_batch"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/12"
TABLE = "bench_features"
MODEL = "adult"
SAMPLE = 20_000
JOB_RATIO, WORKER_RSS_MB, CSV_ROWS_PER_S = 1.15, 600, 1_000_000  # issue 12's targets
FEATURES = (
    "age, workclass, fnlwgt, education, education_num, marital_status, occupation, "
    "relationship, race, sex, capital_gain, capital_loss, hours_per_week, native_country"
)


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--check-all",
        action="store_true",
        help=f"compare every result row with pipeline.predict (default: {SAMPLE:,} sampled)",
    )
    parser.add_argument("--chunk-rows", type=int, default=None, help="[BATCH_CHUNK_ROWS]")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    return parser.parse_args()


def prepare_database(url: str, rows: int) -> sa.Engine:
    """Migrated database with the demo data, a production Adult model and the bench table."""
    import contextlib

    from settings import load_settings
    from skserve.cli.bootstrap import bootstrap, load_training_spec

    create_database(url)
    with contextlib.redirect_stdout(sys.stderr):
        bootstrap(
            load_settings({"DATABASE_URL": url}), load_training_spec(ROOT / "specs" / "adult.toml")
        )
    engine = make_engine(url)
    ensure_table(engine, rows)
    return engine


def ensure_table(engine: sa.Engine, rows: int) -> None:
    """`bench_features`: ids 1..rows in physical id order, adult_features rows repeated."""
    with engine.connect() as connection:
        if sa.inspect(connection).has_table(TABLE):
            count = connection.scalar(sa.text(f"SELECT count(*) FROM {TABLE}"))
            if count == rows:
                return
    print(f"generating {rows:,} rows into {TABLE} (once)...", file=sys.stderr)
    with engine.begin() as connection:
        connection.exec_driver_sql(f"DROP TABLE IF EXISTS {TABLE}")
        connection.execute(
            sa.text(
                f"CREATE TABLE {TABLE} AS SELECT g.n AS id, {FEATURES} "
                "FROM generate_series(1, :rows) AS g(n) "
                "JOIN adult_features f ON f.id = (g.n - 1) % 32561 + 1 ORDER BY g.n"
            ),
            {"rows": rows},
        )
        connection.exec_driver_sql(f"ALTER TABLE {TABLE} ADD PRIMARY KEY (id)")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql(f"VACUUM ANALYZE {TABLE}")


def start_workers(count: int, database_url: str, redis_url: str) -> list[subprocess.Popen]:
    """`skserve worker` processes; returns once each has preloaded and registered with RQ."""
    from redis import Redis
    from rq import Worker

    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url}
    env["LOG_LEVEL"] = "WARNING"
    skserve = str(Path(sys.executable).with_name("skserve"))
    processes = [
        subprocess.Popen([skserve, "worker"], env=env, start_new_session=True) for _ in range(count)
    ]
    connection = Redis.from_url(redis_url, socket_timeout=10)
    deadline = time.monotonic() + 180
    while len(Worker.all(connection=connection)) < count:
        if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
            stop_workers(processes)
            raise SystemExit("the workers did not start; run `skserve worker` to see why")
        time.sleep(0.2)
    return processes


def stop_workers(processes: list[subprocess.Popen]) -> None:
    """SIGTERM (warm shutdown), then wait."""
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        process.wait(timeout=60)


def run_job(context, redis_url: str, chunk_rows: int | None):
    """Submit one job on the whole table, wait for it; returns the finished JobRecord."""
    from redis import Redis

    from db import jobs
    from db.job_submission import JobRequest, create_batch_job
    from worker.dispatch import Dispatcher

    with context.sessions() as session, session.begin():
        job = create_batch_job(
            session,
            JobRequest(MODEL, source={"table": TABLE}, chunk_rows=chunk_rows),
            default_chunk_rows=context.settings.batch_chunk_rows,
        )
    Dispatcher(context, Redis.from_url(redis_url, socket_timeout=10)).dispatch(job)
    while job.active:
        time.sleep(0.05)
        with context.sessions() as session:
            job = jobs.get_job(session, job_id=job.id)
    if job.status != "finished":
        raise SystemExit(f"job {job.id} {job.status}: {job.error}")
    return job


def check_results(engine: sa.Engine, job, rows: int, check_all: bool = False) -> str:
    """Exactly `rows` rows, one per id, and a sample (or all) equal to pipeline.predict here."""
    from db import registry
    from inference.artifact import unpickle_pipeline

    with engine.connect() as connection:
        total, distinct, low, high = connection.execute(
            sa.text(
                "SELECT count(*), count(DISTINCT entity_id), min(entity_id), max(entity_id) "
                "FROM batch_predictions WHERE job_id = :id"
            ),
            {"id": job.id},
        ).one()
        assert (total, distinct, low, high) == (rows, rows, 1, rows), (total, distinct, low, high)
        if check_all:  # a range scan: ANY() over a million ids is quadratic in PostgreSQL
            ids, chosen = np.arange(1, rows + 1), "BETWEEN 1 AND :rows"
        else:
            ids = np.random.default_rng(0).choice(rows, size=min(SAMPLE, rows), replace=False) + 1
            chosen = "= ANY(:ids)"
        params = {"ids": ids.tolist(), "rows": rows, "job": job.id}
        features = pd.read_sql(
            sa.text(f"SELECT * FROM {TABLE} WHERE id {chosen} ORDER BY id"),
            connection,
            params=params,
        ).set_index("id")
        stored = pd.read_sql(
            sa.text(
                "SELECT entity_id, prediction FROM batch_predictions "
                f"WHERE job_id = :job AND entity_id {chosen} ORDER BY entity_id"
            ),
            connection,
            params=params,
        )
    with make_session_factory(engine)() as session:
        data = registry.get_artifact(session, name=job.model_name, version=job.model_version)
    expected = [str(p) for p in unpickle_pipeline(data).predict(features)]
    assert stored["prediction"].tolist() == expected, "a prediction differs from pipeline.predict"
    return (
        f"{total:,} result rows, {distinct:,} distinct ids, "
        f"{len(ids):,} {'' if check_all else 'sampled '}predictions equal pipeline.predict"
    )


def delete_results(engine: sa.Engine, job_id: str) -> None:
    """Drop a run's predictions so every run writes into the same-sized table."""
    with engine.begin() as connection:
        connection.execute(
            sa.text("DELETE FROM batch_predictions WHERE job_id = :id"), {"id": job_id}
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM ANALYZE batch_predictions")


def baseline_part(url: str, version: int, ranges, job_id: str, barrier, results) -> None:
    """One process's id ranges, one transaction each: COPY read, predict_frame, COPY write."""
    from db.copy_io import read_frame
    from db.job_results import write_predictions
    from db.model_store import ModelStore
    from inference.predict import predict_frame

    engine = make_engine(url)
    model = ModelStore(make_session_factory(engine)).get(MODEL, version)
    with engine.connect() as connection:
        connection.exec_driver_sql("SELECT 1")
    barrier.wait()
    started, done = time.monotonic(), 0
    for id_range in ranges:
        with engine.begin() as connection:
            frame = read_frame(
                connection, TABLE, model.schema.names, id_column="id", id_range=id_range
            )
            result = predict_frame(model, frame)
            done += write_predictions(
                connection,
                job_id=job_id,
                ids=frame.index.to_numpy(),
                predictions=result.predictions,
                probabilities=result.probabilities,
            )
    results.put((started, time.monotonic(), done))
    engine.dispose()


def run_baseline(url: str, version: int, rows: int, processes: int, step: int | None) -> float:
    """Seconds for `processes` processes to read, predict and write `rows` rows between them.

    With `step`, the rows are cut into chunks of `step` ids dealt out in turn, as RQ hands a
    job's chunks to its workers; without, each process takes one contiguous share.
    """
    size = step or -(-rows // processes)
    chunks = [(first, min(first + size - 1, rows)) for first in range(1, rows + 1, size)]
    shares = [chunks[i::processes] for i in range(processes)]
    spawn = multiprocessing.get_context("spawn")
    barrier, results = spawn.Barrier(processes), spawn.Queue()
    job_id = str(uuid.uuid4())
    parts = [
        spawn.Process(target=baseline_part, args=(url, version, share, job_id, barrier, results))
        for share in shares
    ]
    for part in parts:
        part.start()
    timings = [results.get(timeout=600) for _ in parts]
    for part in parts:
        part.join()
    assert sum(n for _, _, n in timings) == rows
    engine = make_engine(url)
    delete_results(engine, job_id)
    engine.dispose()
    return max(end for _, end, _ in timings) - min(start for start, _, _ in timings)


class RssSampler(threading.Thread):
    """The largest RSS seen, in MB, over the given processes and all their children."""

    def __init__(self, processes: list[subprocess.Popen], interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.pids, self.interval = [p.pid for p in processes], interval
        self.peak_mb, self.samples = 0.0, 0
        self.stopping = threading.Event()

    def run(self) -> None:
        import psutil

        while not self.stopping.wait(self.interval):
            for pid in self.pids:
                try:
                    parent = psutil.Process(pid)
                    tree = [parent, *parent.children(recursive=True)]
                except psutil.Error:
                    continue
                for process in tree:
                    try:
                        rss = process.memory_info().rss / 2**20
                    except psutil.Error:
                        continue
                    self.peak_mb = max(self.peak_mb, rss)
            self.samples += 1

    def stop(self) -> float:
        """Stop sampling; the peak RSS in MB."""
        self.stopping.set()
        self.join()
        return self.peak_mb


def stream_csv(database_url: str, redis_url: str, job_id: str, rows: int) -> float:
    """GET the job's results as CSV from a `skserve api`, counting lines: rows per second."""
    from bench.harness import start_api, wait_ready

    env = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "LOG_LEVEL": "WARNING"}
    server = start_api("csv", workers=1, env=env)
    try:
        wait_ready(server, path="/health")
        url = f"{server.url}/jobs/{job_id}/results?format=csv"
        started, lines = time.perf_counter(), 0
        with urllib.request.urlopen(url, timeout=60) as response:
            while chunk := response.read(1 << 20):
                lines += chunk.count(b"\n")
        seconds = time.perf_counter() - started
    finally:
        server.stop()
    assert lines == rows + 1, f"{lines - 1:,} CSV rows for {rows:,} results"
    return rows / seconds


def main() -> None:
    """Prepare, start the workers, time the runs, print one table."""
    args = parse_args()
    from redis import Redis

    from settings import Settings
    from worker.context import JobContext

    engine = prepare_database(args.database_url, args.rows)
    Redis.from_url(args.redis_url).flushdb()
    settings = Settings(database_url=args.database_url, redis_url=args.redis_url)
    context = JobContext.from_settings(settings)
    model = context.store.production(MODEL)
    workers = start_workers(args.workers, args.database_url, args.redis_url)
    runs, check, csv_rate = [], "", 0.0
    sampler = RssSampler(workers)
    sampler.start()
    try:
        for number in range(1, args.runs + 1):
            job = run_job(context, args.redis_url, args.chunk_rows)
            if number == 1:
                check = check_results(engine, job, args.rows, args.check_all)
                csv_rate = stream_csv(args.database_url, args.redis_url, job.id, args.rows)
                print(f"results as CSV: {csv_rate:,.0f} rows/s", flush=True)
            delete_results(engine, job.id)
            url, version = args.database_url, model.version
            chunked = run_baseline(url, version, args.rows, args.workers, job.chunk_rows)
            whole = run_baseline(url, version, args.rows, args.workers, None)
            runs.append((job.seconds, chunked, whole, job.chunks_total))
            print(
                f"run {number}: job {job.seconds:.2f} s, in-process {chunked:.2f} s chunked, "
                f"{whole:.2f} s in one piece per process",
                flush=True,
            )
    finally:
        peak_mb = sampler.stop()
        stop_workers(workers)
    report(args, model, runs, check)
    print(
        f"worker RSS: peak {peak_mb:.0f} MB over {sampler.samples} samples of every worker "
        f"process and work horse (target < {WORKER_RSS_MB} MB: "
        f"{'met' if peak_mb < WORKER_RSS_MB else 'missed'})"
    )
    print(
        f"results as CSV, streamed from the API: {csv_rate:,.0f} rows/s (target >= "
        f"{CSV_ROWS_PER_S:,} rows/s: {'met' if csv_rate >= CSV_ROWS_PER_S else 'missed'})"
    )


def report(args: argparse.Namespace, model, runs: list[tuple], check: str) -> None:
    """The summary table, medians last."""
    rows, chunks = args.rows, runs[0][-1]
    print()
    print(
        f"batch job over {rows:,} rows of {TABLE}: model {model.name} v{model.version} "
        f"(fast path: {model.fast_path_reason}), {args.workers} workers, {chunks} chunks"
    )
    print(
        "wall seconds (job: first chunk started -> job finished); in-process: the same read + "
        f"predict_frame + write in {args.workers} processes, by chunk or in one piece each"
    )
    header = ("run", "job s", "rows/s", "chunked s", "job/chunked", "one piece s", "job/piece")
    print(f"{header[0]:<8}" + "".join(f"{name:>13}" for name in header[1:]))
    columns = list(zip(*(run[:3] for run in runs), strict=True))
    medians = tuple(statistics.median(column) for column in columns)
    labelled = [*((str(i), run[:3]) for i, run in enumerate(runs, start=1)), ("median", medians)]
    for label, (job, chunked, whole) in labelled:
        values = (job, rows / job, chunked, job / chunked, whole, job / whole)
        formats = ("{:.2f}", "{:,.0f}", "{:.2f}", "{:.2f}", "{:.2f}", "{:.2f}")
        print(
            f"{label:<8}"
            + "".join(f"{fmt.format(v):>13}" for fmt, v in zip(formats, values, strict=True))
        )
    ratio = medians[0] / medians[1]
    print(
        f"job / in-process chunked, median: {ratio:.2f}x (target <= {JOB_RATIO}x: "
        f"{'met' if ratio <= JOB_RATIO else 'missed'})"
    )
    print(f"check: {check}")


if __name__ == "__main__":
    main()
