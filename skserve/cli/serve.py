"""Long-running services: `skserve api` (gunicorn) and, next to it, `skserve worker`."""

from __future__ import annotations

import os
import sys

import click

from skserve.cli.common import cli_settings

GUNICORN_CONFIG = "python:api.gunicorn_conf"
APP = "api.app:create_app()"


@click.command()
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Port to listen on [default: PORT or 8000].",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="gunicorn worker processes [default: WEB_CONCURRENCY or 2].",
)
def api(port: int | None, workers: int | None) -> None:
    """Serve the HTTP API under gunicorn (settings in api/gunicorn_conf.py)."""
    cli_settings()  # a bad variable fails here, naming it, instead of in every worker
    env = dict(os.environ)
    if port is not None:
        env["PORT"] = str(port)
    if workers is not None:
        env["WEB_CONCURRENCY"] = str(workers)
    argv = [sys.executable, "-m", "gunicorn", "--config", GUNICORN_CONFIG, APP]
    # Replace this process so signals from a supervisor or `docker stop` reach gunicorn itself.
    os.execve(sys.executable, argv, env)


# `skserve worker` (the RQ worker entry point) goes here.
