"""Starting and stopping real processes (gunicorn, workers) for the end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

SKSERVE = Path(sys.executable).with_name("skserve")
# Variables of the developer's shell that must not leak into a server under test.
ISOLATED = (
    "REDIS_URL",
    "MODEL_PATH",
    "WEB_CONCURRENCY",
    "PORT",
    "ADMIN_TOKEN",
    "API_TOKEN",
    "PUBLIC_URL",
    "DEFAULT_MODEL",
    "PROMETHEUS_MULTIPROC_DIR",
)


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _children_by_parent() -> dict[int, list[int]]:
    """{parent pid: [live child pids]} for every process, from /proc (zombies left out)."""
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                state, parent = (entry / "stat").read_text().rpartition(")")[2].split()[:2]
            except (OSError, ValueError):
                continue
            if state != "Z":
                tree.setdefault(int(parent), []).append(int(entry.name))
    return tree


def children(pid: int) -> list[int]:
    """Live direct children of `pid`."""
    return _children_by_parent().get(pid, [])


def descendants(pid: int) -> set[int]:
    """Every live process below `pid` (children, grandchildren, ...)."""
    tree = _children_by_parent()
    found, todo = set(), [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def is_alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def start_api(env: dict[str, str], log: Path, workers: int = 2) -> tuple[str, subprocess.Popen]:
    """`skserve api` on a free port with `env` on top of a clean environment; waits for /ready."""
    port = free_port()
    args = ["api", "--port", str(port), "--api-workers", str(workers)]
    return start_skserve(args, {"HOST": "127.0.0.1", **env}, log, port)


def start_skserve(
    args: list[str], env: dict[str, str], log: Path, port: int
) -> tuple[str, subprocess.Popen]:
    """`skserve ARGS` serving on `port`, `env` on top of a clean environment; waits for /ready."""
    full_env = {k: v for k, v in os.environ.items() if k not in ISOLATED}
    full_env.update(LOG_LEVEL="WARNING", **env)
    with log.open("w") as output:
        process = subprocess.Popen(
            [str(SKSERVE), *args],
            env=full_env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(base_url, process, log)
    except BaseException:
        stop(process)
        raise
    return base_url, process


def wait_until_ready(base_url: str, process: subprocess.Popen, log: Path) -> None:
    """Poll /ready until 200 (every worker loads the model first); fail with the server log."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, f"skserve api exited:\n{log.read_text()}"
        try:
            if requests.get(f"{base_url}/ready", timeout=5).status_code == 200:
                return
        except requests.RequestException:  # refused while binding, or slow while loading
            pass
        time.sleep(0.3)
    pytest.fail(f"skserve api not ready after 120 s:\n{log.read_text()}")


def stop(process: subprocess.Popen) -> None:
    """SIGTERM the gunicorn master (it stops its workers); SIGKILL the group if it hangs."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
