"""What the benchmarks share: the bench database, API servers as subprocesses, wrk, memory.

Imported by the scripts in this folder (run as `python bench/<script>.py`), never by skserve.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATABASE_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/skserve_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/11"
WRK_MISSING = (
    "wrk is not installed. Install it with `sudo apt-get install -y wrk` (Debian/Ubuntu), "
    "`sudo dnf install wrk` (Fedora) or `brew install wrk` (macOS), then run this again."
)
# Every wrk script shares these hooks: count non-2xx answers per thread, and print one JSON line.
LUA_REPORT = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) non2xx = 0 end
function response(status, headers, body)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
end
function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do bad = bad + t:get("non2xx") end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "non2xx": %d, "socket_errors": %d, '
    .. '"timeouts": %d, "p50_us": %d, "p99_us": %d}\\n',
    summary.requests, summary.duration, bad, e.connect + e.read + e.write, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def require_wrk() -> str:
    """The path of wrk, or exit saying how to install it."""
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit(WRK_MISSING)
    return path


def wrk_version(path: str) -> str:
    """wrk's version line (it prints it with its usage)."""
    result = subprocess.run([path, "--version"], capture_output=True, text=True, check=False)
    return (result.stdout or result.stderr).splitlines()[0].split(" Copyright")[0].strip()


def check_services(database_url: str, redis_url: str) -> None:
    """Exit with a clear message when PostgreSQL or Redis cannot be reached."""
    import redis

    engine = sa.create_engine(sa.make_url(database_url).set(database="postgres"))
    try:
        with engine.connect():
            pass
    except sa.exc.OperationalError as exc:
        raise SystemExit(
            f"cannot reach PostgreSQL for {database_url}: {str(exc.orig).strip()}\n"
            "start it, or point BENCH_DATABASE_URL at one"
        ) from None
    finally:
        engine.dispose()
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        raise SystemExit(
            f"cannot reach Redis at {redis_url}: {exc}\nstart it, or set BENCH_REDIS_URL"
        ) from None


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def skserve_command() -> list[str]:
    """The `skserve` CLI of this interpreter's environment."""
    script = Path(sys.executable).with_name("skserve")
    if script.exists():
        return [str(script)]
    found = shutil.which("skserve")
    if found is None:
        raise SystemExit("the skserve command is not installed; run `pip install -e .` first")
    return [found]


@dataclass
class ApiServer:
    """`skserve api` running as a subprocess (the process is gunicorn's master)."""

    name: str
    port: int
    process: subprocess.Popen
    log_path: Path
    fast_path: bool | None = None  # as GET /models/<name> reports it
    fast_path_reason: str | None = None
    stopped: bool = field(default=False, repr=False)

    @property
    def url(self) -> str:
        """Base URL."""
        return f"http://127.0.0.1:{self.port}"

    def worker_pids(self) -> list[int]:
        """gunicorn's worker processes (children of the master), from /proc."""
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid:
                pids.append(int(stat.parent.name))
        return sorted(pids)

    def worker_rss_mb(self) -> list[float]:
        """Resident memory of each worker in MB (empty where /proc is not available)."""
        sizes = []
        for pid in self.worker_pids():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    sizes.append(int(line.split()[1]) / 1024)
        return sizes

    def log_tail(self, lines: int = 30) -> str:
        """The end of the server's output, for error messages."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM gunicorn (graceful), SIGKILL its process group if it lingers; drop the log
        (errors quote its tail before this)."""
        if self.stopped:
            return
        self.stopped = True
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log_path.unlink(missing_ok=True)


def start_api(
    name: str, *, workers: int, env: dict[str, str], source: Path | None = None
) -> ApiServer:
    """Start `skserve api --workers N --port P` in its own process group.

    `source` runs another checkout's code (a baseline build) with this environment's libraries.
    """
    port = free_port()
    log_path = Path(tempfile.mkstemp(prefix=f"skserve-bench-{name}-", suffix=".log")[1])
    command, cwd = skserve_command(), ROOT
    if source is not None:
        command = [sys.executable, "-c", "from skserve.cli import main; main()"]
        cwd, env = source, {**env, "PYTHONPATH": str(source)}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*command, "api", "--api-workers", str(workers), "--port", str(port)],
            cwd=cwd,
            env={**os.environ, **env, "HOST": "127.0.0.1"},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return ApiServer(name, port, process, log_path)


