"""`skserve train`: fit a spec on the database and register a new version."""

from __future__ import annotations

# Commands import what they use inside their bodies: each loads only what it needs, and
# `skserve --help` stays fast (see COMMANDS in skserve/cli/__init__.py).
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click

from skserve.cli.environment import cli_settings


@click.command()
@click.option(
    "--spec",
    "spec_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="Training spec (TOML), e.g. specs/adult.toml.",
)
@click.option("--promote", "promotion", flag_value="always", help="Promote the new version.")
@click.option(
    "--promote-if-better",
    "promotion",
    flag_value="if_better",
    help="Promote only when the primary metric beats production.",
)
def train(spec_path: str, promotion: str | None) -> None:
    """Train the model a spec describes and register it as a new version."""
    from db.engine import make_engine
    from trainer.spec import SpecError, load_spec
    from trainer.train import Promotion, train_model

    settings = cli_settings()
    engine = make_engine(settings.database_url)
    try:
        spec = load_spec(spec_path)
        with stage_lines() as progress:
            report = train_model(
                engine, spec, promotion=Promotion(promotion or "no"), progress=progress
            )
    except SpecError as exc:
        raise click.ClickException(f"{exc}. Fix the spec and run again.") from None
    finally:
        engine.dispose()
    click.echo(
        f"\nRegistered {report.name} version {report.version} "
        f"({report.rows:,} rows, {report.seconds:.1f} s); {report.reason}."
    )
    for key, value in report.metrics.items():
        if isinstance(value, float):
            click.echo(f"  {key:<14} {value:.4f}")
    if not report.promoted:
        click.echo(f"Promote it with: skserve models promote {report.name} {report.version}")


@contextmanager
def stage_lines(every: float = 5.0) -> Iterator[Callable[[str], None]]:
    """A progress callback printing each stage on stderr with the elapsed time, and while a
    stage runs (the fit takes seconds), the elapsed time: updated in place on a terminal, a
    "still ..." line every `every` seconds otherwise."""
    started = time.perf_counter()
    current = {"stage": "starting"}
    done = threading.Event()
    tty = sys.stderr.isatty()

    def elapsed() -> str:
        return f"[{time.perf_counter() - started:6.1f}s]"

    def progress(message: str) -> None:
        current["stage"] = message
        click.echo(("\r\033[K" if tty else "") + f"{elapsed()} {message}", err=True)

    def tick() -> None:
        while not done.wait(0.2 if tty else every):
            if tty:
                click.echo(f"\r\033[K{elapsed()} {current['stage']} ...", err=True, nl=False)
            else:
                click.echo(f"{elapsed()} still {current['stage']}", err=True)

    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()
    try:
        yield progress
    finally:
        done.set()
        ticker.join()
        if tty:
            click.echo("\r\033[K", err=True, nl=False)
