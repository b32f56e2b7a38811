"""Defaults a newcomer meets natively: the bind address and the `--workers` naming."""

from __future__ import annotations

import importlib

import click

from settings import Settings
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
