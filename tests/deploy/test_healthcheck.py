"""The api image's HEALTHCHECK finds the server on the port it really listens on: PORT for
`skserve api`, SAGEMAKER_BIND_TO_PORT for SageMaker's `serve` (the image's PORT says 8000)."""

from __future__ import annotations

import importlib
import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.deploy.files import DOCKERFILES, ROOT, effective, exec_form, read_dockerfile
from tests.processes import free_port, start_skserve, stop

pytestmark = pytest.mark.slow


def healthcheck_argv() -> list[str]:
    """The HEALTHCHECK command of Dockerfile.api, with the image's paths mapped onto the tree."""
    stages = read_dockerfile(DOCKERFILES["api"])
    healthcheck = effective(stages, "HEALTHCHECK")
    assert healthcheck is not None
    argv = exec_form(healthcheck[healthcheck.index("CMD ") + 4 :])
    copies = dict(
        reversed(rest.split()[-2:])
        for stage in stages
        for keyword, rest in stage.instructions
        if keyword == "COPY" and not rest.startswith("--from")
    )
    assert argv[0] == "python" and argv[1] in copies, f"not a script the image copies: {argv}"
    return [sys.executable, str(ROOT / copies[argv[1]])]


def run_healthcheck(env: dict[str, str]) -> int:
    """The healthcheck's exit status with the image's PORT and `env`."""
    full_env = {**os.environ, "PORT": str(free_port()), **env}
    return subprocess.run(healthcheck_argv(), env=full_env, timeout=30).returncode


@pytest.fixture(scope="module")
def sagemaker_port(pg_url: str, adult_model, tmp_path_factory) -> Iterator[int]:
    """`serve` listening on SAGEMAKER_BIND_TO_PORT."""
    port = free_port()
    env = {"DATABASE_URL": pg_url, "DEFAULT_MODEL": "adult", "SAGEMAKER_BIND_TO_PORT": str(port)}
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    _, process = start_skserve(["serve"], env, log, port)
    try:
        yield port
    finally:
        stop(process)


def test_serve_is_healthy_although_port_names_another(sagemaker_port: int) -> None:
    assert run_healthcheck({"SAGEMAKER_BIND_TO_PORT": str(sagemaker_port)}) == 0


def test_nothing_listening_is_unhealthy() -> None:
    assert run_healthcheck({"SAGEMAKER_BIND_TO_PORT": str(free_port())}) == 1


def test_the_ports_are_the_servers_defaults(monkeypatch) -> None:
    from skserve.cli.serve import SAGEMAKER_PORT

    monkeypatch.delenv("PORT", raising=False)
    monkeypatch.delenv("HOST", raising=False)
    gunicorn_conf = importlib.reload(importlib.import_module("api.gunicorn_conf"))
    spec = importlib.util.spec_from_file_location("healthcheck", healthcheck_argv()[1])
    healthcheck = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(healthcheck)
    assert healthcheck.ports({}) == [gunicorn_conf.bind.rsplit(":", 1)[1], SAGEMAKER_PORT]
