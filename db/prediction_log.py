"""The online prediction log, written off the request path in batches.

Requests put entries into a bounded queue; one daemon thread drains it into `prediction_log`.
A slow or failing database therefore never fails or slows a prediction, and memory stays
bounded: when the queue is full new entries are dropped and counted.
"""

from __future__ import annotations

import logging
import math
import queue
import random
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine

from db.tables import prediction_log

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LogEntry:
    """One online prediction request."""

    model_name: str
    model_version: int
    request_id: str | None
    rows: int
    latency_ms: float
    inputs: Any
    outputs: Any
    logged_at: datetime


class PredictionLogger:
    """Buffers entries and writes them in batches from a background thread."""

    def __init__(
        self,
        engine: Engine,
        *,
        sample: float = 1.0,
        capacity: int = 10_000,
        batch_size: int = 500,
        flush_seconds: float = 1.0,
    ) -> None:
        self._engine = engine
        self._sample = sample
        self._queue: queue.Queue[LogEntry] = queue.Queue(maxsize=capacity)
        self._batch_size = batch_size
        self._flush_seconds = flush_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.dropped = 0
        self.written = 0
        self.failed_batches = 0

    def log(self, **fields: Any) -> bool:
        """Queue one entry (subject to sampling); False when sampled out or dropped."""
        if self._sample < 1.0 and random.random() >= self._sample:
            return False
        self._ensure_started()
        try:
            self._queue.put_nowait(LogEntry(logged_at=datetime.now(UTC), **fields))
        except queue.Full:
            self.dropped += 1
            return False
        return True

    def _ensure_started(self) -> None:
        # Started lazily so a gunicorn worker (forked after app creation) owns its thread.
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(
                target=self._run, name="skserve-prediction-log", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.flush(wait=self._flush_seconds)

    def flush(self, wait: float = 0.0) -> int:
        """Write up to one batch; returns the number of rows written."""
        batch: list[LogEntry] = []
        try:
            batch.append(self._queue.get(timeout=wait) if wait else self._queue.get_nowait())
        except queue.Empty:
            return 0
        while len(batch) < self._batch_size:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        try:
            rows = [
                {**entry.__dict__, "inputs": _plain(entry.inputs), "outputs": _plain(entry.outputs)}
                for entry in batch
            ]
            with self._engine.begin() as conn:
                conn.execute(prediction_log.insert(), rows)
        except Exception:  # the database may be down: drop this batch, keep serving
            self.failed_batches += 1
            self.dropped += len(batch)
            log.warning("could not write %d prediction log rows", len(batch), exc_info=True)
            return 0
        self.written += len(batch)
        return len(batch)

    def drain(self) -> None:
        """Write everything queued so far (tests and shutdown)."""
        while self.flush():
            pass

    def stop(self) -> None:
        """Stop the background thread after its current wait, then drain the queue."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self._flush_seconds + 1)
        self.drain()


def _plain(value: Any) -> Any:
    """JSON-ready copy: numpy arrays and scalars as Python values, NaN and infinities as None."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist"):
        return _plain(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
