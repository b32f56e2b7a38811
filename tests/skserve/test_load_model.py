"""`skserve.load_model`: a downloaded artifact, from a file or a real HTTP server, predicts."""

from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server

import skserve
from inference.artifact import CorruptArtifactError

PORT = 18420


@pytest.fixture
def served(app):
    """The test app behind a real HTTP server on this helper's port range."""
    server = make_server("127.0.0.1", PORT, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{PORT}"
    server.shutdown()
    thread.join(timeout=5)


def test_a_downloaded_artifact_predicts_like_the_api(served, client, tmp_path, feature_rows):
    url = f"{served}/model/download"
    from_url = skserve.load_model(url)
    path = tmp_path / "pipeline.pkl"
    path.write_bytes(client.get("/model/download").data)
    from_file = skserve.load_model(path)

    frame = feature_rows.drop(columns=["id"]).head(5)
    body = {"columns": list(frame.columns), "data": frame.values.tolist()}
    expected = client.post("/models/adult/predict", json=body).get_json()
    assert list(from_url.predict(frame)) == expected["predictions"]
    assert list(from_file.predict(frame)) == expected["predictions"]


def test_bytes_that_are_not_an_artifact_are_refused(tmp_path):
    path = tmp_path / "not-a-model.pkl"
    path.write_bytes(b"not a pickle")
    with pytest.raises(CorruptArtifactError, match="does not unpickle"):
        skserve.load_model(path)
