"""Fault checks on the running compose stack (issue 13, (1)-(4)), each printing its figures.

(1) every worker killed mid-job, then started again; (2) a worker cut off the network mid-chunk
and reconnected once its chunk ran elsewhere; (3) postgres restarted under prediction traffic;
(4) redis restarted with jobs queued and running. Run from compose-check.sh with the stack up:
`python deploy/faults.py BASE_URL`.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import requests
from check_stack import RECORD, TIMEOUT, ok, poll

ROWS = 1_000_000
TABLE = "adult_million"
DONE = {"finished", "failed", "canceled"}


def compose(*args: str) -> str:
    """Run `docker-compose ARGS` (project and daemon from the environment); its stdout."""
    result = subprocess.run(
        ["docker-compose", *args], check=True, capture_output=True, text=True, timeout=180
    )
    return result.stdout


def docker(*args: str) -> str:
    """Run `docker ARGS`; its stdout."""
    result = subprocess.run(
        ["docker", *args], check=True, capture_output=True, text=True, timeout=60
    )
    return result.stdout.strip()


def psql(sql: str, **variables: str) -> list[list[str]]:
    """Rows of `sql` run by psql in the postgres container; :'name' quotes a variable."""
    command = ["exec", "-T", "postgres", "psql", "-U", "skserve", "-d", "skserve"]
    command += ["-v", "ON_ERROR_STOP=1", "-At", "-F", "|"]
    for name, value in variables.items():
        command += ["-v", f"{name}={value}"]
    result = subprocess.run(
        ["docker-compose", *command],
        input=sql,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return [line.split("|") for line in result.stdout.splitlines() if line]


def make_million_table() -> None:
    """adult_million: 1,000,000 rows cycling through adult_features, ids 1..1,000,000."""
    started = time.monotonic()
    psql(
        f"""
        DROP TABLE IF EXISTS {TABLE};
        CREATE TABLE {TABLE} AS
            WITH f AS (SELECT *, row_number() OVER (ORDER BY id) - 1 AS k FROM adult_features),
                 n AS (SELECT count(*) AS c FROM adult_features)
            SELECT f.*, g AS new_id FROM generate_series(1, {ROWS}) AS g
            CROSS JOIN n JOIN f ON f.k = g % n.c;
        ALTER TABLE {TABLE} DROP COLUMN id, DROP COLUMN k;
        ALTER TABLE {TABLE} RENAME COLUMN new_id TO id;
        ALTER TABLE {TABLE} ADD PRIMARY KEY (id);
        """
    )
    # Like a table autovacuum has seen: without it, planning a job's chunks over 1,000,000 fresh
    # rows can outlast the api's 5 s statement timeout on a busy machine.
    psql(f"VACUUM ANALYZE {TABLE}")
    print(f"    {TABLE}: {ROWS:,} generated rows in {time.monotonic() - started:.0f} s")


def submit(base: str, table: str = TABLE) -> str:
    """Submit a batch job over `table`; its status URL."""
    response = requests.post(
        f"{base}/jobs", json={"model": "adult", "source": {"table": table}}, timeout=30
    )
    ok(response, 202)
    return base + response.headers["Location"]


def status(url: str) -> dict[str, Any]:
    """A job's status body."""
    return ok(requests.get(url, timeout=TIMEOUT))


def wait_until(what: str, test: Callable[[], Any], seconds: float, every: float = 0.2) -> Any:
    """Call `test` until it returns something true; that value."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = test()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"{what}: not within {seconds:.0f} s")


def mid_job(url: str) -> dict[str, Any] | None:
    """The job's status once some but not all chunks are done (None before that)."""
    body = status(url)
    assert body["status"] not in DONE, f"the job ended before the fault: {body}"
    return body if 0 < body["chunks_done"] < body["chunks_total"] else None


