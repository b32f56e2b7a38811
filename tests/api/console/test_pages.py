"""The console's pages through the Flask test client, on the test database and real model."""

from __future__ import annotations

from dataclasses import replace

import pytest

from api.app import create_app
from db import registry
from tests.api.console.conftest import XSS, register_xss_records, remove_xss_records
from tests.api.helpers import RECORD


@pytest.fixture
def xss_records(app, adult_model):
    """A failed job whose model name and error are a script tag; yields its id."""
    engine = app.extensions["skserve"].engine
    job_id = register_xss_records(engine, adult_model)
    yield job_id
    remove_xss_records(engine, job_id)


def test_a_script_tag_cannot_be_registered_as_a_model_name(app):
    svc = app.extensions["skserve"]
    with svc.sessions() as session, pytest.raises(registry.InvalidModelName):
        registry.register_version(session, name=XSS, artifact=b"", sha256="", metadata=None)


def test_models_page_lists_the_production_version_and_its_metrics(client, adult_model):
    response = client.get("/ui/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'href="/ui/models/adult"' in page
    assert "roc_auc" in page and "accuracy" in page
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_model_page_builds_the_playground_from_the_schema(client, adult_model):
    page = client.get("/ui/models/adult").get_data(as_text=True)
    assert '<select name="workclass" data-kind="categorical">' in page
    assert '<option value="State-gov"' in page
    assert 'name="age" type="number"' in page and "training range" in page
    assert "/models/adult/versions/" in page or "production" in page


def test_traffic_counts_come_from_the_prediction_log(client, app, adult_model):
    for _ in range(5):
        assert client.post("/models/adult/predict", json=RECORD).status_code == 200
    app.extensions["skserve"].prediction_log.flush()
    page = client.get("/ui/").get_data(as_text=True)
    row = page.split('data-model="adult"')[1].split("</tr>")[0]
    assert " ms</td>" in row  # p50 and p99 measured, not the empty dash


def test_client_strings_are_escaped_everywhere(client, xss_records):
    job_id = xss_records
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    for url in ("/ui/jobs", f"/ui/jobs/{job_id}", "/ui/jobs/rows"):
        page = client.get(url).get_data(as_text=True)
        assert XSS not in page, url
        assert escaped in page, url


def test_unknown_model_and_job_get_an_html_404(client):
    for url in ("/ui/models/nope", "/ui/jobs/00000000-0000-4000-8000-000000000000"):
        response = client.get(url)
        assert response.status_code == 404
        assert response.mimetype == "text/html"
        assert "NOT_FOUND" in response.get_data(as_text=True)


def test_vendored_assets_are_served(client):
    for name in ("vendor/htmx.min.js", "vendor/uPlot.iife.min.js", "console.js", "console.css"):
        response = client.get(f"/ui/static/{name}")
        assert response.status_code == 200, name
        assert len(response.data) > 1000
        response.close()


def test_console_can_be_turned_off(api_settings):

    app = create_app(
        {
            "SETTINGS": replace(api_settings, console=False),
            "START_WATCHER": False,
            "PRELOAD_MODELS": False,
        }
    )
    try:
        assert app.test_client().get("/ui/").status_code == 404
    finally:
        app.extensions["skserve"].close()
