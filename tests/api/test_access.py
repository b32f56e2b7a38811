"""Access: the optional API_TOKEN, what /ready tells whom, and the base URL of /usage."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from flask import Flask
from flask.testing import FlaskClient

from api.app import create_app
from api.auth import OPEN_ENDPOINTS
from api.public_url import PLACEHOLDER, is_well_formed_host, public_base_url
from settings import Settings, load_settings
from tests.api.conftest import serving_app
from tests.api.helpers import RECORD

API_TOKEN, ADMIN_TOKEN = "api-token-for-tests", "admin-token-for-tests"
AS_CLIENT = {"Authorization": f"Bearer {API_TOKEN}"}
AS_ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture(scope="module")
def protected_app(api_settings: Settings) -> Iterator[Flask]:
    """The test app with API_TOKEN and ADMIN_TOKEN set."""
    settings = replace(api_settings, api_token=API_TOKEN, admin_token=ADMIN_TOKEN)
    with serving_app(settings) as app:
        yield app


@pytest.fixture
def protected(protected_app: Flask) -> FlaskClient:
    return protected_app.test_client()


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("POST", "/models/adult/predict", {"json": RECORD}),
        ("POST", "/predict", {"json": RECORD}),
        ("GET", "/models/adult/entities/1/prediction", {}),
        ("POST", "/v2/models/adult/infer", {"json": {"inputs": []}}),
        ("POST", "/invocations", {"json": {"dataframe_records": [RECORD]}}),
        ("GET", "/jobs", {}),
        ("GET", "/models", {}),
        ("GET", "/model/download", {}),
        ("GET", "/usage", {}),
    ],
)
def test_api_token_guards_data_routes(protected: FlaskClient, method, path, kwargs) -> None:
    anonymous = protected.open(path, method=method, **kwargs)
    assert (anonymous.status_code, anonymous.get_json()["error_code"]) == (401, "UNAUTHORIZED")
    assert "API_TOKEN" in anonymous.get_json()["message"]
    wrong = protected.open(path, method=method, headers={"Authorization": "Bearer x"}, **kwargs)
    assert (wrong.status_code, wrong.get_json()["error_code"]) == (403, "FORBIDDEN")
    for headers in (AS_CLIENT, AS_ADMIN):
        answered = protected.open(path, method=method, headers=headers, **kwargs)
        assert answered.status_code not in (401, 403), answered.get_data(as_text=True)[:300]


def test_a_prediction_with_the_token_is_the_same_as_without(client, protected) -> None:
    open_answer = client.post("/models/adult/predict", json=RECORD).get_json()
    assert protected.post("/models/adult/predict", json=RECORD, headers=AS_CLIENT).get_json() == (
        open_answer
    )


@pytest.mark.parametrize(
    "path", ["/health", "/ready", "/metrics", "/ping", "/version", "/v2/health/live", "/docs"]
)
def test_probes_metrics_and_docs_stay_open(protected: FlaskClient, path: str) -> None:
    assert protected.get(path).status_code == 200


def test_the_open_endpoints_exist(protected_app: Flask) -> None:
    endpoints = {rule.endpoint for rule in protected_app.url_map.iter_rules()}
    assert endpoints >= OPEN_ENDPOINTS


def test_the_api_token_is_not_an_admin_token(protected: FlaskClient) -> None:
    refused = protected.post("/models/adult/versions/1/promote", headers=AS_CLIENT)
    assert (refused.status_code, refused.get_json()["error_code"]) == (403, "FORBIDDEN")
    assert "admin token" in refused.get_json()["message"]


def test_api_token_is_off_by_default_and_turns_the_console_off() -> None:
    assert load_settings({}).api_token is None and load_settings({}).console
    protected = load_settings({"API_TOKEN": "t"})
    assert protected.api_token == "t" and not protected.console
    assert load_settings({"API_TOKEN": "t", "CONSOLE": "true"}).console


def test_ready_names_failing_checks_and_keeps_details_for_the_admin(caplog) -> None:
    url = "postgresql+psycopg2://skserve_user@127.0.0.1:1/secretdb"
    settings = Settings(database_url=url, admin_token=ADMIN_TOKEN, fast_path=False)
    app = create_app({"SETTINGS": settings, "START_WATCHER": False, "PRELOAD_MODELS": False})
    client = app.test_client()
    anonymous = client.get("/ready")
    assert anonymous.status_code == 503
    body = anonymous.get_json()
    assert body["message"] == "not ready: database, default_model"
    assert body["details"]["checks"]["database"] == {"ok": False}
    for secret in ("127.0.0.1", ":1", "skserve_user", "secretdb", "connection"):
        assert secret not in anonymous.get_data(as_text=True)
    wrong = client.get("/ready", headers={"Authorization": "Bearer nope"}).get_json()
    assert wrong == body
    admin = client.get("/ready", headers=AS_ADMIN).get_json()
    assert "127.0.0.1" in admin["details"]["checks"]["database"]["detail"]
    assert "127.0.0.1" in caplog.text  # the log keeps what anonymous callers do not see
    app.extensions["skserve"].close()


@pytest.mark.parametrize(
    ("host", "well_formed"),
    [
        ("localhost", True),
        ("localhost:8000", True),
        ("ml.example.com", True),
        ("ml.example.com.", True),
        ("10.0.0.7:443", True),
        ("[::1]:8000", True),
        ("[2001:db8::1]", True),
        ("", False),
        ("evil.com/path", False),
        ("evil.com?x=1", False),
        ("evil.com#x", False),
        ("user@evil.com", False),
        ("evil.com:0", False),
        ("evil.com:65536", False),
        ("evil.com:80:80", False),
        ("evil.com:", False),
        ("-evil.com", False),
        ("evil-.com", False),
        ("ev il.com", False),
        ("evil.com\r\nX-Injected: 1", False),
        ("<script>alert(1)</script>", False),
        ("'; rm -rf / #", False),
        ("$(id)", False),
        ("a" * 64 + ".com", False),
        ("999.1.1.1", False),
        ("[::1", False),
        ("[not-an-ip]", False),
        ("exämple.com", False),
        ("evil.com\x00", False),
    ],
)
def test_a_host_is_used_only_when_well_formed(host: str, well_formed: bool) -> None:
    assert is_well_formed_host(host) is well_formed


@pytest.mark.parametrize(
    ("public_url", "host", "expected"),
    [
        (None, "ml.example.com:8443", "http://ml.example.com:8443"),
        (None, "evil.com/<x>", PLACEHOLDER),
        ("https://ml.example.com/api", "evil.com", "https://ml.example.com/api"),
    ],
)
def test_public_base_url(app: Flask, public_url, host, expected) -> None:
    settings = Settings(public_url=public_url)
    with app.test_request_context("/usage", headers={"Host": host}):
        from flask import request

        assert public_base_url(request, settings) == expected


@pytest.mark.parametrize("raw", ["ftp://x", "https://", "https://x.com/?a=1", "x.com", "//x.com"])
def test_a_bad_public_url_fails_at_start(raw: str) -> None:
    from settings import SettingsError

    with pytest.raises(SettingsError, match="PUBLIC_URL"):
        load_settings({"PUBLIC_URL": raw})
    assert load_settings({"PUBLIC_URL": "https://ml.example.com/"}).public_url == (
        "https://ml.example.com"
    )


@pytest.mark.parametrize("host", ["evil.com/phish?", "<b>x</b>", "attacker.example:1:2"])
def test_usage_examples_never_carry_a_malformed_host(client: FlaskClient, host: str) -> None:
    usage = client.get("/usage", headers={"Host": host})
    assert usage.status_code == 200
    text = usage.get_data(as_text=True)
    assert host not in text and PLACEHOLDER in text
