"""Prometheus metrics, correct across gunicorn workers (prometheus-client multiprocess mode).

`skserve api` points PROMETHEUS_MULTIPROC_DIR at an empty folder before gunicorn starts, so
every worker writes its samples there and /metrics sums them. Without it (tests, the Flask dev
server) the metrics are per process.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

from api.openapi.declare import documented
from api.openapi.schemas import content_response

REQUESTS = Counter(
    "skserve_http_requests_total",
    "HTTP requests by route and status",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "skserve_http_request_duration_seconds",
    "HTTP request latency by route",
    ["route"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
PREDICTIONS = Counter(
    "skserve_predictions_total", "Rows predicted online by model and version", ["model", "version"]
)
ERRORS = Counter("skserve_errors_total", "Error responses by error code", ["error_code"])
SHADOW_PREDICTIONS = Counter(
    "skserve_shadow_predictions_total", "Rows predicted by shadow versions", ["model", "version"]
)
SHADOW_DROPPED = Counter(
    "skserve_shadow_dropped_total",
    "Requests not predicted by their shadow versions because the shadow queue was full",
    ["model"],
)
SHADOW_ERRORS = Counter(
    "skserve_shadow_errors_total", "Shadow predictions that raised", ["model", "version"]
)


class JobStatusCollector:
    """`skserve_batch_jobs{status=...}`, counted in PostgreSQL (the source of truth) per scrape."""

    def __init__(self, count_jobs: Callable[[], dict[str, int]]) -> None:
        self._count_jobs = count_jobs

    def collect(self):  # noqa: ANN201 - prometheus-client's collector protocol
        family = GaugeMetricFamily("skserve_batch_jobs", "Batch jobs by status", labels=["status"])
        try:
            counts = self._count_jobs()
        except Exception:  # a scrape must not fail because the database is away
            counts = {}
        for status, count in sorted(counts.items()):
            family.add_metric([status], count)
        yield family


def _route() -> str:
    rule = request.url_rule
    return rule.rule if rule is not None else "<unmatched>"


def request_milliseconds() -> float:
    """Milliseconds since this request reached the app (0 outside a timed request)."""
    started = g.get("metrics_started")
    return (time.perf_counter() - started) * 1000 if started is not None else 0.0


def init_metrics(app: Flask, count_jobs: Callable[[], dict[str, int]] | None = None) -> None:
    """Time and count every request, and serve GET /metrics."""

    @app.before_request
    def _start_timer() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _record(response: Response) -> Response:
        started = g.pop("metrics_started", None)
        route = _route()
        if started is not None:
            LATENCY.labels(route).observe(time.perf_counter() - started)
        REQUESTS.labels(request.method, route, str(response.status_code)).inc()
        return response

    @app.get("/metrics")
    @documented(
        "Prometheus metrics, summed over the gunicorn workers",
        responses={"200": content_response("Prometheus text format", "text/plain")},
    )
    def metrics() -> Response:
        body = generate_latest(_request_registry())
        if count_jobs is not None:
            jobs = CollectorRegistry()
            jobs.register(JobStatusCollector(count_jobs))
            body += generate_latest(jobs)
        return Response(body, mimetype=CONTENT_TYPE_LATEST)


def _request_registry() -> CollectorRegistry:
    """All workers' samples in multiprocess mode, else this process's."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry
