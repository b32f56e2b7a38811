"""Engine and session factories; nothing connects until a caller asks."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str, **kwargs: object) -> Engine:
    """An engine for `url`; for SQLite files the parent folder is created first."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    if parsed.get_backend_name() == "postgresql":
        kwargs.setdefault("pool_pre_ping", True)
    return sa.create_engine(url, **kwargs)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to `engine`; callers own commit and close."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def is_postgres(bind: Engine | sa.Connection | Session) -> bool:
    """True when `bind` talks to PostgreSQL (COPY and other fast paths apply)."""
    engine = bind.get_bind() if isinstance(bind, Session) else bind
    return engine.dialect.name == "postgresql"


def create_database(url: str) -> bool:
    """Create the PostgreSQL database named in `url` unless it exists; True when created."""
    target = sa.make_url(url)
    if target.get_backend_name() != "postgresql":
        return False
    server = make_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as connection:
            exists = connection.scalar(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"),
                {"name": target.database},
            )
            if not exists:
                quoted = server.dialect.identifier_preparer.quote(target.database)
                connection.execute(sa.text(f"CREATE DATABASE {quoted}"))
    finally:
        server.dispose()
    return not exists
