"""`skserve up`: the whole platform on one machine, as `docker compose up` runs it."""

from __future__ import annotations

# Commands import what they use inside their bodies: each loads only what it needs, and
# `skserve --help` stays fast (see COMMANDS in skserve/cli/__init__.py).
import contextlib
import json
import os
import secrets
import shlex
import signal
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import click

from settings import Settings
from settings.redis_client import make_redis
from skserve.cli.bootstrap import (
    DEFAULT_SPEC,
    Bootstrapped,
    bootstrap,
    default_spec_path,
    load_training_spec,
    step,
)
from skserve.cli.environment import cli_settings, database_errors, safe_url
from skserve.cli.supervisor import Child, Supervisor

LOCAL_HOST = "127.0.0.1"
START_REDIS = "Start Redis (`redis-server`) or unset REDIS_URL to run jobs inside the API."


class ChildExited(click.ClickException):
    """A supervised process exited while it should have been serving."""

    def __init__(self, child: Child) -> None:
        code = child.process.returncode
        super().__init__(f"{child.name} exited with code {code}; stopped everything else")


@click.command()
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(min=0),
    help="RQ workers to start (only with REDIS_URL; without it jobs run inside the API).",
)
@click.option(
    "--port",
    default=8000,
    envvar="PORT",
    show_default=True,
    type=click.IntRange(1, 65535),
    help="API port (or PORT).",
)
@click.option(
    "--api-workers",
    type=click.IntRange(min=1),
    default=None,
    help="gunicorn worker processes [default: WEB_CONCURRENCY or the API's own default].",
)
@click.option(
    "--spec",
    "spec_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=f"Spec trained when no production model exists [default: {DEFAULT_SPEC}].",
)
@click.option(
    "--bootstrap-only",
    is_flag=True,
    help="Migrate, load the demo data and train if needed, then exit (compose's trainer).",
)
@click.option(
    "--ready-timeout", default=120.0, show_default=True, help="Seconds to wait for /ready."
)
@click.option(
    "--stop-timeout",
    default=15.0,
    show_default=True,
    help="Seconds a process gets to stop after SIGTERM before it is killed.",
)
def up(
    workers: int,
    port: int,
    api_workers: int | None,
    spec_path: Path | None,
    bootstrap_only: bool,
    ready_timeout: float,
    stop_timeout: float,
) -> None:
    """Migrate, load demo data, train if no model is in production, then serve until Ctrl-C."""
    settings = cli_settings()
    spec = load_training_spec(spec_path or default_spec_path())
    host = probe_host()
    if not bootstrap_only:
        check_port_free(host, port)
        check_redis(settings)
    with database_errors(settings):
        ready = bootstrap(settings, spec)
    if bootstrap_only:
        return
    worker_count = plan_workers(settings, workers)
    env = child_environment(settings, ready.model)
    supervisor = Supervisor(env=env, stop_timeout=stop_timeout)
    with handle_signals(supervisor):
        try:
            supervisor.start("api", api_command(port, api_workers))
            for number in range(1, worker_count + 1):
                supervisor.start(f"worker-{number}", skserve_command("worker"), restart=True)
            base_url = f"http://{host}:{port}"
            with step(f"waiting for {base_url}/ready"):
                wait_until_ready(f"{base_url}/ready", supervisor, ready_timeout)
            if not supervisor.stop_requested.is_set():
                print_banner(base_url, settings, ready, worker_count)
                if not settings.admin_token:
                    click.echo(session_token_line(env["ADMIN_TOKEN"]))
            crashed = supervisor.wait()
        finally:
            supervisor.stop()
    if crashed is not None:
        raise ChildExited(crashed)
    click.echo("Stopped.")


def probe_host() -> str:
    """The address to reach the API on: HOST (default 127.0.0.1), or loopback for a wildcard."""
    host = os.environ.get("HOST") or LOCAL_HOST
    return LOCAL_HOST if host in ("0.0.0.0", "::") else host


def check_port_free(host: str, port: int) -> None:
    """Fail before any work when something already listens on the API port."""
    with socket.socket() as probe:
        probe.settimeout(1)
        if probe.connect_ex((host, port)) == 0:
            raise click.ClickException(f"port {port} is already in use; pass --port N")


def check_redis(settings: Settings) -> None:
    """Fail fast, naming the URL, when REDIS_URL is set but Redis does not answer."""
    if settings.redis_url is None:
        return
    import redis

    connection = make_redis(settings.redis_url)
    try:
        connection.ping()
    except redis.RedisError as exc:
        shown = safe_url(settings.redis_url)
        raise click.ClickException(f"cannot reach Redis at {shown}: {exc}. {START_REDIS}") from None
    finally:
        connection.close()


