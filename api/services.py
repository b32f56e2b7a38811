"""What one API process holds: settings, the engine, the model store, entity reads, Redis.

Routes reach it through `services()`; it turns registry lookups into API errors so every
blueprint resolves models the same way.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import sqlalchemy as sa
from flask import current_app, request
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from api import errors
from db import registry
from db.deadline import Deadline
from db.entities import EntityReader, EntityTable
from db.model_store import ModelStore, ProductionWatcher
from db.prediction_log import PredictionLogger
from inference.artifact import sha256_of
from inference.inspection import InvalidPipelineError
from inference.isolated_inspection import InspectionLimits
from inference.model import LoadedModel
from settings import Settings

if TYPE_CHECKING:  # api.shadow imports api.serving, which imports this module
    from api.shadow import ShadowPredictor

log = logging.getLogger(__name__)

EXTENSION = "skserve"


class JobDispatcher(Protocol):
    """What the routes need from worker.dispatch.Dispatcher (built by create_app)."""

    def dispatch(self, job: Any) -> None:
        """Queue every chunk of a newly created job."""

    def train(self, run: Any) -> None:
        """Queue a recorded training run for a worker."""

    def cancel(self, job_id: str) -> Any:
        """Cancel a job; chunks not yet started will not run."""

    def shutdown(self, wait: bool = True) -> None:
        """Stop running chunks in this process."""


class StartupError(RuntimeError):
    """The API cannot start as configured; the message says what to fix."""


@dataclass
class Services:
    """Per-process state shared by the blueprints (built once by create_app)."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    store: ModelStore
    entities: EntityReader
    redis: Any = None  # redis.Redis when REDIS_URL is set; None means the embedded queue
    watcher: ProductionWatcher | None = None
    default_model: str | None = None  # DEFAULT_MODEL, or the name MODEL_PATH is registered as
    prediction_log: PredictionLogger | None = None
    shadows: ShadowPredictor | None = None
    deadline: Deadline | None = None  # bounds the /ready database check
    dispatcher: JobDispatcher | None = None
    drift_gauges: Any = None  # api.drift_gauges.DriftGauges when DRIFT_GAUGE_SECONDS > 0
    _only_model: str | None = field(default=None, repr=False)

    def close(self, wait: bool = True) -> None:
        """Stop the dispatcher, the watcher and the log writer; close pooled connections."""
        if self.dispatcher is not None:
            self.dispatcher.shutdown(wait=wait)
        if self.watcher is not None:
            self.watcher.stop()
        if self.drift_gauges is not None:
            self.drift_gauges.stop()
        if self.shadows is not None:
            self.shadows.stop()
        if self.prediction_log is not None:
            self.prediction_log.stop()
        if self.deadline is not None:
            self.deadline.close()
        self.entities.dispose()
        self.engine.dispose()

    def default_model_name(self) -> str:
        """DEFAULT_MODEL, else the only registered model; 503 MODEL_NOT_READY otherwise."""
        if self.default_model:
            return self.default_model
        if self._only_model is None:
            with self.sessions() as session:
                names = sorted({record.name for record in registry.list_versions(session)})
            if len(names) != 1:
                found = "no model is registered yet"
                if names:
                    found = f"{len(names)} models are registered ({', '.join(names)})"
                raise errors.ModelNotReadyError(
                    f"no default model: {found}; set DEFAULT_MODEL or call /models/<name>/predict",
                    {"models": names},
                )
            self._only_model = names[0]
        return self._only_model

    def model(self, name: str, version: str | None = None) -> LoadedModel:
        """The production version of `name`, or the version pinned by `?version=`.

        Raises the registry's and the artifact's own errors (api/error_handlers.py answers them).
        """
        number = parse_version(version)
        if number is None:
            return self.store.production(name)
        return self.store.get(name, number)

    def entity_table(self, model: LoadedModel) -> EntityTable:
        """The feature table named in the model's training spec, checked against the catalog."""
        spec = model.artifact.metadata.spec or {}
        if not spec.get("feature_table"):
            raise errors.NoFeatureTableError(
                f"model {model.name!r} v{model.version} names no feature table, so it cannot "
                "predict by id; send the features instead, or train it from a spec with "
                "[entities] table",
                {"model": model.name},
            )
        try:
            return self.entities.table(
                spec["feature_table"], spec.get("id_column", "id"), model.schema.names
            )
        except (LookupError, ValueError) as exc:
            raise errors.ServiceUnavailableError(
                f"the feature table of model {model.name!r} cannot be read: {exc}",
                {"table": spec["feature_table"]},
            ) from None


def services() -> Services:
    """The Services of the current app."""
    return current_app.extensions[EXTENSION]


def requested_model(name: str | None = None) -> LoadedModel:
    """The model a route names (the default model when it names none), at `?version=` if given."""
    svc = services()
    return svc.model(name or svc.default_model_name(), request.args.get("version"))


def parse_version(raw: str | None) -> int | None:
    """`?version=` as a positive integer (None when absent); 400 INVALID_VERSION otherwise."""
    if raw is None:
        return None
    text = raw.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 9 or int(text) < 1:
        raise errors.InvalidVersionError(
            f"version must be a positive integer such as ?version=1, got {raw!r}",
            {"version": raw},
        )
    return int(text)


def preload_models(store: ModelStore) -> None:
    """Load every production model before serving; a database that is down is not fatal."""
    try:
        store.preload()
    except sa.exc.SQLAlchemyError as exc:
        log.warning("cannot preload models (%s); /ready reports it and loading is retried", exc)


def register_model_file(
    sessions: sessionmaker[Session], path: str, name: str, limits: InspectionLimits | None = None
) -> None:
    """Register MODEL_PATH under `name` unless these bytes are already registered.

    The version is promoted when the model has no production version. Several gunicorn
    workers run this at once; the registry's per-model lock lets one of them register.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise StartupError(f"MODEL_PATH {path} cannot be read: {exc.strerror}") from None
    try:
        with sessions() as session, session.begin():
            registry.lock_model(session, name=name)  # workers start together: one registers
            record = registry.find_by_sha256(session, name=name, sha256=sha256_of(data))
            if record is None:
                source = f"MODEL_PATH {path}"
                record = registry.register_pipeline(
                    session, name=name, data=data, source=source, limits=limits
                )
                log.info("registered %s as %s v%s", path, name, record.version)
            if not registry.production_versions(session).get(name):
                registry.promote(session, name=name, version=record.version)
                log.info("promoted %s v%s to production", name, record.version)
    except InvalidPipelineError as exc:
        raise StartupError(f"MODEL_PATH {path} cannot be registered: {exc}") from None
