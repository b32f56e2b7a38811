"""The migrations build exactly db/tables.py, on PostgreSQL and SQLite."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from db.engine import make_engine
from db.migrate import MIGRATIONS_DIR, current, downgrade, head, owned_by_skserve, upgrade
from db.tables import metadata, model_versions

HEAD = head()


def test_head_is_the_newest_migration_file():
    newest = sorted(MIGRATIONS_DIR.glob("versions/0*.py"))[-1]
    assert newest.name.startswith(f"{HEAD}_")


def _schema_differences(connection: sa.Connection) -> list:
    opts = {"compare_type": True, "include_name": owned_by_skserve}
    context = MigrationContext.configure(connection, opts=opts)
    return compare_metadata(context, metadata)


def test_sqlite_upgrade_matches_the_tables(sqlite_url, sqlite_engine):
    assert current(sqlite_url) == HEAD
    with sqlite_engine.connect() as connection:
        assert _schema_differences(connection) == []


def test_postgres_upgrade_matches_the_tables(pg_url, pg_connection):
    assert current(pg_url) == HEAD
    assert _schema_differences(pg_connection) == []


def test_upgrade_twice_is_a_no_op(sqlite_url):
    upgrade(sqlite_url)
    assert current(sqlite_url) == HEAD


def test_fresh_database_has_no_revision_until_upgraded(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    assert current(url) is None
    upgrade(url)
    assert current(url) == HEAD
    engine = make_engine(url)
    assert set(metadata.tables) <= set(sa.inspect(engine).get_table_names())
    engine.dispose()


def test_downgrade_to_base_and_back(sqlite_url, sqlite_engine):
    downgrade(sqlite_url, "base")
    assert current(sqlite_url) is None
    assert sa.inspect(sqlite_engine).get_table_names() == ["alembic_version"]
    upgrade(sqlite_url)
    assert current(sqlite_url) == HEAD


def _version(name: str, version: int, production: bool) -> dict:
    return {
        "name": name,
        "version": version,
        "artifact": b"x",
        "sha256": "0" * 64,
        "schema": {},
        "metrics": {},
        "details": {},
        "library_versions": {},
        "is_production": production,
        "created_at": datetime.now(UTC),
    }


def _check_one_production_version_per_name(connection: sa.Connection) -> None:
    name = "migrate_test_model"
    connection.execute(model_versions.insert(), [_version(name, 1, True), _version(name, 2, False)])
    connection.execute(model_versions.insert(), [_version("other_model", 1, True)])
    with pytest.raises(sa.exc.IntegrityError), connection.begin_nested():
        connection.execute(model_versions.insert(), [_version(name, 3, True)])


def test_partial_unique_index_on_postgres(pg_connection):
    _check_one_production_version_per_name(pg_connection)


def test_partial_unique_index_on_sqlite(sqlite_engine):
    with sqlite_engine.connect() as connection:
        _check_one_production_version_per_name(connection)
        indexes = {ix["name"]: ix for ix in sa.inspect(connection).get_indexes("model_versions")}
        assert indexes["uq_model_versions_production"]["unique"]
