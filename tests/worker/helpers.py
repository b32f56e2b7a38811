"""Shared by the batch job tests (worker and API): submitting, running, and checking jobs."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from db import job_chunks, jobs, registry
from db.job_submission import JobRequest, create_batch_job
from db.lifecycle import TERMINAL
from db.tables import JobStatus, batch_predictions
from inference.artifact import unpickle_pipeline
from tests.processes import ISOLATED
from worker.context import JobContext

# Retries run at once in tests: RQ's scheduler is not running in burst mode.
NO_WAIT = (0.0, 0.0, 0.0)
SKSERVE = str(Path(sys.executable).with_name("skserve"))
WHOLE_TABLE = {"table": "adult_features"}  # 32,561 rows: 33 chunks of 1,000


def submit(context: JobContext, model: str = "adult", **fields: Any) -> jobs.JobRecord:
    """Create (and commit) a job through the same core the API and the CLI use."""
    with context.sessions() as session, session.begin():
        return create_batch_job(
            session,
            JobRequest(model, **fields),
            default_chunk_rows=context.settings.batch_chunk_rows,
        )


def get_job(engine: Engine, job_id: str) -> jobs.JobRecord:
    """The job's current row."""
    with Session(engine) as session:
        return jobs.get_job(session, job_id=job_id)


def stored_predictions(engine: Engine, job_id: str) -> pd.DataFrame:
    """Every batch_predictions row of a job, by entity id."""
    query = (
        sa.select(batch_predictions.c.entity_id, batch_predictions.c.prediction)
        .where(batch_predictions.c.job_id == job_id)
        .order_by(batch_predictions.c.entity_id)
    )
    with engine.connect() as connection:
        return pd.DataFrame(connection.execute(query).all(), columns=["entity_id", "prediction"])


def reference_predictions(
    engine: Engine, job: jobs.JobRecord, table: str, ids: list[int] | None = None
) -> pd.Series:
    """`pipeline.predict` in this process for the rows of `table`, as text, indexed by id."""
    with Session(engine) as session:
        pipeline = unpickle_pipeline(
            registry.get_artifact(session, name=job.model_name, version=job.model_version)
        )
    query = f"SELECT * FROM {table} ORDER BY id"  # noqa: S608 - test tables only
    with engine.connect() as connection:
        frame = pd.read_sql(sa.text(query), connection).set_index("id")
    if ids is not None:
        frame = frame.loc[ids]
    frame = frame.astype(object).where(frame.notna(), np.nan).infer_objects()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        predicted = pipeline.predict(frame)
    return pd.Series([str(p) for p in predicted], index=frame.index)


def assert_exactly_once(engine: Engine, job: jobs.JobRecord, reference: pd.Series) -> None:
    """One result row per input row, none twice, each equal to the in-process prediction."""
    stored = stored_predictions(engine, job.id)
    assert stored["entity_id"].is_unique
    assert len(stored) == len(reference)
    assert stored["entity_id"].tolist() == sorted(reference.index.tolist())
    expected = reference.loc[stored["entity_id"]].tolist()
    assert stored["prediction"].tolist() == expected


def wait_for(
    predicate: Callable[[], Any], *, timeout: float = 60, interval: float = 0.1, what: str = ""
) -> Any:
    """Poll until `predicate()` is truthy; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")


def wait_until_ended(engine: Engine, job_id: str, timeout: float = 60) -> jobs.JobRecord:
    """Poll the job row until it is finished, failed or canceled."""
    return wait_for(
        lambda: (job := get_job(engine, job_id)).status in TERMINAL and job,
        timeout=timeout,
        what=f"job {job_id} to end",
    )


def start_worker(
    database_url: str, redis_url: str, *extra: str, log: Path | None = None
) -> subprocess.Popen:
    """A real `skserve worker` process (its own process group, so it can be killed whole).

    With `log`, its output (at INFO) goes to that file, kept as `process.log`; otherwise
    warnings go to `process.stderr`.
    """
    env = {k: v for k, v in os.environ.items() if k not in ISOLATED}
    env.update(DATABASE_URL=database_url, REDIS_URL=redis_url, LOG_LEVEL="WARNING")
    output: Any = subprocess.DEVNULL
    if log is not None:
        env["LOG_LEVEL"] = "INFO"
        output = log.open("w")
    process = subprocess.Popen(
        [SKSERVE, "worker", *extra],
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT if log is not None else subprocess.PIPE,
        start_new_session=True,
    )
    process.log = log  # type: ignore[attr-defined]
    return process


def log_tail(process: subprocess.Popen) -> str:
    """The end of a worker's output, for assertion messages."""
    if process.log is None:  # type: ignore[attr-defined]
        return process.stderr.read().decode()[-3_000:]  # type: ignore[union-attr]
    return Path(process.log).read_text()[-3_000:]  # type: ignore[attr-defined]


def cancel_active_jobs(engine: Engine) -> None:
    """Cancel what a test left running, so no later worker resumes it."""
    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE batch_jobs SET status = :canceled WHERE status IN (:queued, :started)"),
            {
                "canceled": JobStatus.CANCELED.value,
                "queued": JobStatus.QUEUED.value,
                "started": JobStatus.STARTED.value,
            },
        )


def chunks_done(engine: Engine, job_id: str) -> int:
    """How many chunks of the job have finished."""
    return get_job(engine, job_id).chunks_done


def chunk_statuses(engine: Engine, job_id: str) -> list[str]:
    """Every chunk's status, in chunk order."""
    with Session(engine) as session:
        return [c.status for c in job_chunks.list_chunks(session, job_id=job_id)]


@contextlib.contextmanager
def chunk_held_mid_transaction(context, job_id: str) -> Iterator[None]:
    """Lock the job row so the worker's next chunk stops just before committing.

    The chunk has locked its row and written its predictions, and waits for the job row to
    count itself: exactly the state a crash must not leave behind.
    """
    with context.engine.connect() as connection, connection.begin():
        connection.execute(
            sa.text("SELECT id FROM batch_jobs WHERE id = :id FOR UPDATE"), {"id": job_id}
        )
        wait_for(lambda: worker_waiting(context.engine), what="a chunk waiting to commit")
        yield


def worker_waiting(engine) -> bool:
    """True when a session is blocked on a lock while counting a chunk into its job."""
    query = sa.text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock' AND query LIKE 'UPDATE batch_jobs SET %chunks_done + 1%'"
    )
    with engine.connect() as connection:
        return connection.scalar(query) > 0
