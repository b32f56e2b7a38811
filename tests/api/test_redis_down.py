"""The API with its Redis down (nothing listens on REDIS_URL's port): 503s, not 500s."""

from __future__ import annotations

from dataclasses import replace

import pytest

from api.app import create_app
from tests.api.helpers import RECORD
from tests.faults import free_fault_port

TOKEN = "s3cret-admin-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def client(api_settings):
    redis_url = f"redis://127.0.0.1:{free_fault_port()}/0"  # a real refusal, nothing mocked
    settings = replace(api_settings, admin_token=TOKEN, redis_url=redis_url)
    app = create_app({"SETTINGS": settings, "START_WATCHER": False, "TESTING": True})
    yield app.test_client()
    app.extensions["skserve"].close()


def test_training_on_demand_is_503_while_redis_is_down(client):
    response = client.post("/models/adult/train", headers=ADMIN)
    body = response.get_json()
    assert (response.status_code, body["error_code"]) == (503, "SERVICE_UNAVAILABLE")
    assert "unavailable" in body["message"]


def test_ready_names_redis_and_predictions_keep_answering(client):
    ready = client.get("/ready")
    assert (ready.status_code, ready.get_json()["error_code"]) == (503, "NOT_READY")
    assert "redis" in ready.get_json()["message"]
    assert client.post("/models/adult/predict", json=RECORD).status_code == 200
