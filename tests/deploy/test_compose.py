"""docker-compose.yml runs the same skserve commands as a native install, wired safely."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from settings import Settings, load_settings
from tests.deploy.files import (
    COMPOSE_FILE,
    ENV_EXAMPLE,
    ROOT,
    compose_variables,
    load_compose,
    read_dockerfile,
    read_env_example,
    resolve_skserve,
)

SERVICES = {"postgres", "redis", "migrate", "trainer", "api", "worker", "proxy", "test"}
APP_SERVICES = ("migrate", "trainer", "api", "worker")
HEALTHY, COMPLETED = "service_healthy", "service_completed_successfully"
DEPENDENCIES = {
    "migrate": {"postgres": HEALTHY},
    "trainer": {"postgres": HEALTHY, "migrate": COMPLETED},
    "api": {"postgres": HEALTHY, "redis": HEALTHY, "migrate": COMPLETED},
    "worker": {"postgres": HEALTHY, "redis": HEALTHY, "migrate": COMPLETED, "trainer": COMPLETED},
    "test": {"postgres": HEALTHY, "redis": HEALTHY},
    "proxy": {"api": HEALTHY},
}
GUNICORN_VARIABLE = re.compile(r"environ\.get\(\s*[\"']([A-Z_][A-Z0-9_]*)")
INSTALL_COMPOSE = "apt-get install -y --no-install-recommends docker-compose"


@pytest.fixture(scope="module")
def compose() -> dict:
    """The parsed compose file."""
    return load_compose()


def test_compose_names_every_service(compose):
    assert set(compose["services"]) == SERVICES


@pytest.mark.parametrize("service", ["postgres", "redis", "api"])
def test_long_running_services_have_healthchecks(compose, service):
    healthcheck = compose["services"][service]["healthcheck"]
    assert healthcheck["test"][0] in ("CMD", "CMD-SHELL")
    assert healthcheck.get("interval") and healthcheck.get("retries")


@pytest.mark.parametrize(("service", "expected"), sorted(DEPENDENCIES.items()))
def test_dependencies_wait_for_health_or_completion(compose, service, expected):
    depends_on = compose["services"][service]["depends_on"]
    assert {name: spec["condition"] for name, spec in depends_on.items()} == expected


@pytest.mark.parametrize("service", APP_SERVICES)
def test_commands_are_real_skserve_commands(compose, service):
    argv = compose["services"][service]["command"]
    command, path, args = resolve_skserve(argv)
    command.make_context(" ".join(["skserve", *path]), list(args))  # unknown options raise
    from skserve.cli import main

    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0, result.output


def test_only_the_proxy_publishes_a_port_on_localhost_by_default(compose):
    published = {name for name, service in compose["services"].items() if "ports" in service}
    assert published == {"proxy"}
    assert compose["services"]["proxy"]["ports"] == [
        "${API_BIND:-127.0.0.1}:${API_PORT:-8000}:8080"
    ]


def test_base_images_are_upstream_by_default_and_overridable(compose):
    services = compose["services"]
    assert services["postgres"]["image"] == "${POSTGRES_IMAGE:-postgres:16}"
    assert services["redis"]["image"] == "${REDIS_IMAGE:-redis:7}"
    assert services["api"]["build"]["args"]["PYTHON_IMAGE"].startswith("${PYTHON_IMAGE:-python:")
    assert services["proxy"]["build"]["args"]["NGINX_IMAGE"].startswith("${NGINX_IMAGE:-nginx:")


def test_app_services_share_one_environment_anchor(compose):
    shared = compose["x-skserve-env"]
    assert "x-skserve-env: &" in COMPOSE_FILE.read_text()
    for service in APP_SERVICES:
        environment = compose["services"][service]["environment"]
        assert shared.items() <= environment.items(), service
    assert set(shared) >= {"DATABASE_URL", "REDIS_URL", "DEFAULT_MODEL", "ADMIN_TOKEN"}


def test_secrets_come_from_dot_env(compose):
    shared = compose["x-skserve-env"]
    assert shared["ADMIN_TOKEN"].startswith("${ADMIN_TOKEN")
    assert "${POSTGRES_PASSWORD" in shared["DATABASE_URL"]
    password = compose["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"]
    assert password.startswith("${POSTGRES_PASSWORD")


def test_data_lives_in_named_volumes(compose):
    assert set(compose["volumes"]) == {"pgdata", "redisdata"}
    assert compose["services"]["postgres"]["volumes"] == ["pgdata:/var/lib/postgresql/data"]


def test_one_shots_do_not_restart_and_workers_scale(compose):
    services = compose["services"]
    assert services["migrate"]["restart"] == services["trainer"]["restart"] == "no"
    assert "container_name" not in services["worker"]
    assert "ports" not in services["worker"]


def test_trainer_bootstraps_with_the_shipped_spec(compose):
    argv = compose["services"]["trainer"]["command"]
    assert argv[:3] == ["skserve", "up", "--bootstrap-only"]
    spec = argv[argv.index("--spec") + 1]
    assert (ROOT / spec).is_file()


def test_test_service_is_opt_in_and_targets_the_compose_databases(compose):
    test = compose["services"]["test"]
    assert test["profiles"] == ["test"]
    assert "@postgres:5432/" in test["environment"]["TEST_DATABASE_URL"]
    assert test["environment"]["TEST_REDIS_URL"].startswith("redis://redis:6379/")
    assert test["command"][:3] == ["python", "-m", "pytest"]


def test_build_targets_exist(compose):
    for name, service in compose["services"].items():
        build = service.get("build")
        if build is None:
            continue
        stages = read_dockerfile(ROOT / build["context"] / build.get("dockerfile", "Dockerfile"))
        if "target" in build:
            assert build["target"] in {stage.name for stage in stages}, name


def test_every_compose_variable_is_in_env_example():
    documented = read_env_example().values
    missing = compose_variables() - set(documented)
    assert not missing, f"add to .env.example: {sorted(missing)}"


def test_env_example_documents_every_setting():
    documented = read_env_example()
    settings = {name.upper() for name in Settings.__dataclass_fields__}
    gunicorn_conf = Path(importlib.util.find_spec("api.gunicorn_conf").origin)
    gunicorn = set(GUNICORN_VARIABLE.findall(gunicorn_conf.read_text()))
    missing = (settings | gunicorn | {"WEB_CONCURRENCY", "PORT"}) - set(documented.values)
    assert not missing, f"add to .env.example: {sorted(missing)}"
    assert not documented.undocumented, f"comment these: {documented.undocumented}"


def test_env_example_defaults_are_valid_settings():
    settings = load_settings(read_env_example().values)
    assert settings.embedded_database and settings.embedded_queue


def test_docker_compose_config_accepts_the_file(tmp_path):
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip(f"docker-compose is not installed ({INSTALL_COMPOSE}); YAML checks ran")
    empty = tmp_path / "empty.env"
    empty.write_text("")
    for env_file in (ENV_EXAMPLE, empty):
        result = subprocess.run(
            [binary, "--env-file", str(env_file), "-f", str(COMPOSE_FILE), "config"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert "WARNING" not in result.stderr, result.stderr
        assert "skserve-api:latest" in result.stdout