def check_results(url: str, rows: int = ROWS) -> str:
    """Assert a finished job has exactly one result per row and right counters; the figures."""
    body = poll(url, DONE, seconds=600)
    assert body["status"] == "finished", body
    ((stored, distinct, chunk_rows, reruns),) = psql(
        "SELECT (SELECT count(*) FROM batch_predictions WHERE job_id = :'job'),"
        " (SELECT count(DISTINCT entity_id) FROM batch_predictions WHERE job_id = :'job'),"
        " (SELECT sum(rows) FROM batch_chunks WHERE job_id = :'job'),"
        " (SELECT count(*) FROM batch_chunks WHERE job_id = :'job' AND attempts > 1)",
        job=body["id"],
    )
    figures = (
        f"{int(stored):,} result rows, {int(stored) - int(distinct)} duplicates, "
        f"rows_done {body['rows_done']:,}, chunks {body['chunks_done']}/{body['chunks_total']}, "
        f"{reruns} chunks run again"
    )
    assert int(stored) == int(distinct) == rows == body["rows_done"] == int(chunk_rows), figures
    assert body["chunks_done"] == body["chunks_total"], figures
    return figures


def worker_killed(base: str) -> None:
    """(1) `kill -s KILL worker` mid-job, `start worker`: exactly ROWS results, no duplicates."""
    url = submit(base)
    before = wait_until("a chunk done", lambda: mid_job(url), 300, every=0.05)
    killed = time.monotonic()
    compose("kill", "-s", "KILL", "worker")
    print(f"    killed every worker at chunk {before['chunks_done']}/{before['chunks_total']}")
    compose("start", "worker")
    figures = check_results(url)
    print(f"    (1) {figures}; finished {time.monotonic() - killed:.0f} s after the kill")


def worker_ips() -> dict[str, str]:
    """The worker containers by their address on the compose network."""
    ids = compose("ps", "-q", "worker").split()
    fmt = "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}"
    return {docker("inspect", "-f", fmt, container): container for container in ids}


def chunk_holder(ips: dict[str, str]) -> str | None:
    """A worker container inside a chunk's transaction (reading, predicting or writing)."""
    rows = psql(
        "SELECT host(client_addr) FROM pg_stat_activity WHERE backend_xid IS NOT NULL"
        " AND (state = 'idle in transaction' OR query LIKE 'COPY%')"
    )
    holders = [ips[ip] for (ip,) in rows if ip in ips]
    return holders[0] if holders else None


def worker_cut_off(base: str) -> None:
    """(2) a worker cut off mid-chunk, reconnected after its chunk ran elsewhere."""
    ips = worker_ips()
    network = docker(
        "inspect", "-f", "{{range $name, $_ := .NetworkSettings.Networks}}{{$name}}{{end}}",
        next(iter(ips.values())),
    )  # fmt: skip
    url = submit(base)
    wait_until("the job started", lambda: status(url)["chunks_done"] > 0, 300, every=0.05)
    container = wait_until("a worker inside a chunk", lambda: chunk_holder(ips), 120, every=0)
    docker("network", "disconnect", network, container)
    cut = time.monotonic()
    print(f"    cut worker {container[:12]} off {network} in the middle of a chunk")
    try:
        body = poll(url, DONE, seconds=300)
        print(f"    the job {body['status']} {time.monotonic() - cut:.0f} s later, still cut off")
    finally:
        docker("network", "connect", network, container)
    time.sleep(15)  # the reconnected worker's late write, if it makes one, lands here
    figures = check_results(url)
    assert "0 chunks run again" not in figures, f"no chunk ran elsewhere: {figures}"
    print(f"    (2) 15 s after reconnecting: {figures}")


class Traffic(threading.Thread):
    """Sends one request over and over, recording (time.monotonic(), status) pairs."""

    def __init__(self, name: str, method: str, url: str, **kwargs: Any) -> None:
        super().__init__(name=name, daemon=True)
        self.method, self.url, self.kwargs = method, url, kwargs
        self.results: list[tuple[float, int]] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        """Request until stopped; a connection error counts as status 0."""
        with requests.Session() as session:
            while not self.stopping.is_set():
                try:
                    code = session.request(self.method, self.url, timeout=5, **self.kwargs)
                    code = code.status_code
                except requests.RequestException:
                    code = 0
                self.results.append((time.monotonic(), code))
                time.sleep(0.05)

    def failures(self) -> list[tuple[float, int]]:
        """The requests that did not answer 200."""
        return [(at, code) for at, code in self.results if code != 200]

    def recovered_after(self, since: float) -> float | None:
        """Seconds from `since` to the first 200 after the last failure (None: no failure)."""
        failed = self.failures()
        if not failed:
            return None
        last = failed[-1][0]
        return next(at for at, code in self.results if at > last and code == 200) - since

    def healthy_now(self) -> bool:
        """The last three requests answered 200."""
        return len(self.results) >= 3 and all(code == 200 for _, code in self.results[-3:])


