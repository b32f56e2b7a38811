"""The console in a real browser: Chromium over gunicorn, PostgreSQL and a real RQ worker."""

from __future__ import annotations

import re
import time

import pytest
import requests
from playwright.sync_api import expect

from tests.api.console.conftest import PROMOTED_MODEL, TOKEN, XSS, screenshot
from tests.api.helpers import RECORD
from tests.worker.helpers import wait_for

pytestmark = pytest.mark.slow


def open_page(page, url: str) -> None:
    """Load `url` and wait until console.js has wired the page up."""
    page.goto(url)
    page.wait_for_selector("body[data-ready=true]")


def assert_rendered_offline(page) -> None:
    """Every asset came from the app: nothing left the machine, nothing failed or threw."""
    watched = page.watched
    assert watched.blocked == [] and watched.failed == [] and watched.errors == []
    assert page.evaluate("typeof htmx === 'object' && typeof uPlot === 'function'")
    assert page.evaluate("document.styleSheets.length") == 2
    header = page.evaluate("getComputedStyle(document.querySelector('header')).backgroundColor")
    assert header == "rgb(17, 24, 39)"  # console.css applied


def test_models_page_renders_fully_without_any_outside_request(console, page):
    for _ in range(20):
        response = requests.post(
            f"{console.base_url}/models/adult/predict", json=RECORD, timeout=10
        )
        assert response.status_code == 200

    def requests_per_minute_shown() -> bool:
        open_page(page, f"{console.base_url}/ui/")
        cells = page.locator("tr[data-model=adult] td").all_inner_texts()
        return len(cells) > 5 and re.fullmatch(r"[\d.]+", cells[5]) and float(cells[5]) >= 4

    # The workers write the prediction log every second.
    wait_for(requests_per_minute_shown, timeout=15, interval=0.5, what="the logged requests")
    rows = page.locator("#models tbody tr")
    assert rows.count(), page.content()[:3000]
    names = rows.locator("a.model-link").all_inner_texts()
    assert {"adult", PROMOTED_MODEL} <= set(names)
    adult = page.locator("tr[data-model=adult]")
    assert adult.locator(".badge.prod").inner_text() == "v1"
    assert adult.locator(".badge.on").inner_text() == "on"  # fast path
    assert re.search(r"roc_auc 0\.\d{3}", adult.inner_text())
    cells = adult.locator("td").all_inner_texts()
    assert float(cells[5]) >= 20 / 5  # requests per minute over the last 5 minutes
    assert re.fullmatch(r"\d+\.\d\d ms", cells[6]) and re.fullmatch(r"\d+\.\d\d ms", cells[7])
    assert page.locator("#token-forget").is_hidden()
    assert_rendered_offline(page)
    screenshot(page, "models")


def test_promote_v2_with_the_token_changes_the_badge(console, page):
    open_page(page, f"{console.base_url}/ui/models/{PROMOTED_MODEL}")
    badge = page.locator("#production-badge")
    assert badge.inner_text() == "production v1"
    page.get_by_role("button", name="Promote v2").click()
    assert "admin token" in page.locator("#flash").inner_text()  # asked for, nothing sent
    assert badge.inner_text() == "production v1"

    page.fill("#admin-token", TOKEN)
    page.click("#token-save")
    assert page.evaluate("sessionStorage.getItem('skserve.adminToken')") == TOKEN
    with page.expect_request(re.compile(r".*/promote$")) as promotion:
        page.get_by_role("button", name="Promote v2").click()
    assert promotion.value.headers["authorization"] == f"Bearer {TOKEN}"
    assert "token" not in promotion.value.url and not page.context.cookies()

    expect(badge).to_have_text("production v2")
    assert page.locator("tr[data-version='2'] .badge.prod").inner_text() == "production"
    page.get_by_role("button", name="Roll back to v1").wait_for()
    listed = requests.get(f"{console.base_url}/models", timeout=10).json()["models"]
    assert {m["name"]: m["production_version"] for m in listed}[PROMOTED_MODEL] == 2
    assert_rendered_offline(page)
    screenshot(page, "model")


def test_playground_prediction_equals_the_api(console, page):
    open_page(page, f"{console.base_url}/ui/models/adult")
    for name, value in RECORD.items():
        field = page.locator(f"#playground [name={name}]")
        if field.evaluate("f => f.tagName") == "SELECT":
            field.select_option(str(value))
        else:
            field.fill(str(value))
    page.get_by_role("button", name="Predict").click()
    page.locator("#playground-result").wait_for()

    expected = requests.post(f"{console.base_url}/models/adult/predict", json=RECORD, timeout=10)
    body = expected.json()
    assert page.locator("#playground-prediction").inner_text() == body["predictions"][0]
    bars = page.locator("#playground-probabilities .probability")
    shown = {
        bar.locator(".label").inner_text(): bar.locator("progress").evaluate("p => p.value")
        for bar in bars.all()
    }
    assert shown == body["probabilities"][0]
    assert_rendered_offline(page)
    screenshot(page, "playground")


def test_a_job_submitted_from_the_form_reaches_100_percent_with_a_download(console, page):
    open_page(page, f"{console.base_url}/ui/jobs")
    page.select_option("#job-form [name=model]", "adult")
    page.check("#job-form input[name=kind][value=id_range]")
    page.fill("#job-form [name=first_id]", "1")
    page.fill("#job-form [name=last_id]", "3000")
    page.fill("#job-form [name=chunk_rows]", "500")
    page.get_by_role("button", name="Submit").click()
    page.wait_for_url(re.compile(r".*/ui/jobs/[0-9a-f-]{36}$"))
    job_id = page.url.rsplit("/", 1)[1]

    seen = []
    deadline = time.monotonic() + 90
    while not page.locator("#download").count() and time.monotonic() < deadline:
        seen.append(page.locator("#job-panel progress").evaluate("p => p.value"))
        page.wait_for_timeout(200)
    assert page.locator("#download").count(), f"no download link; progress seen {seen}"
    assert page.locator("#job-status").inner_text() == "finished"
    assert page.locator("#job-panel progress").evaluate("p => p.value") == 100
    assert seen == sorted(seen)  # the bar only moves forward
    assert page.locator("#job-rows").inner_text() == "3,000 of 3,000"
    with page.expect_download() as download:
        page.click("#download")
    lines = open(download.value.path()).read().splitlines()
    assert len(lines) == 3001 and lines[0].startswith("id,prediction")
    screenshot(page, "job")

    open_page(page, f"{console.base_url}/ui/jobs")
    row = page.locator(f"tr[data-job='{job_id}']")
    assert row.locator(".badge.status").inner_text() == "finished"
    assert_rendered_offline(page)
    screenshot(page, "jobs")


def test_script_tags_in_names_and_errors_render_as_text(console, page):
    urls = ["/ui/jobs", f"/ui/jobs/{console.xss_job}"]
    for url in urls:
        open_page(page, console.base_url + url)
        assert page.get_by_text(XSS).count() >= 1, url
        assert page.locator("main script").count() == 0, url
    open_page(page, f"{console.base_url}/ui/jobs/{console.xss_job}")
    assert page.locator("#job-error").inner_text() == f"chunk 0 failed: {XSS}"
    assert page.watched.dialogs == [] and page.watched.errors == []
