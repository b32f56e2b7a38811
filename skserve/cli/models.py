"""`skserve models`: list, show, promote and register model versions; their traffic."""

from __future__ import annotations

# Commands import what they use inside their bodies: each loads only what it needs, and
# `skserve --help` stays fast (see COMMANDS in skserve/cli/__init__.py).
import json
from pathlib import Path

import click

from skserve.cli.environment import cli_settings, session_scope
from skserve.cli.monitoring import drift, performance
from skserve.cli.traffic import traffic


@click.group()
def models() -> None:
    """Inspect and manage registered model versions."""


models.add_command(drift)
models.add_command(performance)


def _registry_errors():
    from db.registry import ModelNotFoundError, NoProductionVersionError, VersionNotFoundError

    return (ModelNotFoundError, VersionNotFoundError, NoProductionVersionError)


@models.command("list")
def list_models() -> None:
    """Every model and version; * marks production."""
    from db.registry import list_versions

    with session_scope(cli_settings()) as session:
        records = list_versions(session)
    if not records:
        click.echo("No models registered. Train one: skserve train --spec specs/adult.toml")
        return
    for record in records:
        marker = "*" if record.is_production else " "
        metric = record.metrics.get("primary_metric")
        score = f"{metric}={record.metrics[metric]:.4f}" if metric in record.metrics else ""
        created = f"{record.created_at:%Y-%m-%d %H:%M}" if record.created_at else ""
        click.echo(
            f"{marker} {record.name:<20} v{record.version:<4} {created}  "
            f"{record.sha256[:12]}  {score}"
        )


@models.command()
@click.argument("name")
@click.option("--version", type=int, help="A version number (default: production).")
def show(name: str, version: int | None) -> None:
    """Metadata of a model version as JSON."""
    from db.registry import get_version

    try:
        with session_scope(cli_settings()) as session:
            record = get_version(session, name=name, version=version)
    except _registry_errors() as exc:
        raise click.ClickException(f"{exc}. See `skserve models list`.") from None
    details = {k: v for k, v in record.details.items() if k not in ("sample", "reference_profile")}
    details["reference_profile"] = "yes" if record.details.get("reference_profile") else "none"
    click.echo(
        json.dumps(
            {
                "name": record.name,
                "version": record.version,
                "production": record.is_production,
                "sha256": record.sha256,
                "created_at": str(record.created_at),
                "metrics": record.metrics,
                "schema": record.schema,
                "details": details,
                "data_fingerprint": record.data_fingerprint,
                "library_versions": record.library_versions,
            },
            indent=2,
            default=str,
        )
    )


@models.command()
@click.argument("name")
@click.argument("version", type=int)
def promote(name: str, version: int) -> None:
    """Make VERSION the production version of NAME."""
    from db.registry import promote as promote_version

    try:
        with session_scope(cli_settings()) as session:
            promote_version(session, name=name, version=version)
    except _registry_errors() as exc:
        raise click.ClickException(f"{exc}. See `skserve models list`.") from None
    click.echo(f"{name} v{version} is now in production; running APIs switch within seconds.")


@models.command()
@click.argument("name")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--schema",
    "schema_path",
    type=click.Path(exists=True, dir_okay=False),
    help="JSON feature schema, when the pipeline does not reveal its inputs.",
)
@click.option(
    "--sample",
    "sample_path",
    type=click.Path(exists=True, dir_okay=False),
    help="CSV of rows like those it will serve (a holdout): the reference profile for drift.",
)
@click.option("--promote", "promote_now", is_flag=True, help="Promote the new version.")
def register(
    name: str, path: Path, schema_path: str | None, sample_path: str | None, promote_now: bool
) -> None:
    """Register a cloudpickled pipeline file (e.g. ./binary/pipeline.pkl) as a new version."""
    import pandas as pd

    from db.registry import inspection_limits, register_pipeline
    from db.registry import promote as promote_version
    from inference.inspection import InvalidPipelineError

    schema = json.loads(Path(schema_path).read_text()) if schema_path else None
    sample = pd.read_csv(sample_path) if sample_path else None
    settings = cli_settings()
    try:
        with session_scope(settings) as session:
            record = register_pipeline(
                session,
                name=name,
                data=path.read_bytes(),
                schema=schema,
                source=str(path),
                sample=sample,
                limits=inspection_limits(settings),
            )
            if promote_now:
                promote_version(session, name=name, version=record.version)
    except InvalidPipelineError as exc:
        raise click.ClickException(f"{path} was not registered: {exc}") from None
    click.echo(
        f"Registered {name} v{record.version} from {path}"
        + (" and promoted it." if promote_now else ".")
    )


models.add_command(traffic)
