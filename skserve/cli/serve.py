"""Long-running services: `skserve api` (gunicorn) and, next to it, `skserve worker`."""

from __future__ import annotations

# Commands import what they use inside their bodies: each loads only what it needs, and
# `skserve --help` stays fast (see COMMANDS in skserve/cli/__init__.py).
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
    "--api-workers",
    "workers",
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
    # glibc gives each of a worker's threads its own malloc arena, and the prediction log's
    # buffers, allocated by the request threads and freed by the writer, stay spread over all of
    # them: 2 arenas kept each logging worker 30 MB smaller at the same speed.
    env.setdefault("MALLOC_ARENA_MAX", "2")
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


# SageMaker's hosting contract: `docker run <image> serve` must answer /ping and /invocations on
# SAGEMAKER_BIND_TO_PORT (8080); these variables map onto gunicorn's.
SAGEMAKER_PORT = "8080"
SAGEMAKER_MODEL = Path("/opt/ml/model/pipeline.pkl")


@click.command()
def serve() -> None:
    """SageMaker's `serve`: the API on SAGEMAKER_BIND_TO_PORT (default 8080), all interfaces.

    SAGEMAKER_MODEL_SERVER_WORKERS and SAGEMAKER_MODEL_SERVER_TIMEOUT set gunicorn's workers
    and timeout; MODEL_PATH defaults to /opt/ml/model/pipeline.pkl when that file exists.
    """
    os.environ.update(sagemaker_environment(os.environ, model_file=SAGEMAKER_MODEL))
    api.callback(port=None, workers=None)


def sagemaker_environment(environ: dict[str, str] | os._Environ, model_file: Path) -> dict:
    """The variables `serve` sets from SageMaker's."""
    env = {
        "HOST": "0.0.0.0",
        "PORT": environ.get("SAGEMAKER_BIND_TO_PORT") or SAGEMAKER_PORT,
    }
    if environ.get("SAGEMAKER_MODEL_SERVER_WORKERS"):
        env["WEB_CONCURRENCY"] = environ["SAGEMAKER_MODEL_SERVER_WORKERS"]
    if environ.get("SAGEMAKER_MODEL_SERVER_TIMEOUT"):
        env["GUNICORN_TIMEOUT"] = environ["SAGEMAKER_MODEL_SERVER_TIMEOUT"]
    if not environ.get("MODEL_PATH") and model_file.is_file():
        env["MODEL_PATH"] = str(model_file)
    return env


def serve_main() -> None:
    """The `serve` executable SageMaker runs (`docker run <image> serve`)."""
    serve(args=[], prog_name="serve")


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