def api_started_at() -> str:
    """When the api container last started (a restart of the api would change it)."""
    (container,) = compose("ps", "-q", "api").split()
    return docker("inspect", "-f", "{{.State.StartedAt}} {{.RestartCount}}", container)


def postgres_restarted(base: str) -> None:
    """(3) restart postgres under traffic: payloads answer, by-id and /ready 503 then recover."""
    api_before = api_started_at()
    clients = [
        Traffic("payload", "POST", f"{base}/models/adult/predict", json=RECORD),
        Traffic("by-id", "GET", f"{base}/models/adult/entities/1/prediction"),
        Traffic("ready", "GET", f"{base}/ready"),
    ]
    for client in clients:
        client.start()
    time.sleep(2)
    since = time.monotonic()
    compose("restart", "postgres")
    print(f"    docker compose restart postgres took {time.monotonic() - since:.1f} s")
    wait_until(
        "by-id and /ready answer again", lambda: all(c.healthy_now() for c in clients[1:]), 120
    )
    time.sleep(2)
    for client in clients:
        client.stopping.set()
        client.join()
    payload, by_id, ready = clients
    assert not payload.failures(), f"payload predictions failed: {payload.failures()[:10]}"
    for client in (by_id, ready):
        codes = sorted({code for _, code in client.failures()})
        assert client.failures(), f"{client.name} never reported the outage"
        assert codes == [503], f"{client.name} answered {codes} during the outage, not 503"
    assert api_started_at() == api_before, "the api container restarted"
    print(
        f"    (3) payload predictions: {len(payload.results)} sent, 0 failed; "
        + "; ".join(
            f"{c.name}: {len(c.failures())} of {len(c.results)} answered 503, "
            f"200 again {c.recovered_after(since):.1f} s after the restart began"
            for c in (by_id, ready)
        )
        + "; the api was not restarted"
    )


def redis_restarted(base: str) -> None:
    """(4) restart redis with a job running and one queued: both finish, submissions resume."""
    running, queued = submit(base), submit(base)
    wait_until("the first job started", lambda: status(running)["rows_done"] > 0, 300, 0.05)
    started = time.monotonic()
    compose("restart", "redis")
    print(f"    docker compose restart redis took {time.monotonic() - started:.1f} s")
    refused = 0
    while True:
        response = requests.post(
            f"{base}/jobs", json={"model": "adult", "source": {"table": "adult_features"}},
            timeout=30,
        )  # fmt: skip
        if response.status_code == 202:
            break
        assert response.status_code == 503, (response.status_code, response.text[:300])
        assert time.monotonic() - started < 120, "submissions still refused after 120 s"
        refused += 1
        time.sleep(0.2)
    recovered = time.monotonic() - started
    new = base + response.headers["Location"]
    for label, url, rows in (("running", running, ROWS), ("queued", queued, ROWS)):
        print(f"    (4) the {label} job: {check_results(url, rows)}")
    body = poll(new, DONE, seconds=300)
    assert body["status"] == "finished", body
    print(
        f"    (4) new submissions: {refused} refused with 503, accepted again {recovered:.1f} s "
        f"after the restart began; that job {body['status']} with {body['rows_done']:,} rows"
    )


def main(base: str) -> None:
    """Every fault check in turn, each with its name and time."""
    make_million_table()
    for check in (worker_killed, worker_cut_off, postgres_restarted, redis_restarted):
        started = time.monotonic()
        print(f"==> fault: {check.__doc__.splitlines()[0]}", flush=True)
        check(base)
        print(f"    {check.__name__} passed in {time.monotonic() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
