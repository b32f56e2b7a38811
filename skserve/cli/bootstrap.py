"""The bootstrap `skserve up` and compose's trainer run: migrate, demo data, a production model."""

from __future__ import annotations

# Commands import what they use inside their bodies: each loads only what it needs, and
# `skserve --help` stays fast (see COMMANDS in skserve/cli/__init__.py).
import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from settings import Settings
from skserve.cli.db import with_engine
from skserve.cli.environment import safe_url

DEFAULT_SPEC = Path("specs") / "adult.toml"


@dataclass(frozen=True)
class Bootstrapped:
    """What the bootstrap left in place: the production model and an example input."""

    model: str
    version: int
    record: dict[str, Any]
    entity_id: Any | None
    feature_table: str | None


def default_spec_path() -> Path:
    """specs/adult.toml from the working directory, else from the source checkout."""
    if DEFAULT_SPEC.exists():
        return DEFAULT_SPEC
    return Path(__file__).resolve().parents[2] / DEFAULT_SPEC


def load_training_spec(path: Path) -> Any:
    """The training spec, or a CLI error saying what is wrong with it."""
    from trainer.spec import SpecError, load_spec

    if not path.is_file():
        raise click.ClickException(f"no training spec at {path}; pass --spec PATH")
    try:
        return load_spec(path)
    except SpecError as exc:
        raise click.ClickException(f"{path}: {exc}") from None


@contextlib.contextmanager
def step(title: str) -> Iterator[None]:
    """Print a step's title, then how long it took."""
    click.secho(f"==> {title}", bold=True)
    started = time.perf_counter()
    yield
    click.echo(f"    done in {time.perf_counter() - started:.1f} s")


def bootstrap(settings: Settings, spec: Any) -> Bootstrapped:
    """Migrate, load the demo data, and train + promote when no production model exists."""
    from db import demo
    from db.migrate import upgrade

    with step(f"migrating {safe_url(settings.database_url)}"):
        upgrade(settings.database_url)
    with with_engine(settings) as engine:
        with step("loading the demo data (adult_training, adult_features)"):
            if demo.demo_data_loaded(engine):
                click.echo("    already loaded")
            else:
                try:
                    demo.load_demo_data(engine)
                except demo.DemoDataError as exc:
                    click.echo(f"    skipped: {exc}")
        version = ensure_production_model(engine, spec)
        record, entity_id = example_input(engine, spec)
    return Bootstrapped(spec.name, version, record, entity_id, spec.feature_table)


def ensure_production_model(engine: Any, spec: Any) -> int:
    """The production version of the spec's model, training and promoting one if needed."""
    from sqlalchemy.orm import Session

    from db import registry
    from trainer.train import Promotion, train_model

    with Session(engine) as session:
        version = registry.production_versions(session).get(spec.name)
    if version is not None:
        click.echo(f"==> model {spec.name} v{version} is in production; not training")
        return version
    with step(f"training {spec.name} ({spec.estimator}) and promoting it"):
        report = train_model(
            engine,
            spec,
            promotion=Promotion.ALWAYS,
            progress=lambda message: click.echo(f"    {message}"),
        )
        click.echo(f"    registered and promoted {report.name} v{report.version}")
    return report.version


def example_input(engine: Any, spec: Any) -> tuple[dict[str, Any], Any | None]:
    """One real input row (and its entity id) to print as ready-to-paste examples."""
    import sqlalchemy as sa

    table = spec.feature_table or spec.table
    columns = [*spec.features, spec.id_column] if spec.feature_table else spec.features
    query = sa.select(*(sa.column(c) for c in columns)).select_from(sa.table(table)).limit(1)
    with engine.connect() as connection:
        row = connection.execute(query).mappings().first()
    if row is None:
        return {}, None
    record = {name: row[name] for name in spec.features}
    return record, row[spec.id_column] if spec.feature_table else None
