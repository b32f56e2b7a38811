"""Shadow predictions: each shadow version predicts a request off the request path.

A request appends its decoded rows to a bounded deque (no prediction, no I/O, no thread woken
on its thread); one daemon thread per process takes what has piled up every `interval`
seconds, predicts it with every shadow version in one call per version (requests with the same
columns are concatenated), and queues the outputs for the prediction log with each request's
id and role "shadow". Waking a thread per request, or predicting requests one by one, cost
the served path a quarter of its throughput on two busy cores; a batch costs little more than
one request.

When `max_pending` requests wait, a new one is dropped and counted
(`skserve_shadow_dropped_total`), so shadows never slow or fail an answer. A batch that a
shadow version refuses is predicted again request by request, so one odd request fails alone
(`skserve_shadow_errors_total`, and a log line).
"""

from __future__ import annotations

import collections
import itertools
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from api.codecs import Rows
from api.metrics import SHADOW_DROPPED, SHADOW_ERRORS, SHADOW_PREDICTIONS
from api.serving import log_prediction
from db.prediction_log import PredictionLogger
from inference.model import LoadedModel
from inference.predict import PredictionResult, predict_columns

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
    """A bounded deque of requests to predict again, and the daemon thread that does it."""

    def __init__(
        self,
        prediction_log: PredictionLogger,
        *,
        max_pending: int = 1_000,
        interval: float = 0.05,
        max_batch_rows: int = 5_000,
    ) -> None:
        self._log = prediction_log
        self._pending: collections.deque[ShadowRequest] = collections.deque()
        self._max_pending = max_pending
        self._interval = interval
        self._max_batch_rows = max_batch_rows
        self._start_lock = threading.Lock()
        self._work_lock = threading.Lock()  # held while a batch is predicted and logged
        self._stop = threading.Event()
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
        if len(self._pending) >= self._max_pending:
            self.dropped += 1
            SHADOW_DROPPED.labels(models[0].name).inc()
            return False
        self._ensure_started()
        self._pending.append(ShadowRequest(models, rows, request_id, ids, protocol))
        return True

    @property
    def pending(self) -> int:
        """Requests waiting for the shadow thread."""
        return len(self._pending)

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
            with self._start_lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(
                        target=self._run, name="skserve-shadow", daemon=True
                    )
                    self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.drain()

    def drain(self) -> None:
        """Predict and log everything queued so far (the thread's loop; tests, shutdown)."""
        with self._work_lock:
            while self._pending:
                self._predict_batch(self._take_batch())

    def _take_batch(self) -> list[ShadowRequest]:
        batch: list[ShadowRequest] = []
        rows = 0
        while self._pending and rows < self._max_batch_rows:
            shadow = self._pending.popleft()
            batch.append(shadow)
            rows += shadow.rows.n_rows
        return batch

    def _predict_batch(self, batch: list[ShadowRequest]) -> None:
        groups: dict[tuple[Any, ...], list[ShadowRequest]] = collections.defaultdict(list)
        models: dict[int, LoadedModel] = {}
        for shadow in batch:
            for model in shadow.models:
                models[id(model)] = model
                groups[(id(model), *_column_shape(shadow.rows))].append(shadow)
        for (model_id, listed, *_), requests in groups.items():
            self._predict_group(models[model_id], requests, concatenate=listed)

    def _predict_group(
        self, model: LoadedModel, requests: list[ShadowRequest], *, concatenate: bool
    ) -> None:
        started = time.perf_counter()
        if concatenate and len(requests) > 1:
            try:
                result = predict_columns(model, *_concatenated(requests))
            except Exception:  # one request the shadow version refuses: find it below
                pass
            else:
                self._log_group(model, requests, result, time.perf_counter() - started)
                return
        for shadow in requests:
            started = time.perf_counter()
            try:
                result = predict_columns(model, shadow.rows.columns, shadow.rows.n_rows)
            except Exception:  # a shadow version's failure is counted, never the client's
                self.failed += 1
                SHADOW_ERRORS.labels(model.name, str(model.version)).inc()
                log.warning("shadow %s v%s failed", model.name, model.version, exc_info=True)
                continue
            self._log_group(model, [shadow], result, time.perf_counter() - started)

    def _log_group(
        self,
        model: LoadedModel,
        requests: list[ShadowRequest],
        result: PredictionResult,
        seconds: float,
    ) -> None:
        total = sum(shadow.rows.n_rows for shadow in requests)
        start = 0
        for shadow in requests:
            n_rows = shadow.rows.n_rows
            log_prediction(
                self._log,
                model,
                shadow.rows,
                result.rows(start, start + n_rows),
                request_id=shadow.request_id,
                latency_ms=seconds * 1000 * n_rows / total,  # its share of the batch's time
                role="shadow",
                ids=shadow.ids,
                protocol=shadow.protocol,
                with_inputs=False,
            )
            start += n_rows
        self.predicted += len(requests)
        SHADOW_PREDICTIONS.labels(model.name, str(model.version)).inc(total)

    def stop(self) -> None:
        """Predict what is queued, then end the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.drain()


def _column_shape(rows: Rows) -> tuple[Any, ...]:
    """Requests with equal shapes can be predicted as one: the same columns, all lists."""
    return (_listed(rows), *rows.columns)


def _listed(rows: Rows) -> bool:
    return all(type(values) is list for values in rows.columns.values())


def _concatenated(requests: list[ShadowRequest]) -> tuple[dict[str, list[Any]], int]:
    names = requests[0].rows.columns
    columns = {
        name: list(itertools.chain.from_iterable(r.rows.columns[name] for r in requests))
        for name in names
    }
    return columns, sum(r.rows.n_rows for r in requests)
