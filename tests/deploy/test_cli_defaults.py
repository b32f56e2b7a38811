"""What a newcomer meets natively: defaults, the `--workers` naming, short CLI errors."""

from __future__ import annotations

import importlib

import click
import pytest
from click.testing import CliRunner

from settings import Settings, default_sqlite_path, load_settings
from skserve.cli import main
from skserve.cli.bootstrap import Bootstrapped
from skserve.cli.serve import api
from skserve.cli.up import api_command, child_environment, print_banner, session_token_line, up


def test_gunicorn_binds_loopback_unless_host_says_otherwise(monkeypatch):
    import api.gunicorn_conf as conf

    monkeypatch.delenv("HOST", raising=False)
    monkeypatch.setenv("PORT", "18401")
    assert importlib.reload(conf).bind == "127.0.0.1:18401"
    monkeypatch.setenv("HOST", "0.0.0.0")
    assert importlib.reload(conf).bind == "0.0.0.0:18401"


def _option(command: click.Command, flag: str) -> click.Option:
    return next(p for p in command.params if flag in getattr(p, "opts", ()))


def test_workers_counts_rq_workers_and_api_workers_gunicorn_workers_everywhere():
    assert "RQ workers" in _option(up, "--workers").help
    for command in (up, api):
        assert "gunicorn worker processes" in _option(command, "--api-workers").help
    assert not any("--workers" in p.opts for p in api.params)
    assert api_command(8000, 3)[-2:] == ["--api-workers", "3"]


def test_up_gives_its_children_a_session_admin_token_only_when_none_is_set(monkeypatch):
    monkeypatch.delenv("ADMIN_TOKEN", raising=False)
    first = child_environment(Settings(), "adult")["ADMIN_TOKEN"]
    second = child_environment(Settings(), "adult")["ADMIN_TOKEN"]
    monkeypatch.setenv("ADMIN_TOKEN", "mine")
    kept = child_environment(Settings(admin_token="mine"), "adult")["ADMIN_TOKEN"]
    assert len(first) >= 32 and first != second and kept == "mine"
    assert f"export ADMIN_TOKEN={first}" in session_token_line(first)


def test_the_banner_prints_urls_not_a_macos_command(capsys):
    ready = Bootstrapped("adult", 1, {"age": 39}, 1, "adult_features")
    print_banner("http://127.0.0.1:18402", Settings(), ready, 0)
    out = capsys.readouterr().out
    assert "  open " not in out and "  http://127.0.0.1:18402/docs" in out


def test_the_default_sqlite_file_does_not_depend_on_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    urls = set()
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        monkeypatch.chdir(tmp_path / folder)
        urls.add(load_settings({}).database_url)
    assert urls == {f"sqlite:///{tmp_path / 'data' / 'skserve' / 'skserve.db'}"}
    assert default_sqlite_path() == tmp_path / "data" / "skserve" / "skserve.db"


def _run(*args: str, **env: str):
    result = CliRunner().invoke(main, list(args), env={"LOG_LEVEL": "", **env})
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("env", "args", "expected"),
    [
        (
            {"DATABASE_URL": "postgres://u:secret@127.0.0.1:18499/x"},
            ["models", "list"],
            "write postgresql+psycopg2://",
        ),
        (
            {"DATABASE_URL": "postgresql+psycopg2://postgres@127.0.0.1:18499/x"},
            ["models", "list"],
            "Cannot use the database at postgresql+psycopg2://postgres@127.0.0.1:18499/x",
        ),
        (
            {"DATABASE_URL": "postgresql+psycopg2://postgres@127.0.0.1:18499/x"},
            ["jobs", "list"],
            "Start PostgreSQL",
        ),
        ({}, ["predict", "adult", "--json", "@missing.json"], "cannot read missing.json"),
    ],
    ids=["postgres-scheme", "database-down-models", "database-down-jobs", "missing-json-file"],
)
def test_common_mistakes_are_short_errors_that_say_what_to_do(env, args, expected):
    code, output = _run(*args, **env)
    assert code != 0 and expected in output
    assert "Traceback" not in output and "secret" not in output
    assert len([line for line in output.splitlines() if line.strip()]) <= 4


def test_an_unmigrated_database_names_its_file_and_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    code, output = _run("models", "list", DATABASE_URL="")
    assert code == 1 and "Traceback" not in output
    assert str(tmp_path / "skserve" / "skserve.db") in output
    assert "skserve db upgrade" in output
