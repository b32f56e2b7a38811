"""gunicorn settings, read from the environment (`gunicorn -c python:api.gunicorn_conf`).

The worker is api.gunicorn_worker.ApiWorker, gunicorn's threaded worker reading request heads
without holding a thread, so idle or trickling clients cannot pin the API (see that module).
The app is not preloaded in the master: each worker runs `create_app()`, which loads the
production models and starts its own promotion watcher before the worker accepts requests
(threads and pooled connections do not survive a fork).
"""

import os

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
# Seconds an idle kept-alive connection, or one waiting between bytes of its request, stays open.
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
preload_app = False
# Loading and compiling models happens while a worker boots; give it time before the
# master kills it as stuck.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
backlog = int(os.environ.get("GUNICORN_BACKLOG", "2048"))
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
errorlog = "-"
# Access logs cost time on every request; opt in with ACCESS_LOG=1.
accesslog = "-" if os.environ.get("ACCESS_LOG", "").lower() in ("1", "true", "yes") else None
# A request line or header larger than this is refused by gunicorn before the app sees it.
limit_request_line = 8190


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
