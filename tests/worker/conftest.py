"""Batch job fixtures: a job context on the test database and Redis, and a burst worker."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable, Iterator

import pytest
from rq import Queue
from sqlalchemy.engine import Engine

from settings import Settings
from tests.conftest import TEST_REDIS_URL
from tests.worker.helpers import NO_WAIT, cancel_active_jobs, start_worker
from worker.context import JobContext, use_context
from worker.main import BatchWorker


@pytest.fixture(scope="session")
def jobs_settings(pg_url: str) -> Settings:
    """Settings pointing at the test database and the test Redis index."""
    return Settings(database_url=pg_url, redis_url=TEST_REDIS_URL, batch_chunk_rows=1_000)


@pytest.fixture
def job_context(jobs_settings: Settings, adult_model, demo_tables: Engine) -> Iterator[JobContext]:
    """The context job functions use in this process; active jobs are canceled afterwards."""
    context = JobContext.from_settings(jobs_settings)
    use_context(context)
    yield context
    use_context(None)
    cancel_active_jobs(context.engine)
    context.engine.dispose()


@pytest.fixture
def workers(pg_url: str, tmp_path) -> Iterator[Callable[..., subprocess.Popen]]:
    """Starts `skserve worker` processes logging to files; any still running are killed after.

    `workers(*args, redis_url=...)`: extra worker arguments, and the Redis to use (the test
    index unless given).
    """
    started: list[subprocess.Popen] = []

    def start(*extra: str, redis_url: str = TEST_REDIS_URL) -> subprocess.Popen:
        log = tmp_path / f"worker-{len(started)}.log"
        process = start_worker(pg_url, redis_url, *extra, log=log)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


@pytest.fixture
def batch_queue(redis_conn) -> Queue:
    """The "batch" queue on the flushed test Redis index."""
    return Queue("batch", connection=redis_conn)


@pytest.fixture
def run_worker(job_context: JobContext, redis_conn) -> Callable[[], bool]:
    """Runs a real RQ worker (BatchWorker) in this process until the queues are empty."""

    def run(queues: tuple[str, ...] = ("batch",)) -> bool:
        worker = BatchWorker(
            [Queue(name, connection=redis_conn) for name in queues],
            connection=redis_conn,
            context=job_context,
            intervals=NO_WAIT,
        )
        return worker.work(burst=True, with_scheduler=False)

    return run


@pytest.fixture
def feature_copy(job_context: JobContext) -> Callable[..., str]:
    """Creates (committed) copies of adult_features rows; dropped after the test."""
    made: list[str] = []

    def copy(rows: int, *, where: str = "true") -> str:
        name = f"jobs_copy_{len(made)}"
        with job_context.engine.begin() as connection:
            connection.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")
            connection.exec_driver_sql(
                f"CREATE TABLE {name} AS SELECT * FROM adult_features "
                f"WHERE id <= {int(rows)} AND ({where}) ORDER BY id"
            )
            connection.exec_driver_sql(f"ALTER TABLE {name} ADD PRIMARY KEY (id)")
        made.append(name)
        return name

    yield copy
    with job_context.engine.begin() as connection:
        for name in made:
            connection.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")