def get_json(url: str, timeout: float = 5.0) -> tuple[int, Any]:
    """GET `url`: (status, parsed JSON body or None); status 0 when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, None
    except (OSError, ValueError):
        return 0, None


def wait_ready(server: ApiServer, timeout: float = 180.0) -> None:
    """Wait for GET /ready to answer 200 (database, Redis and the default model usable)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise SystemExit(f"{server.name} API exited:\n{server.log_tail()}")
        if get_json(f"{server.url}/ready")[0] == 200:
            return
        time.sleep(0.5)
    raise SystemExit(f"{server.name} API not ready after {timeout:.0f} s:\n{server.log_tail()}")


@dataclass(frozen=True)
class WrkResult:
    """One wrk run."""

    requests: int
    seconds: float
    non2xx: int
    socket_errors: int
    timeouts: int
    p50_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        """Requests per second."""
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        """Non-2xx answers plus socket errors and timeouts."""
        return self.non2xx + self.socket_errors + self.timeouts


def median_result(results: list[WrkResult]) -> dict[str, float]:
    """Median req/s, p50 and p99 over passes; requests and errors summed."""
    return {
        "passes": len(results),
        "rps": statistics.median(r.rps for r in results),
        "p50_ms": statistics.median(r.p50_ms for r in results),
        "p99_ms": statistics.median(r.p99_ms for r in results),
        "requests": sum(r.requests for r in results),
        "non2xx": sum(r.non2xx for r in results),
        "socket_errors": sum(r.socket_errors + r.timeouts for r in results),
        "rps_passes": [round(r.rps, 1) for r in results],
    }


def lua_post(body: str, content_type: str = "application/json") -> str:
    """A wrk script POSTing `body` on every request."""
    level = next(n for n in range(1, 10) if f"]{'=' * n}]" not in body)
    quote = "=" * level
    return (
        'wrk.method = "POST"\n'
        f'wrk.headers["Content-Type"] = "{content_type}"\n'
        f"wrk.body = [{quote}[{body}]{quote}]\n" + LUA_REPORT
    )


def lua_get_ids(prefix: str, suffix: str, first: int, last: int) -> str:
    """A wrk script GETting prefix<id>suffix, walking ids first..last in a scattered order."""
    return (
        "local n = 0\n"
        "request = function()\n"
        "  n = n + 1\n"
        f"  local id = {first} + (n * 7919) % {last - first + 1}\n"
        f'  return wrk.format("GET", "{prefix}" .. id .. "{suffix}")\n'
        "end\n" + LUA_REPORT
    )


def run_wrk(
    wrk: str, url: str, script: str, *, connections: int, seconds: float, workdir: Path
) -> WrkResult:
    """Run wrk (one thread: the machine's cores belong to the server) and parse its report."""
    path = workdir / f"{hashlib.sha1(script.encode()).hexdigest()[:12]}.lua"
    path.write_text(script)
    command = [
        wrk,
        "-t1",
        f"-c{connections}",
        f"-d{seconds:g}s",
        "--timeout",
        "10s",
        "-s",
        str(path),
        url,
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    line = next((ln for ln in result.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if result.returncode != 0 or line is None:
        raise SystemExit(f"wrk failed ({' '.join(command)}):\n{result.stdout}{result.stderr}")
    data = json.loads(line.removeprefix("BENCH_JSON "))
    return WrkResult(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        non2xx=data["non2xx"],
        socket_errors=data["socket_errors"],
        timeouts=data["timeouts"],
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
    )


def interleaved_rps(
    wrk: str,
    servers: list[ApiServer],
    paths: dict[str, str],
    script: str,
    *,
    connections: int,
    seconds: float,
    passes: int,
) -> dict[str, list[float]]:
    """Requests per second of each server (at its path in `paths`), pass after pass, the order
    rotating so no server always runs first; after a one-second warm-up of each."""
    rps: dict[str, list[float]] = {server.name: [] for server in servers}
    with tempfile.TemporaryDirectory(prefix="skserve-wrk-") as folder:
        for server in servers:
            url = server.url + paths[server.name]
            run_wrk(wrk, url, script, connections=2, seconds=1, workdir=Path(folder))
        for attempt in range(passes):
            shift = attempt % len(servers)
            for server in servers[shift:] + servers[:shift]:
                result = run_wrk(
                    wrk,
                    server.url + paths[server.name],
                    script,
                    connections=connections,
                    seconds=seconds,
                    workdir=Path(folder),
                )
                rps[server.name].append(round(result.rps, 1))
                print(
                    f"pass {attempt + 1} {server.name:14} {result.rps:8.1f} req/s",
                    file=sys.stderr,
                    flush=True,
                )
    return rps
