"""The process supervisor behind `skserve up`, with real (tiny) child processes."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

from skserve.cli.supervisor import MAX_RESTARTS, Supervisor

SLEEP = "import time; time.sleep(60)"
IGNORE_TERM = (
    "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "open(sys.argv[1], 'w').close(); time.sleep(60)"
)
SPAWN_STUBBORN_GRANDCHILD = (
    "import subprocess, sys, time; "
    f"p = subprocess.Popen([sys.executable, '-c', {IGNORE_TERM!r}, sys.argv[1]]); "
    "open(sys.argv[2], 'w').write(str(p.pid)); time.sleep(60)"
)


def python(code: str, *args: str) -> list[str]:
    """argv running `code` in this interpreter."""
    return [sys.executable, "-c", code, *args]


def wait_for(path: Path, timeout: float = 10.0) -> None:
    """Block until a child has created `path`."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def is_alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_children_output_is_prefixed_with_their_name(capsys):
    supervisor = Supervisor()
    child = supervisor.start("hello", python("print('hi there')"))
    child.process.wait(timeout=10)
    supervisor.stop()
    assert "hello     | hi there" in capsys.readouterr().out


def test_stop_terminates_every_child():
    supervisor = Supervisor(stop_timeout=10)
    children = [supervisor.start(f"sleeper-{n}", python(SLEEP)) for n in range(2)]
    supervisor.stop()
    assert [child.process.returncode for child in children] == [-signal.SIGTERM] * 2


def test_stop_kills_a_child_that_ignores_sigterm(tmp_path):
    supervisor = Supervisor(stop_timeout=0.5)
    child = supervisor.start("stubborn", python(IGNORE_TERM, str(tmp_path / "ready")))
    wait_for(tmp_path / "ready")
    started = time.monotonic()
    supervisor.stop()
    assert child.process.returncode == -signal.SIGKILL
    assert time.monotonic() - started < 5


def test_stop_kills_grandchildren_that_outlive_their_parent(tmp_path):
    supervisor = Supervisor(stop_timeout=0.5)
    ready, pid_file = tmp_path / "ready", tmp_path / "pid"
    supervisor.start("parent", python(SPAWN_STUBBORN_GRANDCHILD, str(ready), str(pid_file)))
    wait_for(ready)
    wait_for(pid_file)
    grandchild = int(pid_file.read_text())
    supervisor.stop()
    deadline = time.monotonic() + 5
    while is_alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not is_alive(grandchild)


def test_wait_returns_a_child_that_exits_on_its_own():
    supervisor = Supervisor()
    supervisor.start("sleeper", python(SLEEP))
    quitter = supervisor.start("quitter", python("raise SystemExit(3)"))
    try:
        assert supervisor.wait(poll=0.05) is quitter
    finally:
        supervisor.stop()
    assert quitter.process.returncode == 3


def test_wait_returns_none_when_a_stop_is_requested():
    supervisor = Supervisor()
    supervisor.start("sleeper", python(SLEEP))
    supervisor.request_stop(signal.SIGINT)
    try:
        assert supervisor.wait(poll=0.05) is None
    finally:
        supervisor.stop()


def test_a_second_signal_kills_without_waiting(tmp_path):
    supervisor = Supervisor(stop_timeout=60)
    child = supervisor.start("stubborn", python(IGNORE_TERM, str(tmp_path / "ready")))
    wait_for(tmp_path / "ready")
    supervisor.request_stop(signal.SIGINT)
    supervisor.request_stop(signal.SIGINT)
    started = time.monotonic()
    supervisor.stop()
    assert child.process.returncode == -signal.SIGKILL
    assert time.monotonic() - started < 5


def test_children_get_the_supervisors_environment():
    supervisor = Supervisor(env={**os.environ, "SKSERVE_PROBE": "42"})
    child = supervisor.start(
        "env", python("import os, sys; sys.exit(int(os.environ['SKSERVE_PROBE']))")
    )
    child.process.wait(timeout=10)
    supervisor.stop()
    assert child.process.returncode == 42


def test_a_crashed_restartable_child_is_started_again_up_to_the_limit(tmp_path, capsys):
    count = tmp_path / "starts"
    crash = "import sys; open(sys.argv[1], 'a').write('x'); raise SystemExit(1)"
    supervisor = Supervisor(restart_delay=0.05)
    api = supervisor.start("api", python(SLEEP))
    supervisor.start("worker-1", python(crash, str(count)), restart=True)
    waiter = threading.Thread(target=supervisor.wait, kwargs={"poll": 0.05})
    waiter.start()
    try:
        deadline = time.monotonic() + 20
        while (count.read_text() if count.exists() else "").count("x") < MAX_RESTARTS + 1:
            assert time.monotonic() < deadline, "the worker was not restarted enough times"
            time.sleep(0.05)
        time.sleep(1)  # no start beyond the limit
        assert count.read_text() == "x" * (MAX_RESTARTS + 1)
        assert api.running  # a dead worker never stops the API
    finally:
        supervisor.request_stop()
        waiter.join(timeout=10)
        supervisor.stop()
    err = capsys.readouterr().err
    assert "worker-1 exited with code 1; restarting it" in err
    assert f"after {MAX_RESTARTS} restarts; leaving it stopped" in err


def test_a_child_that_is_not_restartable_ends_the_wait():
    supervisor = Supervisor()
    api = supervisor.start("api", python("raise SystemExit(2)"))
    try:
        assert supervisor.wait(poll=0.05) is api
    finally:
        supervisor.stop()
