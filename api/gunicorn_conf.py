"""gunicorn settings, read from the environment (`gunicorn -c python:api.gunicorn_conf`).

The worker is api.gunicorn_worker.ApiWorker, gunicorn's threaded worker reading request heads
without holding a thread, so idle or trickling clients cannot pin the API (see that module).
The app is not preloaded in the master: each worker runs `create_app()`, which starts its own
promotion watcher, prediction log writer and connection pools (threads and pooled connections
do not survive a fork). The production models, though, are loaded once by the master before it
forks (`when_ready`), so the workers share their memory pages; a worker then loads only what
was promoted after that, as before (see docs/performance.md, Memory). Each worker is pinned to
a CPU of its own (`pre_fork`; `GUNICORN_PIN_WORKERS=0` leaves them to the scheduler).
"""

import gc
import os


def _on(raw: str) -> bool:
    """A switch that is on unless set to 0, false or no."""
    return raw.lower() not in ("0", "false", "no")


# Natively this machine only, as .env.example says; the images set HOST=0.0.0.0.
bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "api.gunicorn_worker.ApiWorker"
# Threads per worker: requests served at once by one process. Waiting for a slow client's
# request costs no thread; a thread is held only while a request is read, run and answered.
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
# Open connections per worker (kept-alive and half-sent ones included); beyond it, new ones
# wait in the backlog.
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", "1000"))
# Seconds an idle kept-alive connection, or a new one that has sent nothing, stays open; one
# holding part of a request waits for GUNICORN_REQUEST_TIMEOUT instead (api/gunicorn_worker.py).
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
preload_app = False
# Loading and compiling models happens while a worker boots; give it time before the
# master kills it as stuck.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
backlog = int(os.environ.get("GUNICORN_BACKLOG", "2048"))
# Each worker listens on a socket of its own (SO_REUSEPORT) and the kernel spreads new
# connections over them. On one shared socket whichever worker woke first took them, so a
# client's few kept-alive connections often all landed on one worker and left the other core
# idle: half the throughput, at random. GUNICORN_REUSE_PORT=0 goes back to one socket.
reuse_port = _on(os.environ.get("GUNICORN_REUSE_PORT", "1"))
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
errorlog = "-"
# Access logs cost time on every request; opt in with ACCESS_LOG=1.
accesslog = "-" if os.environ.get("ACCESS_LOG", "").lower() in ("1", "true", "yes") else None
# A request line or header larger than this is refused by gunicorn before the app sees it.
limit_request_line = 8190
# Each worker on a CPU of its own (see pre_fork); Linux only.
PIN_WORKERS = hasattr(os, "sched_setaffinity") and _on(os.environ.get("GUNICORN_PIN_WORKERS", "1"))


def when_ready(server):  # noqa: ANN001, ANN201 - gunicorn's hook signature
    """Load the production models in the master, before the first fork, for the workers to
    inherit; if that fails the workers load their own, as without this hook."""
    from threadpoolctl import threadpool_limits

    if reuse_port:  # the workers bind, not the master, so gunicorn's own line shows no address
        server.log.info("the workers listen at http://%s (a socket each, SO_REUSEPORT)", bind)

    # gunicorn reads this file in every process that starts it (`skserve api` checks it too);
    # only the master, once ready, needs the app's code.
    from api.app import make_api_engine  # lazily: see above
    from db import model_store  # the workers' store reads `inherited`
    from db.engine import make_session_factory  # lazily: see above
    from settings import load_settings  # lazily: see above

    try:
        settings = load_settings()
        engine = make_api_engine(settings)
        try:
            sessions = make_session_factory(engine)
            store = model_store.ModelStore(sessions, fast_path=settings.fast_path)
            # One thread: an OpenMP pool started here (HistGradientBoosting) would not survive
            # the fork.
            with threadpool_limits(limits=1):
                store.preload()
        finally:
            engine.dispose()  # no pooled connection may cross the fork
    except Exception as exc:  # a fresh or unreachable database: the workers load their own
        server.log.warning("no models loaded before the fork (%s: %s)", type(exc).__name__, exc)
        return
    model_store.inherited.update({(m.name, m.version): m for m in store.loaded()})
    loaded = ", ".join(f"{name} v{version}" for name, version in model_store.inherited)
    server.log.info("loaded before forking the workers: %s", loaded or "no production model")
    # Later collections would touch every inherited object and unshare its pages.
    gc.freeze()


def pre_fork(server, worker):  # noqa: ANN001, ANN201 - gunicorn's hook signature
    """Choose the CPU the new worker will run on: the one fewest live workers hold.

    A worker's threads (the poller, the request threads, the log writer) hand every request to
    each other; on one CPU a handoff stays in that CPU's caches instead of waking another.
    Pinned, side by side on 2 cores: 28 % more single rows at 1 client, 11 % more at 8 clients,
    13 % more 100-row requests (docs/performance.md). A worker uses one CPU at a time anyway.
    """
    if not PIN_WORKERS:
        return
    cpus = sorted(os.sched_getaffinity(0))
    taken = [getattr(w, "cpu", None) for w in server.WORKERS.values()]
    worker.cpu = min(cpus, key=lambda cpu: (taken.count(cpu), cpu))


def post_fork(server, worker):  # noqa: ANN001, ANN201 - gunicorn's hook signature
    """Pin the worker to the CPU pre_fork chose; the threads it starts inherit it."""
    cpu = getattr(worker, "cpu", None)
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})


def worker_exit(server, worker):  # noqa: ANN001, ANN201 - gunicorn's hook signature
    """Let embedded batch chunks finish, then stop the app's threads and close its connections."""
    app = getattr(worker, "wsgi", None)
    services = getattr(app, "extensions", {}).get("skserve")
    if services is not None:
        services.close()


def child_exit(server, worker):  # noqa: ANN001, ANN201 - gunicorn's hook signature
    """Let /metrics forget a dead worker's live gauges (its counters are kept)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Only multi-process metrics need it; gunicorn reads this file before the app exists.
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
