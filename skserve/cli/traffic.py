"""`skserve models traffic`: show or set a model's production, canary and shadow versions."""

from __future__ import annotations

# Commands import what they use inside their bodies: each loads only what it needs, and
# `skserve --help` stays fast (see COMMANDS in skserve/cli/__init__.py).
from dataclasses import replace
from typing import TYPE_CHECKING

import click

from skserve.cli.environment import cli_settings, session_scope

if TYPE_CHECKING:
    from db.traffic import Traffic


@click.command()
@click.argument("name")
@click.option("--production", type=int, help="Make this version production (in the same change).")
@click.option("--canary", type=int, help="The version answering --percent of requests.")
@click.option("--percent", type=float, help="The canary's share of requests, 0-100.")
@click.option(
    "--shadow", type=int, multiple=True, help="A version predicting every request unseen (repeat)."
)
@click.option("--clear", is_flag=True, help="Remove the canary and the shadows first.")
def traffic(
    name: str,
    production: int | None,
    canary: int | None,
    percent: float | None,
    shadow: tuple[int, ...],
    clear: bool,
) -> None:
    """Show NAME's traffic, or change it; options not given keep their current value."""
    from db.registry import ModelNotFoundError, VersionNotFoundError
    from db.traffic import InvalidTrafficError, read_traffic, set_traffic

    options = (production, canary, percent)
    changing = clear or bool(shadow) or any(option is not None for option in options)
    try:
        with session_scope(cli_settings()) as session:
            current = read_traffic(session, name=name)
            if changing:
                wanted = changed(current, production, canary, percent, shadow, clear)
                current = set_traffic(session, name=name, wanted=wanted)
    except (ModelNotFoundError, VersionNotFoundError, InvalidTrafficError) as exc:
        raise click.ClickException(f"{exc}. See `skserve models list`.") from None
    click.echo(traffic_table(name, current))
    if changing:
        click.echo("Running APIs follow within seconds (MODEL_POLL_SECONDS).")


def changed(
    current: Traffic,
    production: int | None,
    canary: int | None,
    percent: float | None,
    shadow: tuple[int, ...],
    clear: bool,
) -> Traffic:
    """`current` with the command line's options applied."""
    if clear:
        current = replace(current, canary_version=None, canary_percent=0.0, shadow=())
    if canary is not None:
        if percent is None and current.canary_version is None:
            raise click.UsageError("--canary needs --percent (the canary's share of requests)")
        current = replace(current, canary_version=canary)
    if percent is not None:
        if current.canary_version is None:
            raise click.UsageError("--percent needs --canary VERSION")
        current = replace(current, canary_percent=percent)
    if shadow:
        current = replace(current, shadow=tuple(shadow))
    if production is not None:
        current = replace(current, production=production)
    return current


def traffic_table(name: str, traffic: Traffic) -> str:
    """A table a person can read: one line per role."""
    percent = traffic.canary_percent if traffic.canary_version is not None else 0.0
    lines = [f"{name}", f"  {'role':<11} {'version':<8} requests answered"]
    production = f"v{traffic.production}" if traffic.production is not None else "-"
    lines.append(f"  {'production':<11} {production:<8} {100 - percent:g} %")
    if traffic.canary_version is not None:
        lines.append(f"  {'canary':<11} v{traffic.canary_version:<7} {percent:g} %")
    for version in traffic.shadow:
        lines.append(f"  {'shadow':<11} v{version:<7} 0 % (predicts every request, logged only)")
    return "\n".join(lines)
