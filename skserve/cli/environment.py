"""What a command needs from its environment: settings, and a database session to work in."""

from __future__ import annotations

# Commands import what they use inside their bodies: each loads only what it needs, and
# `skserve --help` stays fast (see COMMANDS in skserve/cli/__init__.py).
import contextlib
from collections.abc import Iterator

import click
import sqlalchemy as sa
from sqlalchemy.orm import Session

from settings import Settings, SettingsError, load_settings

START_DATABASE = (
    "Start PostgreSQL (`docker compose up -d postgres`) or point DATABASE_URL at a reachable "
    "server; unset DATABASE_URL to use the embedded SQLite file."
)
MISSING_TABLE = ("no such table", "does not exist")


def cli_settings() -> Settings:
    """Settings from the environment, as a CLI error when a variable is bad."""
    try:
        return load_settings()
    except SettingsError as exc:
        raise click.ClickException(f"{exc}. Fix the variable (see .env.example).") from None


@contextlib.contextmanager
def session_scope(settings: Settings) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on error."""
    from db.engine import make_engine, make_session_factory

    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    try:
        with factory() as session, session.begin():
            yield session
    finally:
        engine.dispose()


def safe_url(url: str) -> str:
    """The database URL with any password hidden."""
    return sa.make_url(url).render_as_string(hide_password=True)


@contextlib.contextmanager
def database_errors(settings: Settings | None = None) -> Iterator[None]:
    """Turn 'cannot connect' and other database errors into a message saying what to do."""
    try:
        yield
    except sa.exc.SQLAlchemyError as exc:
        url = settings.database_url if settings is not None else configured_database_url()
        raise click.ClickException(describe_database_error(exc, url)) from None


def configured_database_url() -> str:
    """DATABASE_URL as the settings resolve it (for messages; a bad one is shown as given)."""
    try:
        return safe_url(load_settings().database_url)
    except (SettingsError, sa.exc.ArgumentError):
        return "DATABASE_URL"


def describe_database_error(exc: sa.exc.SQLAlchemyError, url: str) -> str:
    """One or two lines: which database, what went wrong, what to do."""
    where = safe_url(url) if "://" in url else url
    if not isinstance(exc, sa.exc.OperationalError | sa.exc.ProgrammingError):
        return f"Database error at {where}: {exc}"
    reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
    if any(words in reason for words in MISSING_TABLE):
        hint = "If skserve's own tables are missing, run `skserve db upgrade` first."
        return f"The database at {where}: {reason}. {hint}"
    return f"Cannot use the database at {where}: {reason}. {START_DATABASE}"
