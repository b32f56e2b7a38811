"""Drift gauges on /metrics, refreshed by a background thread in each API process.

Every DRIFT_GAUGE_SECONDS the thread computes the drift of each production version that has a
reference profile over the last DRIFT_GAUGE_WINDOW_SECONDS (the same SQL as GET
/models/<name>/drift) and sets the gauges; requests never wait for it. Under gunicorn the
gauges use prometheus-client's `livemostrecent` multiprocess mode: /metrics shows the value
written last by a live worker, so every worker's refresh describes the same thing and none
is summed twice.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

from prometheus_client import Gauge
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from db import monitoring, registry
from inference.profiles import PROFILE_KEY, VERDICTS, Thresholds

log = logging.getLogger(__name__)

DRIFT_PSI = Gauge(
    "skserve_drift_psi",
    "Population Stability Index of a feature or output over the recent window",
    ["model", "version", "column"],
    multiprocess_mode="livemostrecent",
)
DRIFT_VERDICT = Gauge(
    "skserve_drift_verdict",
    "Drift verdict of a feature or output: 0 stable, 1 moderate, 2 shifted",
    ["model", "version", "column"],
    multiprocess_mode="livemostrecent",
)
DRIFT_ROWS = Gauge(
    "skserve_drift_rows",
    "Logged rows the drift gauges of a version rest on",
    ["model", "version"],
    multiprocess_mode="livemostrecent",
)


class DriftGauges:
    """Refreshes the drift gauges every `interval` seconds on a daemon thread."""

    def __init__(
        self,
        engine: Engine,
        sessions: sessionmaker[Session],
        *,
        interval: float,
        window_seconds: float,
        thresholds: Thresholds,
        statement_timeout: float,
        max_requests: int = 0,
    ) -> None:
        self._engine, self._sessions = engine, sessions
        self._interval, self._window = interval, timedelta(seconds=window_seconds)
        self._thresholds, self._timeout = thresholds, statement_timeout
        self._max_requests = max_requests
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="skserve-drift-gauges", daemon=True)

    def start(self) -> None:
        """Start refreshing."""
        self._thread.start()

    def stop(self) -> None:
        """Stop refreshing; a refresh under way is not waited for long (the thread is a daemon)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=1)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.refresh()

    def refresh(self) -> None:
        """Compute and set the gauges of every production version with a profile once."""
        try:
            with self._sessions() as session:
                records = [r for r in registry.list_versions(session) if r.is_production]
        except Exception:  # the database may be away: try again next time
            log.warning("cannot list models for the drift gauges", exc_info=True)
            return
        for record in records:
            if record.details.get(PROFILE_KEY):
                self._refresh_version(record)

    def _refresh_version(self, record: registry.VersionRecord) -> None:
        until = datetime.now(UTC)
        window = monitoring.Window(until - self._window, until)
        labels = (record.name, str(record.version))
        try:
            with self._engine.connect() as connection, connection.begin():
                monitoring.prepare_transaction(connection, self._timeout)
                report = monitoring.window_drift(
                    connection, record, window, self._thresholds, self._max_requests
                )
        except monitoring.EmptyWindowError:
            DRIFT_ROWS.labels(*labels).set(0)
            return
        except Exception:  # a slow or failing database must not end the thread
            log.warning("cannot refresh the drift gauges of %s v%s", *labels, exc_info=True)
            return
        DRIFT_ROWS.labels(*labels).set(report["rows"])
        for group in ("features", "outputs"):
            for name, result in report[group].items():
                column = name if group == "features" else f"output:{name}"
                DRIFT_PSI.labels(*labels, column).set(result["psi"])
                DRIFT_VERDICT.labels(*labels, column).set(VERDICTS.index(result["verdict"]))
