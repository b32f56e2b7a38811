"""`skserve serve`: SageMaker's variables mapped onto gunicorn's (the server itself is driven in
tests/api/test_protocol_clients.py)."""

from __future__ import annotations

from pathlib import Path

from skserve.cli.serve import sagemaker_environment


def test_defaults_bind_every_interface_on_8080(tmp_path: Path) -> None:
    env = sagemaker_environment({}, model_file=tmp_path / "absent.pkl")
    assert env == {"HOST": "0.0.0.0", "PORT": "8080"}


def test_sagemaker_variables_set_port_workers_timeout_and_model(tmp_path: Path) -> None:
    model = tmp_path / "pipeline.pkl"
    model.write_bytes(b"x")
    environ = {
        "SAGEMAKER_BIND_TO_PORT": "9090",
        "SAGEMAKER_MODEL_SERVER_WORKERS": "3",
        "SAGEMAKER_MODEL_SERVER_TIMEOUT": "30",
    }
    env = sagemaker_environment(environ, model_file=model)
    assert env == {
        "HOST": "0.0.0.0",
        "PORT": "9090",
        "WEB_CONCURRENCY": "3",
        "GUNICORN_TIMEOUT": "30",
        "MODEL_PATH": str(model),
    }


def test_an_explicit_model_path_wins(tmp_path: Path) -> None:
    model = tmp_path / "pipeline.pkl"
    model.write_bytes(b"x")
    env = sagemaker_environment({"MODEL_PATH": "/models/mine.pkl"}, model_file=model)
    assert "MODEL_PATH" not in env
