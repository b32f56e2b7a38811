"""`skserve db upgrade`, `skserve db load-csv` and `skserve demo-data`."""

from __future__ import annotations

# Commands import what they use inside their bodies: each loads only what it needs, and
# `skserve --help` stays fast (see COMMANDS in skserve/cli/__init__.py).
import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click
import sqlalchemy as sa

from settings import Settings
from skserve.cli.environment import cli_settings, database_errors, safe_url

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar


@click.group()
def db() -> None:
    """Database schema and data loading."""


@db.command()
@click.option("--revision", default="head", show_default=True, help="Alembic revision.")
def upgrade(revision: str) -> None:
    """Apply the schema migrations, then print the database's revision."""
    from db import migrate

    settings = cli_settings()
    with database_errors(settings):
        migrate.upgrade(settings.database_url, revision)
        now = migrate.current(settings.database_url)
    click.echo(f"{safe_url(settings.database_url)} is at revision {now}")


@db.command("load-csv")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--table", required=True, help="Table to create.")
@click.option(
    "--id-column",
    default="id",
    show_default=True,
    help="Integer primary key, as batch jobs need: the CSV's own column of that name, "
    "or generated 1..N in file order when the CSV has none.",
)
@click.option("--replace", is_flag=True, help="Drop and reload the table if it exists.")
def load_csv(path: Path, table: str, id_column: str, replace: bool) -> None:
    """Load a CSV file (or .csv.gz) with a header row into a new table."""
    from db.csv_files import CsvLoadError
    from db.csv_loader import TableExistsError
    from db.csv_loader import load_csv as load
    from db.identifiers import InvalidIdentifierError

    settings = cli_settings()
    with database_errors(settings), with_engine(settings) as engine:
        try:
            with progress_bar(path.stat().st_size, f"Loading {path.name}") as bar:
                rows = load(
                    engine, path, table, id_column=id_column, replace=replace, progress=bar.update
                )
        except TableExistsError as exc:
            raise click.ClickException(
                f"{exc}; add --replace to reload it, or pick another --table"
            ) from None
        except InvalidIdentifierError as exc:
            raise click.ClickException(f"{exc}. Rename it and load again.") from None
        except CsvLoadError as exc:
            raise click.ClickException(
                f"{path}: {exc}. Nothing was loaded; fix and retry."
            ) from None
    click.echo(f"Loaded {rows:,} rows into {table} (id column {id_column}).")


@click.command("demo-data")
@click.option("--replace", is_flag=True, help="Reload the demo tables even if they exist.")
def demo_data(replace: bool) -> None:
    """Load the bundled UCI Adult data into adult_training and adult_features."""
    from db import demo

    settings = cli_settings()
    with database_errors(settings), with_engine(settings) as engine:
        if not replace and demo.demo_data_loaded(engine):
            click.echo(f"Demo data already loaded ({demo.DEMO_ROWS:,} rows); --replace reloads.")
            return
        try:
            with progress_bar(2 * demo.DEMO_CSV.stat().st_size, "Loading demo data") as bar:
                counts = demo.load_demo_data(engine, replace=replace, progress=bar.update)
        except demo.DemoDataError as exc:
            raise click.ClickException(
                f"{exc}; run `skserve demo-data --replace` to reload it"
            ) from None
    for table, rows in counts.items():
        click.echo(f"{table}: {rows:,} rows")


def progress_bar(total_bytes: int, label: str) -> ProgressBar[int]:
    """A progress bar over bytes on stderr; loaders call its `update` with bytes read."""
    return click.progressbar(length=total_bytes, label=label, file=sys.stderr)


@contextlib.contextmanager
def with_engine(settings: Settings) -> Iterator[sa.Engine]:
    """An engine for the configured database, disposed afterwards."""
    from db.engine import make_engine

    engine = make_engine(settings.database_url)
    try:
        yield engine
    finally:
        engine.dispose()
