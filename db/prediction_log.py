"""The online prediction log, written off the request path in batches.

Stored format (table `prediction_log`, one row per answered request; read it with SQL):

- `logged_at` (timestamp with time zone), `model_name`, `model_version`, `request_id` (the
  `X-Request-ID` echoed to the client), `rows` (rows predicted), `latency_ms`.
- `role`: how the version came to predict: `production` (answered by the production version),
  `canary` (answered by the canary for its share of traffic), `pinned` (the client asked for
  this version with `?version=` or a versioned path), or `shadow` (predicted off the request
  path for comparison, never returned; same `request_id` as the answer). Production also
  shadows the canary's requests, so every canary answer has a production row to compare with.
- `inputs` (text holding JSON; cast it, `inputs::json`): the predicted rows column by column,
  ``{"<feature>": [value of row 0, value of row 1, ...], ...}``; numbers as JSON numbers, strings
  as strings, missing, NaN and infinite values as null. Every array has `rows` elements; row ``i``
  of the request is element ``i`` (0-based) of every array, which with `request_id` identifies a
  prediction for feedback. Null on shadow rows (the served row of the same `request_id` holds them)
  and when the request's inputs were too large to keep (see below). Both JSON columns are
  lz4-compressed where the server supports it (migration 0004), and text rather than `json`
  (migration 0005): PostgreSQL's check of every entry was a third of its cost per entry.
- `outputs` (text holding JSON): ``{"predictions": [...], "probabilities": {"<class>": [...], ...},
  "ids": [...]}`` in the same row order: `probabilities` for classifiers only, one array per class
  label (as text); `ids` only for predictions by entity id.

Per-feature aggregates over a window, for example::

    SELECT v.value::float AS age, l.request_id, v.idx - 1 AS row_index
    FROM prediction_log AS l,
         json_array_elements_text(l.inputs::json -> 'age') WITH ORDINALITY AS v(value, idx)
    WHERE l.model_name = 'adult' AND l.logged_at >= now() - interval '1 hour';

(`json_array_elements_text(l.outputs::json -> 'probabilities' -> '>50K')` likewise; on SQLite,
`json_each`.) The text is always valid JSON, written only by this module: NUL characters are
removed and lone surrogates replaced, so no cast or JSON function fails on a stored value; in an
entry averaging more than 128 bytes per value, strings are cut to 256 characters (ending in "…").

A request encodes its entry (orjson, in C) and appends it to a deque; one daemon thread writes
what has piled up every `flush_seconds` (1 s) with a binary COPY (the encoded bytes sent as
they are), in transactions of at most `batch_bytes`. A slow or failing database therefore
never fails or slows a prediction, and memory stays bounded in bytes: while `max_bytes` of
encoded entries wait, new ones are dropped and counted, and an entry larger than
`max_entry_bytes` keeps its outputs but not its inputs.

The log's transactions commit asynchronously (`synchronous_commit = off`): a commit does not
wait for the WAL to reach disk, so if PostgreSQL itself crashes the last fraction of a second
of committed entries may be lost (never a partial entry, and nothing else is affected). The
log already drops entries while the database is down, so this risks nothing new. On 2 cores
shared with PostgreSQL, flushing every 0.25 s with waiting commits served 13 % fewer single-row
requests (8 clients) than this, in the same run (docs/performance.md).
"""

from __future__ import annotations

import collections
import logging
import random
import threading
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy.engine import Engine

from db.copy_io import copy_rows
from db.engine import make_engine
from db.log_encoding import encode_columns
from db.tables import prediction_log

log = logging.getLogger(__name__)

ENTRY_OVERHEAD = 200  # bytes of Python object around an entry's two encoded columns
WRITE_TIMEOUT = 30.0  # seconds one batch may take in the database before it is dropped


class LogEntry(NamedTuple):
    """One online prediction request, its inputs and outputs already encoded as UTF-8 JSON.

    A tuple in COLUMNS order, so COPY takes it as the row without building another.
    """

    logged_at: datetime
    model_name: str
    model_version: int
    request_id: str | None
    rows: int
    latency_ms: float
    inputs: bytes | None
    outputs: bytes
    role: str = "production"

    @property
    def size(self) -> int:
        """Approximate bytes this entry holds while it waits."""
        return ENTRY_OVERHEAD + len(self.inputs or b"") + len(self.outputs)


COLUMNS = list(LogEntry._fields)


