"""The worker process: import the heavy libraries and load production models, then take jobs.

Jobs run in the worker's own process (an RQ SimpleWorker), not in a forked horse per job: the
models, their compiled fast paths and the database connections loaded once are reused by every
chunk. SIGTERM is RQ's warm shutdown: the current chunk finishes, then the worker exits.
"""

from __future__ import annotations

import importlib
import itertools
import logging
import time
from collections.abc import Sequence
from typing import Any

import redis
import sqlalchemy as sa
from rq import Queue, SimpleWorker
from rq.exceptions import StopRequested

from settings import Settings
from settings.redis_client import make_redis
from worker.context import JobContext, use_context
from worker.dispatch import BATCH_QUEUE, RETRY_INTERVALS
from worker.resume import resume_idle_chunks
from worker.training import TRAIN_QUEUE

log = logging.getLogger(__name__)

QUEUES = (BATCH_QUEUE, TRAIN_QUEUE)
# How often a worker looks for chunks abandoned by dead workers (and RQ cleans its registries).
# A dead worker's chunk is known at once (its database row lock went with its connection), so
# this is how long such a chunk waits; healthy chunks hold their lock and are never taken.
MAINTENANCE_SECONDS = 5
# RQ waits for a job at most worker_ttl - 15 seconds before it can run maintenance again; its
# default (420 s) would leave an idle worker blind to abandoned chunks for seven minutes.
WORKER_TTL = MAINTENANCE_SECONDS + 15
# Redis lost: wait this long before the first reconnect, doubling up to the maximum.
RECONNECT_SECONDS = (1.0, 30.0)
HEAVY_MODULES = (
    "numpy",
    "pandas",
    "sklearn.pipeline",
    "sklearn.ensemble",
    "sklearn.linear_model",
    "inference.compat",
    "inference.predict",
    "inference.fastpath",
    "db.copy_io",
    "db.job_results",
    "worker.chunks",
    "trainer.train",
)


class BatchWorker(SimpleWorker):
    """An RQ worker running jobs in-process that also resumes chunks of dead workers.

    The resume pass runs with RQ's maintenance: once before the first job, then every
    `maintenance_interval` seconds.
    """

    def __init__(
        self,
        queues: Sequence[Queue],
        *args: Any,
        context: JobContext,
        intervals: tuple[float, ...] = RETRY_INTERVALS,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("maintenance_interval", MAINTENANCE_SECONDS)
        kwargs.setdefault("worker_ttl", WORKER_TTL)
        super().__init__(queues, *args, **kwargs)
        self.context = context
        self.intervals = intervals
        use_context(context)  # the job functions this worker runs use its context

    stop_requested = False  # set by SIGTERM / SIGINT, idle or busy (RQ only flags busy ones)

    def request_stop(self, signum: Any, frame: Any) -> None:
        """RQ's warm shutdown, remembered so run_worker does not start the worker again."""
        self.stop_requested = True
        super().request_stop(signum, frame)

    def run_maintenance_tasks(self) -> None:
        """RQ's registry cleanup, then re-enqueue chunks nobody holds and no queue will run."""
        super().run_maintenance_tasks()
        self.resume_abandoned()

    def resume_abandoned(self) -> int:
        """Enqueue again the chunks abandoned by dead workers; returns how many."""
        queue = Queue(BATCH_QUEUE, connection=self.connection)
        try:
            return resume_idle_chunks(self.context, queue, intervals=self.intervals)
        except Exception:  # the database may be down; the next maintenance pass retries
            log.exception("could not look for abandoned chunks")
            return 0


def preload(context: JobContext) -> float:
    """Import the heavy libraries and load every production model; returns the seconds taken."""
    started = time.perf_counter()
    for name in HEAVY_MODULES:
        importlib.import_module(name)
    try:
        context.store.preload()
    except sa.exc.SQLAlchemyError as exc:
        log.warning("cannot preload models (%s); they load on first use", exc)
    loaded = ", ".join(f"{m.name} v{m.version}" for m in context.store.loaded()) or "none"
    seconds = time.perf_counter() - started
    log.info("preloaded in %.1f s; models: %s", seconds, loaded)
    return seconds


def run_worker(
    settings: Settings,
    *,
    queues: Sequence[str] = QUEUES,
    burst: bool = False,
    name: str | None = None,
    intervals: tuple[float, ...] = RETRY_INTERVALS,
) -> bool:
    """Preload, then work the queues until stopped (or until empty with `burst`).

    RQ leaves its loop when Redis fails under a running job; the process then waits for Redis
    (backing off) and works on with a fresh RQ worker. Job state is in PostgreSQL: chunks whose
    RQ jobs Redis lost are enqueued again by the resume pass.
    """
    if settings.redis_url is None:
        raise RuntimeError(
            "REDIS_URL is not set: without Redis, batch jobs run inside the API process "
            "and no worker is needed"
        )
    context = JobContext.from_settings(settings)
    preload(context)
    connection = make_redis(settings.redis_url)
    worked, level = False, settings.log_level
    for attempt in itertools.count():
        worker = BatchWorker(
            [Queue(queue, connection=connection) for queue in queues],
            connection=connection,
            name=name if attempt == 0 else None,
            context=context,
            intervals=intervals,
        )
        try:
            worked |= worker.work(burst=burst, with_scheduler=True, logging_level=level)
        except redis.RedisError as exc:  # raised by RQ's teardown once Redis is gone
            log.warning("worker %s lost Redis: %s", worker.name, exc)
        if burst or worker.stop_requested:
            return worked
        try:
            if not wait_for_redis(connection, worker):
                return worked
        except StopRequested:  # SIGTERM while waiting: RQ's handler raises it when idle
            return worked
    raise AssertionError("unreachable")  # pragma: no cover


def wait_for_redis(connection: Any, worker: BatchWorker) -> bool:
    """Ping Redis with backoff until it answers (True) or a stop is requested (False)."""
    delay, longest = RECONNECT_SECONDS
    while not worker.stop_requested:
        try:
            connection.ping()
        except redis.RedisError as exc:
            log.warning("Redis is unavailable (%s); retrying in %.0f s", exc, delay)
            time.sleep(delay)
            delay = min(delay * 2, longest)
            continue
        log.info("Redis is back; taking jobs again")
        return True
    return False
