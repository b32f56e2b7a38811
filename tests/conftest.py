"""Shared fixtures: real PostgreSQL and Redis, never mocks of them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from db.demo import load_demo_data
from db.engine import create_database, make_engine
from db.migrate import upgrade
from db.tables import metadata
from trainer.spec import load_spec
from trainer.train import Promotion, train_model

TEST_DATABASE_URL = os.environ.get(
    "TEST_DATABASE_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/skserve_test"
)
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

START_POSTGRES = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
START_REDIS = 'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no'


def _ensure_database(url: str) -> None:
    """Create the dedicated test database when it does not exist yet."""
    try:
        create_database(url)
    except sa.exc.OperationalError as exc:
        shown = sa.make_url(url).render_as_string(hide_password=True)
        pytest.fail(
            f"PostgreSQL is not reachable at {shown}: {exc.orig}. "
            f"Start it with `{START_POSTGRES}` or set TEST_DATABASE_URL.",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def pg_url() -> str:
    """URL of the migrated test database (created if missing)."""

    _ensure_database(TEST_DATABASE_URL)
    _drop_skserve_tables(TEST_DATABASE_URL)
    upgrade(TEST_DATABASE_URL)
    return TEST_DATABASE_URL


def _drop_skserve_tables(url: str) -> None:
    """Every run migrates from scratch: an empty registry and job history, and the migrations
    themselves exercised (user tables such as the Adult data are kept)."""

    names = [table.name for table in metadata.sorted_tables] + ["alembic_version"]
    engine = make_engine(url)
    with engine.begin() as conn:
        for name in names:
            conn.execute(sa.text(f'DROP TABLE IF EXISTS "{name}" CASCADE'))
    engine.dispose()


@pytest.fixture(scope="session")
def pg_engine(pg_url: str) -> Iterator[Engine]:
    """Engine on the test database, shared by the whole run."""
    engine = make_engine(pg_url)
    yield engine
    engine.dispose()


@pytest.fixture
def pg_connection(pg_engine: Engine) -> Iterator[sa.Connection]:
    """A connection inside an outer transaction that is rolled back after the test."""
    with pg_engine.connect() as connection:
        transaction = connection.begin()
        yield connection
        transaction.rollback()


@pytest.fixture
def pg_session(pg_connection: sa.Connection) -> Iterator[Session]:
    """A session joined to the rolled-back outer transaction (commits become savepoints)."""
    with Session(bind=pg_connection, join_transaction_mode="create_savepoint") as session:
        yield session


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    """A fresh, migrated embedded database file."""

    url = f"sqlite:///{tmp_path / 'skserve.db'}"
    upgrade(url)
    return url


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    """Engine on a fresh, migrated SQLite file."""
    engine = make_engine(sqlite_url)
    yield engine
    engine.dispose()


@pytest.fixture
def redis_conn():
    """A real Redis connection on a dedicated index, flushed before and after the test."""

    conn = redis.Redis.from_url(TEST_REDIS_URL, socket_timeout=10)
    try:
        conn.ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.fail(
            f"Redis is not reachable at {TEST_REDIS_URL}: {exc}. "
            f"Start it with `{START_REDIS}` or set TEST_REDIS_URL.",
            pytrace=False,
        )
    conn.flushdb()
    yield conn
    conn.flushdb()
    conn.close()


@pytest.fixture(scope="session")
def demo_tables(pg_engine: Engine) -> Engine:
    """The bundled Adult tables, loaded (committed) into the test database once per run."""

    load_demo_data(pg_engine)
    return pg_engine


@pytest.fixture(scope="session")
def adult_spec():
    """The shipped Adult spec (specs/adult.toml)."""

    return load_spec(Path(__file__).resolve().parents[1] / "specs" / "adult.toml")


@pytest.fixture(scope="session")
def adult_model(demo_tables: Engine, adult_spec):
    """The real Adult model, trained once per run by the trainer's own code and promoted."""

    return train_model(demo_tables, adult_spec, promotion=Promotion.ALWAYS)