class PredictionLogger:
    """Buffers encoded entries and writes them in batches from a background thread."""

    def __init__(
        self,
        database_url: str,
        *,
        sample: float = 1.0,
        max_bytes: int = 16 * 2**20,
        max_entry_bytes: int = 4 * 2**20,
        batch_bytes: int = 4 * 2**20,
        flush_seconds: float = 1.0,
    ) -> None:
        # No ping per batch: a failed COPY drops its batch and the pool reconnects for the next.
        self._engine: Engine = make_engine(
            database_url,
            pool_size=1,
            pool_pre_ping=False,
            statement_timeout=WRITE_TIMEOUT,
            server_settings={"synchronous_commit": "off"},
        )
        self._sample = sample
        self._pending: collections.deque[LogEntry] = collections.deque()
        self._pending_bytes = 0
        self._lock = threading.Lock()  # guards _pending_bytes and the counters
        # Held while a batch is on its way to the database, so drain() returns only once
        # everything queued before it is committed (not merely taken off the queue).
        self._write_lock = threading.Lock()
        self._max_bytes = max_bytes
        self._max_entry_bytes = max_entry_bytes
        self._batch_bytes = batch_bytes
        self._flush_seconds = flush_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.dropped = 0
        self.written = 0
        self.failed_batches = 0
        self.inputs_left_out = 0

    def log(
        self,
        *,
        model_name: str,
        model_version: int,
        request_id: str | None,
        rows: int,
        latency_ms: float,
        inputs: dict[str, Any] | None,
        outputs: dict[str, Any],
        role: str = "production",
    ) -> bool:
        """Encode and queue one entry (subject to sampling); False when sampled out or dropped.

        Shadow entries are not sampled again: they are only made for requests that were logged.
        """
        sampled_out = self._sample < 1.0 and random.random() >= self._sample
        if sampled_out and role != "shadow":
            return False
        entry = LogEntry(
            datetime.now(UTC),
            model_name,
            model_version,
            request_id,
            rows,
            latency_ms,
            self._encode_inputs(inputs, rows),
            encode_columns(outputs, rows * max(len(outputs), 1)),
            role,
        )
        return self._enqueue(entry)

    def _encode_inputs(self, inputs: dict[str, Any] | None, rows: int) -> bytes | None:
        if inputs is None:
            return None
        encoded = encode_columns(inputs, rows * max(len(inputs), 1))
        if len(encoded) > self._max_entry_bytes:
            with self._lock:
                self.inputs_left_out += 1
            return None
        return encoded

    def _enqueue(self, entry: LogEntry) -> bool:
        size = entry.size
        with self._lock:
            if self._pending_bytes + size > self._max_bytes:
                self.dropped += 1
                return False
            self._pending_bytes += size
        self._ensure_started()
        self._pending.append(entry)
        return True

    @property
    def pending_bytes(self) -> int:
        """Bytes of entries waiting to be written."""
        return self._pending_bytes

    def _ensure_started(self) -> None:
        # Started lazily so a gunicorn worker (forked after app creation) owns its thread.
        if self._thread is None or not self._thread.is_alive():
            with self._lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(
                        target=self._run, name="skserve-prediction-log", daemon=True
                    )
                    self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._flush_seconds):
            self.drain()

    def flush(self) -> int:
        """Write up to one batch; returns the number of rows written."""
        with self._write_lock:
            return self._write_batch()

    def _write_batch(self) -> int:
        batch: list[LogEntry] = []
        size = 0
        while self._pending and size < self._batch_bytes:
            batch.append(self._pending.popleft())
            size += batch[-1].size
        if not batch:
            return 0
        with self._lock:
            self._pending_bytes -= size
        try:
            with self._engine.begin() as conn:
                copy_rows(conn, prediction_log, COLUMNS, batch)
        except Exception:  # the database may be down: drop this batch, keep serving
            with self._lock:
                self.failed_batches += 1
                self.dropped += len(batch)
            log.warning("could not write %d prediction log rows", len(batch), exc_info=True)
            return 0
        self.written += len(batch)
        return len(batch)

    def drain(self) -> None:
        """Write everything queued so far."""
        with self._write_lock:
            while self._pending:
                self._write_batch()

    def stop(self) -> None:
        """Stop the background thread, write what is left, close the pool."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self._flush_seconds + 5)
        self.drain()
        self._engine.dispose()
