"""The application factory: everything is built here, nothing at import time."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask
from sqlalchemy.engine import Engine

from api.auth import init_api_token
from api.drift_gauges import DriftGauges
from api.error_handlers import register_error_handlers
from api.json_provider import OrjsonProvider
from api.metrics import init_metrics
from api.protocols import mlflow, v2
from api.request_checks import init_request_checks
from api.request_ids import configure_logging, init_request_ids
from api.routes import docs, health, jobs, models, monitoring, predictions, traffic, training
from api.services import EXTENSION, Services, preload_models, register_model_file
from api.shadow import ShadowPredictor
from db import jobs as job_rows
from db import registry
from db.deadline import Deadline
from db.engine import make_engine, make_session_factory
from db.entities import EntityReader
from db.model_store import ModelStore, ProductionWatcher
from db.prediction_log import PredictionLogger
from inference.profiles import Thresholds
from settings import Settings, load_settings
from settings.redis_client import make_redis
from worker.context import JobContext
from worker.dispatch import RETRY_INTERVALS, Dispatcher

# Name MODEL_PATH is registered under when DEFAULT_MODEL is not set.
MODEL_PATH_NAME = "default"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the API.

    `config` may hold "SETTINGS" (a Settings; default: read from the environment),
    "START_WATCHER" (follow promotions in a background thread; default True) and
    "PRELOAD_MODELS" (load the production models before serving; default True) and
    "JOB_RETRY_INTERVALS" (seconds between a failed batch chunk's retries; default
    worker.dispatch.RETRY_INTERVALS) and "START_DRIFT_GAUGES" (refresh the drift gauges in a
    background thread, on PostgreSQL with DRIFT_GAUGE_SECONDS > 0; default: START_WATCHER),
    plus any Flask setting.
    """
    config = dict(config or {})
    settings: Settings = config.pop("SETTINGS", None) or load_settings()
    app = Flask(__name__)
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        START_WATCHER=True,
        PRELOAD_MODELS=True,
        JOB_RETRY_INTERVALS=RETRY_INTERVALS,
    )
    app.config.update(config)
    app.config.setdefault("START_DRIFT_GAUGES", app.config["START_WATCHER"])
    app.json = OrjsonProvider(app)
    configure_logging(settings.log_level, settings.log_format)
    services = build_services(settings, app.config)
    app.extensions[EXTENSION] = services
    init_request_ids(app)
    init_request_checks(app)
    init_api_token(app)
    init_metrics(app, count_jobs=lambda: count_jobs(services))
    register_error_handlers(app)
    register_blueprints(app)
    if settings.console:
        # Imported only with CONSOLE on: an API without the console never loads its views.
        from api.console import bp as console_bp

        app.register_blueprint(console_bp)
    return app


def count_jobs(services: Services) -> dict[str, int]:
    """Batch jobs by status, for /metrics."""
    with services.sessions() as session:
        return job_rows.count_by_status(session)


def build_services(settings: Settings, config: Mapping[str, Any]) -> Services:
    """Engine, model store (preloaded, watched), entity reader, Redis client and dispatcher."""
    engine = make_api_engine(settings)
    sessions = make_session_factory(engine)
    default_model = settings.default_model
    if settings.model_path:
        default_model = default_model or MODEL_PATH_NAME
        limits = registry.inspection_limits(settings)
        register_model_file(sessions, settings.model_path, default_model, limits)
    store = ModelStore(sessions, fast_path=settings.fast_path)
    if config["PRELOAD_MODELS"]:
        preload_models(store)
    watcher = None
    if config["START_WATCHER"]:
        watcher = ProductionWatcher(store, settings.model_poll_seconds)
        watcher.start()
    redis = None if settings.redis_url is None else make_redis(settings.redis_url)
    context = JobContext(settings, engine, sessions, store)
    prediction_log = PredictionLogger(
        settings.database_url,
        sample=settings.prediction_log_sample,
        max_bytes=settings.prediction_log_buffer_bytes,
    )
    intervals = tuple(config["JOB_RETRY_INTERVALS"])
    return Services(
        settings=settings,
        engine=engine,
        sessions=sessions,
        store=store,
        # Entity reads skip the pool's pre-ping round trip; EntityReader retries a dead
        # connection itself.
        entities=EntityReader(
            make_api_engine(settings, pool_pre_ping=False),
            Deadline(settings.db_statement_timeout),
        ),
        deadline=Deadline(settings.db_statement_timeout, threads=1),
        redis=redis,
        watcher=watcher,
        default_model=default_model,
        prediction_log=prediction_log,
        shadows=ShadowPredictor(prediction_log),
        dispatcher=Dispatcher(context, redis, intervals=intervals),
        drift_gauges=start_drift_gauges(settings, engine, sessions, config),
    )


def start_drift_gauges(
    settings: Settings, engine: Engine, sessions: Any, config: Mapping[str, Any]
) -> DriftGauges | None:
    """The drift gauges' refresher, started, unless turned off or on SQLite."""
    if not config["START_DRIFT_GAUGES"] or not settings.drift_gauge_seconds:
        return None
    if settings.embedded_database:
        return None
    gauges = DriftGauges(
        engine,
        sessions,
        interval=settings.drift_gauge_seconds,
        window_seconds=settings.drift_gauge_window_seconds,
        thresholds=Thresholds(settings.drift_moderate_psi, settings.drift_shifted_psi),
        statement_timeout=settings.monitoring_statement_timeout,
        max_requests=settings.drift_max_requests,
    )
    gauges.start()
    return gauges


def make_api_engine(settings: Settings, **kwargs: Any) -> Engine:
    """An engine whose connects, statements and pool waits are bounded by the DB_* settings."""
    return make_engine(
        settings.database_url,
        connect_timeout=settings.db_connect_timeout,
        statement_timeout=settings.db_statement_timeout,
        pool_timeout=settings.db_pool_timeout,
        **kwargs,
    )


def register_blueprints(app: Flask) -> None:
    """One blueprint per resource."""
    for blueprint in (
        health.bp,
        models.bp,
        traffic.bp,
        training.bp,
        predictions.bp,
        jobs.bp,
        monitoring.bp,
        docs.bp,
    ):
        app.register_blueprint(blueprint)
    for blueprint in (v2.bp, mlflow.bp):  # other servers' protocols over the same core
        app.register_blueprint(blueprint)
