"""`skserve train`: fit a spec on the database and register a new version."""

from __future__ import annotations

import time

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
    started = time.perf_counter()

    def progress(message: str) -> None:
        click.echo(f"[{time.perf_counter() - started:6.1f}s] {message}")

    engine = make_engine(settings.database_url)
    try:
        spec = load_spec(spec_path)
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
