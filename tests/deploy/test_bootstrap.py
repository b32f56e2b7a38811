"""`skserve up --bootstrap-only` (compose's trainer) on the embedded SQLite default."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from sqlalchemy.orm import Session

from db import registry
from db.demo import demo_data_loaded
from db.engine import make_engine
from skserve.cli import main

SMALL_SPEC = Path(__file__).with_name("small_adult.toml")


def test_bootstrap_trains_once_then_leaves_production_alone(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'var' / 'skserve.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.delenv("REDIS_URL", raising=False)
    argv = ["up", "--bootstrap-only", "--spec", str(SMALL_SPEC)]

    first = CliRunner().invoke(main, argv)
    assert first.exit_code == 0, first.output
    assert "registered and promoted adult v1" in first.output

    second = CliRunner().invoke(main, argv)
    assert second.exit_code == 0, second.output
    assert "adult v1 is in production; not training" in second.output
    assert "already loaded" in second.output

    engine = make_engine(url)
    try:
        assert demo_data_loaded(engine)
        with Session(engine) as session:
            assert registry.production_versions(session) == {"adult": 1}
            assert len(registry.list_versions(session, name="adult")) == 1
    finally:
        engine.dispose()


def test_a_missing_spec_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'skserve.db'}")
    result = CliRunner().invoke(main, ["up", "--bootstrap-only", "--spec", "nope.toml"])
    assert result.exit_code == 1
    assert "no training spec at nope.toml" in result.output
