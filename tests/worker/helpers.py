"""Shared by the batch job tests (worker and API): submitting, running, and checking jobs."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from db import jobs, registry
from db.job_submission import JobRequest, create_batch_job
from db.lifecycle import TERMINAL
from db.tables import JobStatus, batch_predictions
from inference.artifact import unpickle_pipeline
from worker.context import JobContext

# Retries run at once in tests: RQ's scheduler is not running in burst mode.
NO_WAIT = (0.0, 0.0, 0.0)
SKSERVE = str(Path(sys.executable).with_name("skserve"))


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


def start_worker(database_url: str, redis_url: str, *extra: str) -> subprocess.Popen:
    """A real `skserve worker` process (its own process group, so it can be killed whole)."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [SKSERVE, "worker", *extra],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


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
