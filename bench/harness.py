"""What the benchmarks share: the bench database, API servers as subprocesses, wrk, memory.

Imported by the scripts in this folder (run as `python bench/<script>.py`), never by skserve.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import resource
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


def parse_bench_args(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """Parse the command line and add the bench database and Redis of the environment
    (BENCH_DATABASE_URL, BENCH_REDIS_URL) as `database_url` and `redis_url`."""
    args = parser.parse_args()
    args.database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    args.redis_url = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL)
    return args


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
    """A TCP port nothing listens on right now: within BENCH_PORTS ("first-last") when set,
    for machines where each user owns a range, else any the kernel offers."""
    span = os.environ.get("BENCH_PORTS", "")
    first, last = (int(p) for p in span.split("-")) if span else (1, 0)  # unset: no range
    for port in range(first, last + 1):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            if port in _PORTS_GIVEN:
                continue
            _PORTS_GIVEN.add(port)
            return port
    if span:
        raise SystemExit(f"no free port in BENCH_PORTS={span}")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


_PORTS_GIVEN: set[int] = set()  # handed out but perhaps not bound yet by the server


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
class Server:
    """A server running as a subprocess in its own process group (gunicorn: the master)."""

    name: str
    port: int
    process: subprocess.Popen
    log_path: Path
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
        """Resident memory of each worker in MB."""
        return [memory["rss_mb"] for memory in self.worker_memory()]

    def worker_memory(self) -> list[dict[str, float]]:
        """Each worker's RSS, USS (pages no other process shares) and PSS, in MB."""
        import psutil

        sizes = []
        for pid in self.worker_pids():
            try:
                info = psutil.Process(pid).memory_full_info()
            except psutil.Error:
                continue
            sizes.append(
                {name: round(getattr(info, name) / 2**20, 1) for name in ("rss", "uss", "pss")}
            )
        return [{f"{k}_mb": v for k, v in size.items()} for size in sizes]

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


@dataclass
class ApiServer(Server):
    """`skserve api` running as a subprocess."""

    fast_path: bool | None = None  # as GET /models/<name> reports it
    fast_path_reason: str | None = None


def start_server(
    name: str, command: list[str], *, env: dict[str, str], cwd: Path = ROOT, port: int
) -> Server:
    """Start `command` in its own process group, its output to a temporary log."""
    log_path = Path(tempfile.mkstemp(prefix=f"skserve-bench-{name}-", suffix=".log")[1])
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Server(name, port, process, log_path)


def start_api(
    name: str,
    *,
    workers: int,
    env: dict[str, str],
    cli: Path | None = None,
    cwd: Path = ROOT,
    source: Path | None = None,
) -> ApiServer:
    """Start `skserve api --port P` with WEB_CONCURRENCY=workers. Another checkout: `cli` and
    `cwd` run its own skserve (its own venv); `source` runs its code with this environment's
    libraries."""
    port = free_port()
    command = [str(cli) if cli else skserve_command()[0]]
    if source is not None:
        command = [sys.executable, "-c", "from skserve.cli import main; main()"]
        cwd, env = source, {**env, "PYTHONPATH": str(source)}
    started = start_server(
        name,
        [*command, "api", "--port", str(port)],
        env={**env, "WEB_CONCURRENCY": str(workers), "HOST": "127.0.0.1"},
        cwd=cwd,
        port=port,
    )
    return ApiServer(name, port, started.process, started.log_path)


def get_json(url: str, timeout: float = 5.0) -> tuple[int, Any]:
    """GET `url`: (status, parsed JSON body or None); status 0 when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, None
    except (OSError, ValueError):
        return 0, None


def wait_ready(server: Server, timeout: float = 180.0, path: str = "/ready") -> None:
    """Wait for GET `path` to answer 200 (skserve's /ready: database, Redis and the default
    model usable)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise SystemExit(f"{server.name} exited:\n{server.log_tail()}")
        if get_json(f"{server.url}{path}")[0] == 200:
            return
        time.sleep(0.5)
    raise SystemExit(f"{server.name} not ready after {timeout:.0f} s:\n{server.log_tail()}")


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
    # CPU seconds each group of processes used during the run (cpu_groups), when measured.
    cpu_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        """Requests per second."""
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        """Non-2xx answers plus socket errors and timeouts."""
        return self.non2xx + self.socket_errors + self.timeouts

    @property
    def cpu_ms_per_request(self) -> dict[str, float]:
        """Each process group's CPU milliseconds per answered request."""
        return {
            group: 1000 * seconds / max(self.requests, 1)
            for group, seconds in self.cpu_seconds.items()
        }


