"""Long-running services: `skserve api` (gunicorn) and, next to it, `skserve worker`."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import click

from skserve.cli.environment import cli_settings

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
    env["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir(env.get("PROMETHEUS_MULTIPROC_DIR"))
    argv = [sys.executable, "-m", "gunicorn", "--config", GUNICORN_CONFIG, APP]
    # Replace this process so signals from a supervisor or `docker stop` reach gunicorn itself.
    os.execve(sys.executable, argv, env)


def metrics_dir(configured: str | None) -> str:
    """An empty folder for prometheus-client's multiprocess files (stale ones would add up)."""
    if configured:
        path = Path(configured)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()
        return str(path)
    return tempfile.mkdtemp(prefix="skserve-metrics-")


# --- `skserve worker`: the RQ worker entry point (owned by the batch-jobs work) -------------


@click.command()
@click.option(
    "--queue",
    "queues",
    multiple=True,
    default=("batch", "train"),
    show_default=True,
    help="Queue to work (repeat for several; earlier ones first).",
)
@click.option("--burst", is_flag=True, help="Exit once the queues are empty.")
@click.option("--name", default=None, help="Worker name shown by RQ [default: generated].")
def worker(queues: tuple[str, ...], burst: bool, name: str | None) -> None:
    """Run an RQ worker for batch chunks and training (needs REDIS_URL).

    Heavy libraries and production models are loaded before the first job. SIGTERM finishes
    the current chunk and exits; a second SIGTERM stops at once.
    """
    from worker.main import run_worker

    settings = cli_settings()
    if settings.redis_url is None:
        raise click.ClickException(
            "REDIS_URL is not set. Without Redis, batch jobs run inside the API (and inline "
            "in `skserve jobs submit`), so no worker is needed; set REDIS_URL to use workers."
        )
    run_worker(settings, queues=queues, burst=burst, name=name)
