"""What a command needs from its environment: settings, and a database session to work in."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import click
from sqlalchemy.orm import Session

from settings import Settings, SettingsError, load_settings


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