CPU_FIELDS = ("ru_utime", "ru_stime")


def cpu_groups(server: Server) -> dict[str, list[int]]:
    """The processes whose CPU time a request costs: the server (master and workers) and every
    PostgreSQL process on this machine (backends, WAL writer, checkpointer...), which only the
    server under load keeps busy during a pass. PostgreSQL on another host counts as nothing."""
    import psutil

    postgres = [p.pid for p in psutil.process_iter(["name"]) if p.info["name"] == "postgres"]
    return {"server": [server.process.pid, *server.worker_pids()], "postgres": postgres}


def cpu_times(groups: dict[str, list[int]]) -> dict[str, dict[int, float]]:
    """User plus system CPU seconds of each process, by group (gone processes left out)."""
    import psutil

    times: dict[str, dict[int, float]] = {}
    for group, pids in groups.items():
        times[group] = {}
        for pid in pids:
            try:
                used = psutil.Process(pid).cpu_times()
            except psutil.Error:
                continue
            times[group][pid] = used.user + used.system
    return times


def cpu_used(before: dict[str, dict[int, float]], groups: dict[str, list[int]]) -> dict:
    """CPU seconds each group's processes used since `before` (the same `groups`)."""
    after = cpu_times(groups)
    return {
        group: round(sum(t - before[group].get(pid, 0.0) for pid, t in times.items()), 3)
        for group, times in after.items()
    }


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


@dataclass(frozen=True)
class Case:
    """One wrk cell: what to request and with how many connections."""

    name: str
    path: str
    script: str
    connections: int


def run_interleaved(
    wrk: str,
    servers: list[Server],
    cases: list[Case] | dict[str, list[Case]],
    *,
    passes: int,
    seconds: float,
    warmup_seconds: float = 1.0,
) -> dict[tuple[str, str], list[WrkResult]]:
    """Every case on every server, `passes` times: the servers' order flips each pass so that
    the machine's load drifts over all of them alike. `cases` is one list for all servers, or
    one per server name (servers speaking different protocols: same case names, own bodies).
    Returns the results by (server name, case name); progress lines go to stderr."""
    plan = cases if isinstance(cases, dict) else {server.name: cases for server in servers}
    runs: dict[tuple[str, str], list[WrkResult]] = {}
    with tempfile.TemporaryDirectory(prefix="skserve-wrk-") as folder:
        workdir = Path(folder)

        def run(server: Server, case: Case, connections: int, duration: float) -> WrkResult:
            groups = cpu_groups(server)
            before = cpu_times(groups)
            wrk_before = resource.getrusage(resource.RUSAGE_CHILDREN)
            result = run_wrk(
                wrk,
                server.url + case.path,
                case.script,
                connections=connections,
                seconds=duration,
                workdir=workdir,
            )
            wrk_after = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk has been reaped
            wrk_cpu = sum(getattr(wrk_after, f) - getattr(wrk_before, f) for f in CPU_FIELDS)
            used = {**cpu_used(before, groups), "wrk": round(wrk_cpu, 3)}
            return dataclasses.replace(result, cpu_seconds=used)

        for server in servers:  # warm-up: first requests, caches, lazily built state
            for case in plan[server.name]:
                run(server, case, min(case.connections, 2), warmup_seconds)
        for number in range(passes):
            for index in range(len(plan[servers[0].name])):
                for server in servers if number % 2 == 0 else servers[::-1]:
                    case = plan[server.name][index]
                    result = run(server, case, case.connections, seconds)
                    runs.setdefault((server.name, case.name), []).append(result)
                    print(
                        f"pass {number + 1}/{passes} {case.name:<20} {server.name:<14} "
                        f"{result.rps:8.1f} req/s p50 {result.p50_ms:6.2f} ms "
                        f"p99 {result.p99_ms:7.2f} ms errors {result.errors}",
                        file=sys.stderr,
                        flush=True,
                    )
    return runs


def interleaved_rps(
    wrk: str,
    servers: list[Server],
    paths: dict[str, str],
    script: str,
    *,
    connections: int,
    seconds: float,
    passes: int,
) -> dict[str, list[float]]:
    """Requests per second of each server (at its path in `paths`) for one body, pass after
    pass, servers interleaved (run_interleaved with one case)."""
    cases = {s.name: [Case("single row", paths[s.name], script, connections)] for s in servers}
    runs = run_interleaved(wrk, servers, cases, passes=passes, seconds=seconds)
    return {s.name: [round(r.rps, 1) for r in runs[(s.name, "single row")]] for s in servers}
