"""Alembic environment: run by `db.migrate`, which passes the URL in `config.attributes`."""

from __future__ import annotations

from alembic import context
from sqlalchemy.pool import NullPool

from db.engine import make_engine
from db.migrate import owned_by_skserve
from db.tables import metadata

config = context.config


def _configure_and_run(**kwargs: object) -> None:
    context.configure(
        target_metadata=metadata, compare_type=True, include_name=owned_by_skserve, **kwargs
    )
    with context.begin_transaction():
        context.run_migrations()


def run_offline() -> None:
    """Emit the SQL instead of running it (`alembic upgrade --sql`)."""
    _configure_and_run(url=config.attributes["database_url"], literal_binds=True)


def run_online() -> None:
    """Connect and migrate; SQLite gets batch mode so later ALTERs work there too."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure_and_run(connection=connection, render_as_batch=True)
        return
    engine = make_engine(config.attributes["database_url"], poolclass=NullPool)
    try:
        with engine.connect() as connection:
            _configure_and_run(connection=connection, render_as_batch=True)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
