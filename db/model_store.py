"""Loaded models, cached per process, following the registry's production, canary and shadow
versions."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from db import registry
from db.traffic import Traffic, configured_traffic
from inference.model import LoadedModel, enable_fast_path, load_model

log = logging.getLogger(__name__)


@dataclass
class LoadFailure:
    """A production version this process could not load (kept for /ready)."""

    name: str
    version: int
    error: str
    at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class LoadedTraffic:
    """The canary and shadow models this process routes a model's requests to."""

    canary: LoadedModel | None
    percent: float
    shadows: tuple[LoadedModel, ...]


class ModelStore:
    """Per-process cache of LoadedModel by (name, version) plus the production pointer.

    A promotion is picked up by `refresh()`: the new version is loaded first and only then
    becomes production, so requests never wait on a load and a version that fails to load is
    never switched to. Its fast path is compiled after the switch (until then it answers on the
    scikit-learn path, with the same results), so the switch happens within a poll interval.
    Requests hold a reference to the model they started with. Canary and shadow versions
    (`traffic()`) are followed by the same refresh, loaded before they are routed to; one that
    fails to load gets no requests.
    """

    def __init__(self, sessions: sessionmaker[Session], *, fast_path: bool = True) -> None:
        self._sessions = sessions
        self._fast_path = fast_path
        self._loaded: dict[tuple[str, int], LoadedModel] = {}
        self._production: dict[str, int] = {}
        self._traffic: dict[str, LoadedTraffic] = {}
        self._applied: dict[str, Traffic] = {}  # the settings _traffic was built from
        self._lock = threading.Lock()
        self.failures: dict[str, LoadFailure] = {}
        self.traffic_failures: dict[tuple[str, int], LoadFailure] = {}

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

    def traffic(self, name: str) -> LoadedTraffic | None:
        """The canary and shadow models of `name`, None when production answers alone."""
        return self._traffic.get(name)

    def refresh(self) -> dict[str, int]:
        """Follow promotions and traffic: load new versions, then switch to them."""
        with self._sessions() as session:
            current = registry.production_versions(session)
            traffic = configured_traffic(session)
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
        self._follow_traffic(traffic)
        return dict(self._production)

    def _follow_traffic(self, configured: dict[str, Traffic]) -> None:
        for name in set(self._traffic) - set(configured):
            del self._traffic[name]
            self._applied.pop(name, None)
        for key in [key for key in self.traffic_failures if key[0] not in configured]:
            del self.traffic_failures[key]
        for name, wanted in configured.items():
            if self._applied.get(name) == wanted:
                continue
            canary = self._load_for_traffic(name, wanted.canary_version)
            loaded = [self._load_for_traffic(name, version) for version in wanted.shadow]
            shadows = tuple(model for model in loaded if model is not None)
            self._traffic[name] = LoadedTraffic(canary, wanted.canary_percent, shadows)
            if (canary is None) == (wanted.canary_version is None) and None not in loaded:
                self._applied[name] = wanted  # else retried on the next refresh
            for model in (canary, *shadows):
                if model is not None and model.fast_path_reason == "compiling":
                    enable_fast_path(model)

    def _load_for_traffic(self, name: str, version: int | None) -> LoadedModel | None:
        if version is None:
            return None
        try:
            model = self.get(name, version, compile_now=False)
        except Exception as exc:  # a version that cannot load is never routed to
            log.exception("cannot load %s v%s; it gets no canary or shadow requests", name, version)
            failure = LoadFailure(name, version, f"{type(exc).__name__}: {exc}")
            self.traffic_failures[(name, version)] = failure
            return None
        self.traffic_failures.pop((name, version), None)
        return model

    def preload(self) -> None:
        """Load every production model now (before serving or taking jobs)."""
        self.refresh()

    def _evict(self, name: str, keep: int) -> None:
        # Keep the last two versions: pinned requests to the previous one stay cheap.
        versions = sorted(v for n, v in self._loaded if n == name)
        applied = self._applied.get(name)
        routed = applied.versions() if applied is not None else set()
        for version in versions[:-2]:
            if version != keep and version not in routed:
                self._loaded.pop((name, version), None)

    def loaded(self) -> list[LoadedModel]:
        """Models currently held in memory."""
        return list(self._loaded.values())


class ProductionWatcher(threading.Thread):
    """A daemon thread calling `store.refresh()` every `interval` seconds (promotions and
    traffic changes)."""

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
