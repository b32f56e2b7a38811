"""Private PostgreSQL and Redis servers that fault tests may freeze, kill and restart.

They listen on ports of their own (never the shared 5432 and 6379), live in a temporary folder
and are stopped when the test ends.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.processes import descendants

FAULT_PORTS = range(18150, 18200)
# PostgreSQL refuses to run as root; setpriv switches user without a process in between.
AS_POSTGRES = (
    ("setpriv", "--reuid=postgres", "--regid=postgres", "--clear-groups", "--")
    if os.geteuid() == 0
    else ()
)


def free_fault_port() -> int:
    """A free port among those reserved for private fault-test servers."""
    for port in FAULT_PORTS:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {FAULT_PORTS}")


def _pg_bin(name: str) -> str:
    found = shutil.which(name) or next(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), None)
    if found is None:
        pytest.skip(f"{name} is not installed (apt-get install postgresql)")
    return str(found)


def wait_for_port(port: int, timeout: float = 30) -> None:
    """Block until something accepts connections on 127.0.0.1:`port`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s")


class PrivatePostgres:
    """A PostgreSQL cluster of our own (initdb into `folder`), trust auth, one port."""

    def __init__(self) -> None:
        # Not under pytest's root-only temporary folder: the server may run as another user.
        self.folder = Path(tempfile.mkdtemp(prefix="skserve-fault-pg-"))
        self.data = self.folder / "data"
        self.port = free_fault_port()
        self.process: subprocess.Popen | None = None
        self.database_url = ""
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")

    @property
    def url(self) -> str:
        """SQLAlchemy URL of its `postgres` database."""
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> PrivatePostgres:
        """initdb on first use, then run `postgres` in the foreground of a child process."""
        if not self.data.exists():
            subprocess.run(
                [*AS_POSTGRES, _pg_bin("initdb"), "-D", str(self.data), "-U", "postgres"]
                + ["-A", "trust"],
                check=True,
                capture_output=True,
            )
        self.process = subprocess.Popen(
            [*AS_POSTGRES, _pg_bin("postgres"), "-D", str(self.data), "-p", str(self.port)]
            + ["-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.folder}"]
            + ["-c", "fsync=off", "-c", "max_connections=100"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for_port(self.port)
        time.sleep(0.5)  # the port opens a moment before the server accepts logins
        return self

    def freeze(self) -> None:
        """SIGSTOP the postmaster and every backend: connections hang, nothing is refused."""
        self._signal_all(signal.SIGSTOP)

    def thaw(self) -> None:
        """SIGCONT what freeze() stopped."""
        self._signal_all(signal.SIGCONT)

    def _signal_all(self, signum: signal.Signals) -> None:
        # Every backend runs in a session of its own, so a process group does not reach them.
        assert self.process is not None
        for pid in [self.process.pid, *descendants(self.process.pid)]:
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass

    def stop(self) -> None:
        """Stop the server (fast shutdown), killing it if it does not go."""
        if self.process is None or self.process.poll() is not None:
            return
        self.thaw()
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def remove(self) -> None:
        """Stop it and delete its folder."""
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


class PrivateRedis:
    """A redis-server of our own on a private port, without persistence."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_fault_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """Its URL, database 0."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> PrivateRedis:
        """Start (or restart) the server on the same port."""
        redis_server = shutil.which("redis-server")
        if redis_server is None:
            pytest.skip("redis-server is not installed (apt-get install redis-server)")
        self.process = subprocess.Popen(
            [redis_server, "--port", str(self.port), "--bind", "127.0.0.1"]
            + ["--save", "", "--appendonly", "no", "--dir", str(self.folder)],
            stdout=(self.folder / "redis.log").open("a"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for_port(self.port)
        return self

    def kill(self) -> None:
        """SIGKILL the server: every client connection drops at once."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        """Stop it if it runs."""
        self.kill()
