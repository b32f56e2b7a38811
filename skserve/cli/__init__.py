"""The `skserve` command: one entry point for every service and admin task."""

from __future__ import annotations

import importlib

import click

# name -> "module:attribute"; imported only when the command runs, so `skserve --help`
# stays fast and a heavy dependency of one command never slows another.
COMMANDS = {
    "api": "skserve.cli.serve:api",
    "db": "skserve.cli.db:db",
    "demo-data": "skserve.cli.db:demo_data",
    "jobs": "skserve.cli.jobs:jobs",
    "models": "skserve.cli.models:models",
    "predict": "skserve.cli.predict:predict",
    "serve": "skserve.cli.serve:serve",
    "train": "skserve.cli.train:train",
    "up": "skserve.cli.up:up",
    "worker": "skserve.cli.serve:worker",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        return getattr(importlib.import_module(module_name), attribute)


@click.group(cls=LazyGroup)
@click.version_option(package_name="skserve")
def main() -> None:
    """skserve: serve scikit-learn pipelines from PostgreSQL, Redis and RQ."""
