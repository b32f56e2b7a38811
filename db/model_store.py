"""Loaded models, cached per process, following the registry's production versions."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from db import registry
from inference.model import LoadedModel, enable_fast_path, load_model

log = logging.getLogger(__name__)

# Models the gunicorn master loaded before forking its workers (api/gunicorn_conf.py): each
# worker's store starts from them and shares their memory pages instead of unpickling copies.
inherited: dict[tuple[str, int], LoadedModel] = {}


@dataclass
class LoadFailure:
    """A production version this process could not load (kept for /ready)."""

    name: str
    version: int
    error: str
    at: float = field(default_factory=time.time)


class ModelStore:
    """Per-process cache of LoadedModel by (name, version) plus the production pointer.

    A promotion is picked up by `refresh()`: the new version is loaded first and only then
    becomes production, so requests never wait on a load and a version that fails to load is
    never switched to. Its fast path is compiled after the switch (until then it answers on the
    scikit-learn path, with the same results), so the switch happens within a poll interval.
    Requests hold a reference to the model they started with.
    """

    def __init__(self, sessions: sessionmaker[Session], *, fast_path: bool = True) -> None:
        self._sessions = sessions
        self._fast_path = fast_path
        self._loaded: dict[tuple[str, int], LoadedModel] = dict(inherited)
        self._production: dict[str, int] = {}
        self._lock = threading.Lock()
        self.failures: dict[str, LoadFailure] = {}

    def production(self, name: str) -> LoadedModel:
        """The production version of `name` (loaded on first use)."""
        version = self._production.get(name)
        if version is None:
            with self._sessions() as session:
                version = registry.get_version(session, name=name).version
            self.get(name, version)
            self._production[name] = version
        return self.get(name, version)

    def get(self, name: str, version: int, *, compile_now: bool = True) -> LoadedModel:
        """A specific version, loaded once per process (fast path compiled unless deferred)."""
        model = self._loaded.get((name, version))
        if model is not None:
            return model
        with self._lock:
            model = self._loaded.get((name, version))
            if model is None:
                model = self._load(name, version, compile_now)
                self._loaded[(name, version)] = model
        return model

    def _load(self, name: str, version: int, compile_now: bool) -> LoadedModel:
        with self._sessions() as session:
            record = registry.get_version(session, name=name, version=version)
            data = registry.get_artifact(session, name=name, version=version)
        started = time.perf_counter()
        model = load_model(
            name,
            version,
            data,
            record.metadata(),
            sha256=record.sha256,
            fast_path=self._fast_path and compile_now,
        )
        if self._fast_path and not compile_now:
            model.fast_path_reason = "compiling"
        log.info("loaded %s v%s in %.2f s", name, version, time.perf_counter() - started)
        return model

    def refresh(self) -> dict[str, int]:
        """Follow promotions: load new production versions, then switch to them."""
        with self._sessions() as session:
            current = registry.production_versions(session)
        for name, version in current.items():
            if self._production.get(name) == version:
                continue
            try:
                model = self.get(name, version, compile_now=False)
            except Exception as exc:  # any load failure must keep serving the old version
                log.exception(
                    "cannot load %s v%s; still serving v%s",
                    name,
                    version,
                    self._production.get(name),
                )
                self.failures[name] = LoadFailure(name, version, f"{type(exc).__name__}: {exc}")
                continue
            self.failures.pop(name, None)
            self._production[name] = version
            self._evict(name, keep=version)
            if model.fast_path_reason == "compiling":
                enable_fast_path(model)
        return dict(self._production)

    def preload(self) -> None:
        """Load every production model now (before serving or taking jobs)."""
        self.refresh()

    def _evict(self, name: str, keep: int) -> None:
        # Keep the last two versions: pinned requests to the previous one stay cheap.
        versions = sorted(v for n, v in self._loaded if n == name)
        for version in versions[:-2]:
            if version != keep:
                self._loaded.pop((name, version), None)

    def loaded(self) -> list[LoadedModel]:
        """Models currently held in memory."""
        return list(self._loaded.values())


class ProductionWatcher(threading.Thread):
    """A daemon thread calling `store.refresh()` every `interval` seconds."""

    def __init__(self, store: ModelStore, interval: float) -> None:
        super().__init__(name="skserve-model-watcher", daemon=True)
        self._store, self._interval = store, interval
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self._interval):
            try:
                self._store.refresh()
            except Exception:  # the database may be briefly away; keep serving and retry
                log.warning(
                    "model refresh failed; retrying in %.1f s", self._interval, exc_info=True
                )

    def stop(self) -> None:
        """Ask the thread to finish after its current wait."""
        self._stop_event.set()
