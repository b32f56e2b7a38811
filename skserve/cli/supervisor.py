"""Run child processes side by side, stream their output, and stop them all cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import IO

import click

COLORS = ("cyan", "magenta", "green", "yellow", "blue", "red")


# A crashed restartable child is started again at most this many times, after this many seconds.
MAX_RESTARTS = 5
RESTART_DELAY = 2.0


@dataclass
class Child:
    """One supervised process and the thread echoing its output."""

    name: str
    process: subprocess.Popen[str]
    reader: threading.Thread
    argv: tuple[str, ...] = ()
    restart: bool = False  # start it again when it exits on its own
    restarts: int = 0

    @property
    def running(self) -> bool:
        """True until the process has exited."""
        return self.process.poll() is None


class Supervisor:
    """Starts children, watches them, and stops every one of them on request."""

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        stop_timeout: float = 15.0,
        restart_delay: float = RESTART_DELAY,
    ) -> None:
        self.env = dict(os.environ if env is None else env)
        self.stop_timeout = stop_timeout
        self.restart_delay = restart_delay
        self.children: list[Child] = []
        self.stop_requested = threading.Event()
        self._force = threading.Event()
        self._echo_lock = threading.Lock()

    def start(self, name: str, argv: Sequence[str], *, restart: bool = False) -> Child:
        """Start `argv` with its output prefixed by `name`; `restart`: start it again on exit."""
        # A session of its own: a terminal's Ctrl-C reaches only the supervisor, which then
        # stops children in order, and the child's whole process group can be killed at the end.
        process = subprocess.Popen(
            list(argv),
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            bufsize=1,
            start_new_session=True,
        )
        color = COLORS[len(self.children) % len(COLORS)]
        reader = threading.Thread(
            target=self._pump, args=(name, color, process.stdout), daemon=True
        )
        child = Child(name, process, reader, tuple(argv), restart)
        self.children.append(child)
        reader.start()
        self.echo(f"started {name} (pid {process.pid}): {' '.join(argv)}")
        return child

    def echo(self, message: str, *, err: bool = False) -> None:
        """Print one line without interleaving with the children's output."""
        with self._echo_lock:
            click.echo(message, err=err)

    def _pump(self, name: str, color: str, stream: IO[str]) -> None:
        prefix = click.style(f"{name:<10}|", fg=color)
        with stream:
            for line in stream:
                self.echo(f"{prefix} {line.rstrip()}")

    def request_stop(self, signum: int | None = None, frame: object = None) -> None:
        """Signal handler: the first signal stops gracefully, a second one kills."""
        if self.stop_requested.is_set():
            self._force.set()
        self.stop_requested.set()

    def exited(self) -> Child | None:
        """A child that has exited, if any."""
        return next((child for child in self.children if not child.running), None)

    def wait(self, poll: float = 0.2) -> Child | None:
        """Block until a stop is requested (None) or a child that is not restarted exits.

        A restartable child that exits is started again, up to MAX_RESTARTS times; after that
        it stays stopped and the others go on.
        """
        while not self.stop_requested.wait(poll):
            child = self.exited()
            if child is None:
                continue
            if not child.restart:
                return child
            self.replace(child)
        return None

    def replace(self, child: Child) -> Child | None:
        """Start an exited restartable child again, unless it used up its restarts."""
        self.children.remove(child)
        _kill_group(child)  # what it left behind (RQ's scheduler process, for a worker)
        child.reader.join(timeout=5)
        code = child.process.returncode
        if child.restarts >= MAX_RESTARTS:
            self.echo(
                f"{child.name} exited with code {code} after {MAX_RESTARTS} restarts; leaving it "
                "stopped (everything else keeps running; see its log above)",
                err=True,
            )
            return None
        self.echo(
            f"{child.name} exited with code {code}; restarting it in {self.restart_delay:g} s "
            f"({child.restarts + 1} of {MAX_RESTARTS})",
            err=True,
        )
        if self.stop_requested.wait(self.restart_delay):
            return None
        new = self.start(child.name, child.argv, restart=True)
        new.restarts = child.restarts + 1
        return new

    def stop(self) -> None:
        """SIGTERM every child, wait for them, SIGKILL whatever is left after the timeout."""
        running = [child for child in self.children if child.running]
        if running:
            self.echo(f"stopping {', '.join(child.name for child in running)}")
        for child in running:
            _send(child, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        while any(child.running for child in self.children):
            if time.monotonic() >= deadline or self._force.is_set():
                break
            time.sleep(0.1)
        for child in self.children:
            if child.running:
                self.echo(f"{child.name} did not stop within {self.stop_timeout:g} s; killing it")
            # Also reaches grandchildren (gunicorn workers, RQ work horses) that outlived it.
            _kill_group(child)
            child.process.wait()
            child.reader.join(timeout=5)


def _send(child: Child, signum: signal.Signals) -> None:
    try:
        child.process.send_signal(signum)
    except ProcessLookupError:
        pass


def _kill_group(child: Child) -> None:
    try:
        os.killpg(child.process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
