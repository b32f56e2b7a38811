"""Engine and session factories; nothing connects until a caller asks."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_POOL_TIMEOUT = 30.0
# TCP keepalives notice a server host that vanished (not a stopped server process: its kernel
# still answers; the client-side deadline in db/deadline.py covers that).
KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}


def make_engine(
    url: str | sa.URL,
    *,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    statement_timeout: float | None = None,
    pool_timeout: float = DEFAULT_POOL_TIMEOUT,
    server_settings: dict[str, str] | None = None,
    **kwargs: Any,
) -> Engine:
    """An engine for `url`; for SQLite files the parent folder is created first.

    On PostgreSQL, opening a connection gives up after `connect_timeout` seconds, the server
    cancels statements running longer than `statement_timeout` (None: no limit), waiting
    for a pooled connection gives up after `pool_timeout` seconds, and every connection starts
    with `server_settings` (PostgreSQL parameters, e.g. synchronous_commit).
    """
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    if parsed.get_backend_name() == "postgresql":
        kwargs.setdefault("pool_pre_ping", True)
        connect_args = {**KEEPALIVES, "connect_timeout": max(1, math.ceil(connect_timeout))}
        options = dict(server_settings or {})
        if statement_timeout is not None:
            options["statement_timeout"] = str(int(statement_timeout * 1000))
        if options:
            connect_args["options"] = " ".join(f"-c {k}={v}" for k, v in options.items())
        kwargs["connect_args"] = {**connect_args, **kwargs.get("connect_args", {})}
        if kwargs.get("poolclass") is None:
            kwargs.setdefault("pool_timeout", pool_timeout)
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
