"""gunicorn workers pinned one per CPU, a replaced worker taking the CPU its predecessor left."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.processes import children, start_api, stop

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="Linux only"),
]


def cpus_of(pid: int) -> set[int]:
    """The CPUs each thread of `pid` may run on, all threads together."""
    return set().union(*(os.sched_getaffinity(int(t)) for t in os.listdir(f"/proc/{pid}/task")))


def wait_for_workers(master: int, count: int, but_not: int | None = None) -> list[int]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        workers = [pid for pid in children(master) if pid != but_not]
        if len(workers) == count:
            return workers
        time.sleep(0.2)
    pytest.fail(f"gunicorn did not have {count} workers within 30 s")


def test_each_worker_runs_on_one_cpu_and_a_replacement_takes_the_freed_one(
    pg_url: str, adult_model, tmp_path: Path
) -> None:
    machine = os.sched_getaffinity(0)
    env = {"DATABASE_URL": pg_url, "DEFAULT_MODEL": "adult"}
    _, process = start_api(env, tmp_path / "api.log", workers=2)
    try:
        workers = wait_for_workers(process.pid, 2)
        pinned = {pid: cpus_of(pid) for pid in workers}
        assert all(len(cpus) == 1 and cpus <= machine for cpus in pinned.values())
        if len(machine) >= 2:
            assert pinned[workers[0]] != pinned[workers[1]]
        assert cpus_of(process.pid) == machine  # the master is left alone

        os.kill(workers[0], signal.SIGKILL)
        replacement = wait_for_workers(process.pid, 2, but_not=workers[0])
        new = next(pid for pid in replacement if pid != workers[1])
        assert cpus_of(new) == pinned[workers[0]]
    finally:
        stop(process)


def test_pinning_can_be_turned_off(pg_url: str, adult_model, tmp_path: Path) -> None:
    env = {"DATABASE_URL": pg_url, "DEFAULT_MODEL": "adult", "GUNICORN_PIN_WORKERS": "0"}
    _, process = start_api(env, tmp_path / "api.log", workers=2)
    try:
        for pid in wait_for_workers(process.pid, 2):
            assert cpus_of(pid) == os.sched_getaffinity(0)
    finally:
        stop(process)
