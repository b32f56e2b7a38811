"""Shadow predictions: each shadow version predicts a request off the request path.

A request hands its decoded rows to a bounded queue (no prediction, no I/O on its thread); one
daemon thread per process predicts them with every shadow version and queues the outputs for
the prediction log with the request's id and role "shadow". When the queue is full the request
is dropped and counted (`skserve_shadow_dropped_total`), so shadows never slow or fail an
answer; a shadow version that raises is counted (`skserve_shadow_errors_total`) and logged.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

from api.codecs import Rows
from api.metrics import SHADOW_DROPPED, SHADOW_ERRORS, SHADOW_PREDICTIONS
from api.serving import log_prediction
from db.prediction_log import PredictionLogger
from inference.model import LoadedModel
from inference.predict import predict_columns

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ShadowRequest:
    """What the shadow thread needs to predict and log one request again."""

    models: tuple[LoadedModel, ...]
    rows: Rows
    request_id: str | None
    ids: list[Any] | None
    protocol: str | None


class ShadowPredictor:
    """A bounded queue of requests to predict again, and the daemon thread that does it."""

    def __init__(self, prediction_log: PredictionLogger, *, max_pending: int = 1_000) -> None:
        self._log = prediction_log
        self._queue: queue.Queue[ShadowRequest | None] = queue.Queue(maxsize=max_pending)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.dropped = 0
        self.predicted = 0
        self.failed = 0

    def submit(
        self,
        models: tuple[LoadedModel, ...],
        rows: Rows,
        *,
        request_id: str | None,
        ids: list[Any] | None = None,
        protocol: str | None = None,
    ) -> bool:
        """Queue a request for its shadow versions; False (counted) when the queue is full."""
        self._ensure_started()
        try:
            self._queue.put_nowait(ShadowRequest(models, rows, request_id, ids, protocol))
        except queue.Full:
            self.dropped += 1
            SHADOW_DROPPED.labels(models[0].name).inc()
            return False
        return True

    @property
    def pending(self) -> int:
        """Requests waiting for the shadow thread."""
        return self._queue.qsize()

    def stats(self) -> dict[str, int]:
        """This process's counters, for GET /models/<name>/traffic."""
        return {
            "pending": self.pending,
            "predicted": self.predicted,
            "dropped": self.dropped,
            "failed": self.failed,
        }

    def _ensure_started(self) -> None:
        # Started lazily so a gunicorn worker (forked after app creation) owns its thread.
        if self._thread is None or not self._thread.is_alive():
            with self._lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(
                        target=self._run, name="skserve-shadow", daemon=True
                    )
                    self._thread.start()

    def _run(self) -> None:
        while True:
            shadow = self._queue.get()
            try:
                if shadow is None:
                    return
                for model in shadow.models:
                    self._predict(model, shadow)
            finally:
                self._queue.task_done()

    def _predict(self, model: LoadedModel, shadow: ShadowRequest) -> None:
        started = time.perf_counter()
        try:
            result = predict_columns(model, shadow.rows.columns, shadow.rows.n_rows)
        except Exception:  # a shadow version's failure is counted, never the client's
            self.failed += 1
            SHADOW_ERRORS.labels(model.name, str(model.version)).inc()
            log.warning("shadow %s v%s failed", model.name, model.version, exc_info=True)
            return
        self.predicted += 1
        SHADOW_PREDICTIONS.labels(model.name, str(model.version)).inc(shadow.rows.n_rows)
        log_prediction(
            self._log,
            model,
            shadow.rows,
            result,
            request_id=shadow.request_id,
            latency_ms=(time.perf_counter() - started) * 1000,
            role="shadow",
            ids=shadow.ids,
            protocol=shadow.protocol,
        )

    def drain(self, timeout: float = 10.0) -> None:
        """Wait until every queued request has been predicted (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)

    def stop(self) -> None:
        """Finish what is queued (up to a few seconds), then end the thread."""
        if self._thread is None or not self._thread.is_alive():
            return
        try:
            self._queue.put(None, timeout=5)
        except queue.Full:
            return
        self._thread.join(timeout=5)
