"""A real console: gunicorn (2 workers) on PostgreSQL, a real RQ worker, Debian's Chromium."""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
from sqlalchemy.orm import Session

from db import jobs
from db.chunk_plans import ChunkPlan
from db.job_sources import Source
from tests.conftest import TEST_REDIS_URL
from tests.factories import small_adult_spec
from tests.processes import start_api, stop
from tests.worker.helpers import start_worker
from trainer.train import Promotion, train_model

XSS = "<script>alert(1)</script>"
TOKEN = "console-token"
PROMOTED_MODEL = "console-demo"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "console"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass
class Console:
    """The running console: its URL and the records the tests look for."""

    base_url: str
    xss_job: str


def register_xss_records(engine, adult_model) -> str:
    """A failed job whose model name and error are a script tag; returns the job id.

    The registry refuses such model names, so only a job row (written directly, as by an older
    release or another tool) can carry one to the console.
    """
    with Session(engine) as session, session.begin():
        job = jobs.create_job(
            session,
            model_name=XSS,
            model_version=1,
            classes=None,
            source=Source(table="adult_features", id_range=(1, 2)),
            chunk_rows=10,
            chunks=[ChunkPlan(0, 1, 2, 2)],
        )
        jobs.fail_job(session, job_id=job.id, error=f"chunk 0 failed: {XSS}")
    return job.id


def remove_xss_records(engine, job_id: str) -> None:
    """Leave the job table as other test modules expect it."""
    with Session(engine) as session, session.begin():
        session.execute(jobs.batch_jobs.delete().where(jobs.batch_jobs.c.id == job_id))


@pytest.fixture(scope="module")
def console(pg_url, pg_engine, demo_tables, adult_model, adult_spec, tmp_path_factory):
    """gunicorn with the console, a worker on Redis; `console-demo` has v1 live and v2 not."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium", pytrace=False)
    spec = small_adult_spec(adult_spec, PROMOTED_MODEL)
    train_model(demo_tables, spec, promotion=Promotion.ALWAYS)
    train_model(demo_tables, spec)
    xss_job = register_xss_records(pg_engine, adult_model)
    redis.Redis.from_url(TEST_REDIS_URL).flushdb()
    log = tmp_path_factory.mktemp("console") / "api.log"
    env = {
        "DATABASE_URL": pg_url,
        "REDIS_URL": TEST_REDIS_URL,
        "DEFAULT_MODEL": adult_model.name,
        "ADMIN_TOKEN": TOKEN,
    }
    base_url, api = start_api(env, log)
    worker = start_worker(pg_url, TEST_REDIS_URL)
    try:
        yield Console(base_url, xss_job)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
        stop(api)
        remove_xss_records(pg_engine, xss_job)


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright (its own browser download cannot work here)."""
    # Playwright loads only for the browser tests, not for every console test.
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Watched:
    """What a page tried that it should not have: requests off the machine, errors, dialogs."""

    blocked: list[str]
    failed: list[str]
    errors: list[str]
    dialogs: list[str]


@pytest.fixture
def page(browser) -> Iterator:
    """A fresh page whose every non-loopback request is aborted and recorded."""
    context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    watched = Watched([], [], [], [])

    def only_loopback(route) -> None:
        if urlsplit(route.request.url).hostname in LOOPBACK:
            route.continue_()
        else:
            watched.blocked.append(route.request.url)
            route.abort()

    context.route("**/*", only_loopback)
    page = context.new_page()

    # A poll still in flight when the page navigates is cancelled by the browser (ERR_ABORTED):
    # not a failure of the app.
    def on_failed(request) -> None:
        if request.failure != "net::ERR_ABORTED":
            watched.failed.append(request.url)

    page.on("requestfailed", on_failed)
    page.on("pageerror", lambda error: watched.errors.append(str(error)))
    page.on("dialog", lambda dialog: (watched.dialogs.append(dialog.message), dialog.dismiss()))
    page.watched = watched
    yield page
    context.close()


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot under test-artifacts/console/ (gitignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    docs = os.environ.get("CONSOLE_SCREENSHOTS_TO")
    if docs:  # refreshing the README's screenshots: CONSOLE_SCREENSHOTS_TO=docs/images
        Path(docs).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(docs) / f"console-{name}.png")
    return path