def plan_workers(settings: Settings, requested: int) -> int:
    """How many RQ workers to start: none without Redis, since jobs then run in the API."""
    if settings.redis_url is None:
        if requested:
            click.echo("==> REDIS_URL is not set: jobs run inside the API; starting no workers")
        return 0
    return requested


def child_environment(settings: Settings, model: str) -> dict[str, str]:
    """The environment every child gets: ours, with the database and default model pinned."""
    env = dict(os.environ)
    env["DATABASE_URL"] = settings.database_url
    env.setdefault("DEFAULT_MODEL", model)
    env.setdefault("HOST", LOCAL_HOST)  # natively, serve this machine only unless asked
    if not settings.admin_token:  # so the tour's admin steps work; printed once by `up`
        env["ADMIN_TOKEN"] = secrets.token_urlsafe(24)
    env["PYTHONUNBUFFERED"] = "1"  # children's lines stream as they are written
    return env


def session_token_line(token: str) -> str:
    """The one place a generated admin token is shown."""
    return (
        f"Admin token for this session (ADMIN_TOKEN was not set): {token}\n"
        f"  export ADMIN_TOKEN={token}   # then the README tour's promote step works\n"
    )


def skserve_command(*args: str) -> list[str]:
    """argv running `skserve ARGS` with the same Python environment as this process."""
    script = Path(sys.executable).with_name("skserve")
    if script.exists():
        return [str(script), *args]
    return [sys.executable, "-c", "from skserve.cli import main; main()", *args]


def api_command(port: int, api_workers: int | None) -> list[str]:
    """argv for `skserve api` on `port`."""
    extra = ["--api-workers", str(api_workers)] if api_workers else []
    return skserve_command("api", "--port", str(port), *extra)


@contextlib.contextmanager
def handle_signals(supervisor: Supervisor) -> Iterator[None]:
    """Route Ctrl-C and SIGTERM to the supervisor while the platform runs."""
    signals = (signal.SIGINT, signal.SIGTERM)
    previous = {signum: signal.signal(signum, supervisor.request_stop) for signum in signals}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def wait_until_ready(url: str, supervisor: Supervisor, timeout: float) -> None:
    """Poll `url` until it answers 200; fail if a child exits or the timeout passes."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while not supervisor.stop_requested.is_set():
        child = supervisor.exited()
        if child is not None and not child.restart:
            raise ChildExited(child)
        status, body = probe(url)
        if status == 200:
            return
        last = f"{status}: {body}" if status else body
        if time.monotonic() > deadline:
            raise click.ClickException(f"{url} not ready after {timeout:g} s ({last})")
        supervisor.stop_requested.wait(0.5)


def probe(url: str) -> tuple[int | None, str]:
    """(status, body) of a GET, or (None, reason) when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, response.read(500).decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(500).decode(errors="replace")
    except (urllib.error.URLError, OSError) as exc:
        return None, str(getattr(exc, "reason", exc))


def print_banner(base_url: str, settings: Settings, ready: Bootstrapped, workers: int) -> None:
    """The URL and the next commands to try."""
    database = "SQLite (embedded)" if settings.embedded_database else "PostgreSQL"
    queue = f"Redis, {workers} worker(s)" if settings.redis_url else "in-process jobs"
    model = f"{base_url}/models/{ready.model}"
    payload = shlex.quote(json.dumps(ready.record, default=str))
    job = shlex.quote(json.dumps({"model": ready.model, "source": {"table": ready.feature_table}}))
    lines = [
        "",
        click.style(f"skserve is up at {base_url}", fg="green", bold=True)
        + f"  (model {ready.model} v{ready.version}; {database}; {queue})",
    ]
    if settings.console:
        lines.append(f"Console: {base_url}/ui/  (changes ask for ADMIN_TOKEN)")
    lines += [
        "",
        "Try:",
        f"  curl {base_url}/ready",
        f"  curl {base_url}/usage",
        f"  curl -X POST {model}/predict -H 'Content-Type: application/json' -d {payload}",
    ]
    if ready.entity_id is not None:
        lines.append(f"  curl {model}/entities/{ready.entity_id}/prediction")
        lines += [
            f"  curl -i -X POST {base_url}/jobs -H 'Content-Type: application/json' -d {job}",
            f"  curl {base_url}/jobs/<id>",
        ]
    lines += [
        f"  {base_url}/docs  (the interactive API documentation, for a browser)",
        "",
        "Stop everything with Ctrl-C.",
        "",
    ]
    click.echo("\n".join(lines))
