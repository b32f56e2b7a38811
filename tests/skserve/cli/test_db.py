"""`skserve db upgrade`, `skserve db load-csv` and `skserve demo-data` through click."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from db.migrate import head
from skserve.cli import main


@pytest.fixture
def run(tmp_path):
    """Invoke the CLI on a fresh SQLite file; returns (exit code, output)."""
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}

    def invoke(*args: str, **extra_env: str) -> tuple[int, str]:
        result = CliRunner().invoke(main, list(args), env={**env, **extra_env})
        return result.exit_code, result.output

    return invoke


def test_upgrade_prints_the_revision(run):
    code, output = run("db", "upgrade")
    assert code == 0 and f"is at revision {head()}" in output


def test_load_csv_then_refuse_then_replace(run, tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("age,city\n39,Paris\n50,Oslo\n")
    code, output = run("db", "load-csv", str(path), "--table", "people", "--id-column", "id")
    assert code == 0 and "Loaded 2 rows into people (id column id)." in output
    code, output = run("db", "load-csv", str(path), "--table", "people")
    assert code == 1 and "already exists; add --replace" in output
    assert run("db", "load-csv", str(path), "--table", "people", "--replace")[0] == 0


@pytest.mark.parametrize(
    ("text", "table", "message"),
    [
        ("a,b\n1,2\n3\n", "t", "CSV line 3: expected 2 fields, found 1. Nothing was loaded"),
        ("a,b\n1,2\n", "t; DROP TABLE x", "invalid table name"),
        ("a,b c\n1,2\n", "t", "CSV header: invalid column name 'b c'"),
    ],
)
def test_load_csv_errors_say_what_went_wrong(run, tmp_path, text, table, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    code, output = run("db", "load-csv", str(path), "--table", table)
    assert code == 1 and message in output


def test_demo_data_loads_once(run):
    code, output = run("demo-data")
    assert code == 0 and "adult_training: 32,561 rows" in output
    assert "adult_features: 32,561 rows" in output
    code, output = run("demo-data")
    assert code == 0 and "already loaded" in output


def test_unreachable_database_says_how_to_fix_it(run):
    url = "postgresql+psycopg2://postgres:hunter2@127.0.0.1:1/nowhere"
    code, output = run("db", "upgrade", DATABASE_URL=url)
    assert code == 1 and "Cannot use the database at" in output
    assert "DATABASE_URL" in output and "hunter2" not in output
