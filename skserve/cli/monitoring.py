"""`skserve models drift` and `skserve models performance`: monitoring tables in a terminal.

They read the database directly (DATABASE_URL), like the other `skserve models` commands, and
compute exactly what GET /models/<name>/drift and /performance answer.
"""

from __future__ import annotations

# Commands import what they use inside their bodies: each loads only what it needs, and
# `skserve --help` stays fast (see COMMANDS in skserve/cli/__init__.py).
import contextlib
from collections.abc import Iterator
from typing import Any

import click

from skserve.cli.environment import cli_settings

WINDOW_OPTIONS = [
    click.option("--version", type=int, help="A version number (default: production)."),
    click.option("--since", help="ISO 8601 start of the window (default: 24 hours before until)."),
    click.option("--until", help="ISO 8601 end of the window (default: now)."),
]


def window_options(command: Any) -> Any:
    """Add --version, --since and --until."""
    for option in reversed(WINDOW_OPTIONS):
        command = option(command)
    return command


@contextlib.contextmanager
def monitoring_connection(settings: Any) -> Iterator[Any]:
    """A connection in one transaction, its statements bounded like the API's."""
    from db.engine import make_engine
    from db.monitoring import prepare_transaction

    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as connection, connection.begin():
            if connection.dialect.name == "postgresql":
                prepare_transaction(connection, settings.monitoring_statement_timeout)
            yield connection
    finally:
        engine.dispose()


@contextlib.contextmanager
def monitoring_errors() -> Iterator[None]:
    """The conditions a person can act on, as one-line errors."""
    from db import monitoring, registry
    from db.drift import MonitoringUnavailableError

    known = (
        registry.ModelNotFoundError,
        registry.VersionNotFoundError,
        registry.NoProductionVersionError,
        monitoring.NoReferenceProfileError,
        monitoring.EmptyWindowError,
        monitoring.InvalidWindowError,
        MonitoringUnavailableError,
    )
    try:
        yield
    except known as exc:
        raise click.ClickException(str(exc)) from None


def version_record(connection: Any, name: str, version: int | None) -> Any:
    """The registry row of a version (production when None)."""
    from sqlalchemy.orm import Session

    from db.registry import get_version

    with Session(bind=connection) as session:
        return get_version(session, name=name, version=version)


@click.command()
@click.argument("name")
@window_options
def drift(name: str, version: int | None, since: str | None, until: str | None) -> None:
    """PSI and verdict per feature and output of NAME's logged predictions in a window."""
    from db.monitoring import parse_window, window_drift
    from inference.profiles import Thresholds

    settings = cli_settings()
    thresholds = Thresholds(settings.drift_moderate_psi, settings.drift_shifted_psi)
    with monitoring_errors(), monitoring_connection(settings) as connection:
        window = parse_window(since, until)
        record = version_record(connection, name, version)
        report = window_drift(connection, record, window, thresholds, settings.drift_max_requests)
    click.echo(
        f"{report['model']} v{report['version']}, {report['rows']:,} rows "
        f"from {report['since']} to {report['until']}: {report['verdict']}"
    )
    click.echo(f"{'column':<22} {'PSI':>8}  {'verdict':<9} {'nulls':>6} {'unseen/out':>10}")
    for group in ("features", "outputs"):
        for column, result in report[group].items():
            other = result.get("unseen_share", result.get("out_of_range_share", 0.0))
            label = column if group == "features" else f"(output) {column}"
            click.echo(
                f"{label:<22} {result['psi']:>8.4f}  {result['verdict']:<9} "
                f"{result['null_share']:>6.1%} {other:>10.1%}"
            )


@click.command()
@click.argument("name")
@window_options
@click.option("--bucket", default="1h", show_default=True, help="Bucket width: 15m, 1h, 1d...")
def performance(
    name: str, version: int | None, since: str | None, until: str | None, bucket: str
) -> None:
    """Live metrics of NAME's predictions that have feedback, per bucket, next to holdout."""
    from db.monitoring import parse_bucket, parse_window
    from db.monitoring import performance as live_performance

    settings = cli_settings()
    with monitoring_errors(), monitoring_connection(settings) as connection:
        window = parse_window(since, until)
        seconds = parse_bucket(bucket, window)
        record = version_record(connection, name, version)
        report = live_performance(connection, record, window, seconds)
    names = [key for key in report["live"] if key != "rows"]
    click.echo(
        f"{report['model']} v{report['version']} from {report['since']} to {report['until']}"
    )
    click.echo(f"{'':<27} {'rows':>7} " + " ".join(f"{key:>9}" for key in names))
    holdout = report["holdout"]
    rows = [("holdout", {**holdout, "rows": holdout.get("holdout_rows")}), ("live", report["live"])]
    rows += [(bucket["start"], bucket) for bucket in report["buckets"]]
    for label, figures in rows:
        cells = " ".join(_cell(figures.get(key)) for key in names)
        count = figures.get("rows")
        click.echo(f"{label:<27} {count if count is not None else '':>7} {cells}")


def _cell(value: float | None) -> str:
    return f"{value:>9.4f}" if isinstance(value, int | float) else f"{'-':>9}"
