"""Fixtures for the db tests: one PostgreSQL schema per test, and both backends side by side.

pg_url, pg_engine, pg_connection and sqlite_engine come from tests/conftest.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from db.engine import make_engine

BACKENDS = ["postgresql", "sqlite"]


@pytest.fixture
def pg_schema_engine(pg_url: str) -> Iterator[Engine]:
    """An engine whose tables land in a fresh schema, dropped afterwards.

    For code that commits (load_csv, load_demo_data): tests stay isolated from each other and
    from the shared tables other suites load into the test database.
    """
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(pg_url)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(pg_url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def sqlite_plain_engine(tmp_path) -> Iterator[Engine]:
    """A fresh, unmigrated SQLite file: enough for user tables, and no migration cost."""
    engine = make_engine(f"sqlite:///{tmp_path / 'plain.db'}")
    yield engine
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest) -> Engine:
    """A committing engine on each backend, isolated per test."""
    name = "pg_schema_engine" if request.param == "postgresql" else "sqlite_plain_engine"
    return request.getfixturevalue(name)


@pytest.fixture(params=BACKENDS)
def connection(request: pytest.FixtureRequest) -> Iterator[sa.Connection]:
    """A connection in a transaction rolled back after the test, on each backend."""
    if request.param == "postgresql":
        yield request.getfixturevalue("pg_connection")
        return
    with request.getfixturevalue("sqlite_plain_engine").connect() as sqlite_connection:
        transaction = sqlite_connection.begin()
        yield sqlite_connection
        transaction.rollback()
