"""What job functions need in a worker process: settings, the engine, sessions, loaded models."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from db.engine import make_engine, make_session_factory
from db.model_store import ModelStore
from settings import Settings, load_settings


@dataclass
class JobContext:
    """Per-process state shared by every job this process runs."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    store: ModelStore

    @classmethod
    def from_settings(cls, settings: Settings) -> JobContext:
        """Engine, session factory and an empty model store for `settings`."""
        engine = make_engine(settings.database_url)
        sessions = make_session_factory(engine)
        return cls(settings, engine, sessions, ModelStore(sessions, fast_path=settings.fast_path))


_current: JobContext | None = None
_lock = threading.Lock()


def use_context(context: JobContext | None) -> None:
    """Make `context` the one job functions in this process use (None forgets it)."""
    global _current
    with _lock:
        _current = context


def current_context() -> JobContext:
    """This process's context; built from the environment on first use (e.g. under `rq worker`)."""
    global _current
    with _lock:
        if _current is None:
            _current = JobContext.from_settings(load_settings())
        return _current
