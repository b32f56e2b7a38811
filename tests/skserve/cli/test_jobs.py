"""`skserve jobs`: submit (inline without Redis, followed with Redis), status, results, list."""

from __future__ import annotations

import re
import uuid

import pandas as pd
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from skserve.cli import main
from tests.conftest import TEST_REDIS_URL
from tests.worker.helpers import get_job, reference_predictions, start_worker

pytestmark = pytest.mark.usefixtures("job_context")


def skserve(pg_url: str, *args: str, redis: bool = False):
    env = {"DATABASE_URL": pg_url, "REDIS_URL": TEST_REDIS_URL if redis else "", "LOG_LEVEL": ""}
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def job_id_in(output: str) -> str:
    return re.search(r"Job ([0-9a-f-]{36})", output).group(1)


def test_submit_without_redis_runs_here_then_status_and_results(pg_url, job_context, tmp_path):
    submitted = skserve(
        pg_url,
        "jobs",
        "submit",
        "--model",
        "adult",
        "--id-range",
        "1",
        "2500",
        "--chunk-rows",
        "1000",
    )
    assert submitted.exit_code == 0, submitted.output
    assert "running the chunks in this process" in submitted.output
    assert "finished: 2,500 rows" in submitted.output
    job_id = job_id_in(submitted.output)
    assert f"skserve jobs results {job_id} --csv" in submitted.output

    status = skserve(pg_url, "jobs", "status", job_id)
    assert re.search(r"status\s+finished", status.output)
    assert re.search(r"chunks\s+3 / 3", status.output)

    out = tmp_path / "out.csv"
    written = skserve(pg_url, "jobs", "results", job_id, "--csv", str(out))
    assert written.exit_code == 0
    frame = pd.read_csv(out, dtype={"prediction": str})
    assert len(frame) == 2_500
    job = get_job(job_context.engine, job_id)
    reference = reference_predictions(
        job_context.engine, job, "adult_features", list(range(1, 2_501))
    )
    assert frame["prediction"].tolist() == reference.tolist()
    assert job_id in skserve(pg_url, "jobs", "list").output


def test_submit_a_csv_file(pg_url, job_context, tmp_path):
    with job_context.engine.connect() as connection:
        rows = pd.read_sql("SELECT * FROM adult_features WHERE id <= 50", connection)
    path = tmp_path / "people.csv"
    rows.to_csv(path, index=False)

    submitted = skserve(pg_url, "jobs", "submit", "--model", "adult", "--csv", str(path))

    assert submitted.exit_code == 0, submitted.output
    job_id = job_id_in(submitted.output)
    printed = skserve(pg_url, "jobs", "results", job_id, "--csv", "-").output
    assert printed.splitlines()[0] == "id,prediction,probability_<=50K,probability_>50K"
    assert len(printed.splitlines()) == 51


def test_submit_with_redis_waits_for_the_workers(pg_url, job_context, redis_conn):
    worker = start_worker(pg_url, TEST_REDIS_URL)
    try:
        submitted = skserve(
            pg_url, "jobs", "submit", "--model", "adult", "--ids", "3,1,2", "--wait", redis=True
        )
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    assert submitted.exit_code == 0, submitted.output
    assert "finished: 3 rows" in submitted.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "nope"], "model 'nope' is not registered"),
        (["--model", "adult", "--table", "nope"], "table 'nope' does not exist"),
        (["--model", "adult", "--ids", "1,x"], "use integers separated by commas"),
        (["--model", "adult", "--ids", "1", "--id-range", "1", "2"], "at most one of"),
        (["--model", "adult", "--ids", "99999999"], "1 of 1 ids are not in"),
    ],
)
def test_refusals_are_one_line_errors(pg_url, args, message):
    result = skserve(pg_url, "jobs", "submit", *args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_results_of_an_unknown_job(pg_url):
    result = skserve(pg_url, "jobs", "results", "nope", "--csv", "-")
    assert result.exit_code == 1
    assert "no batch job with id 'nope'" in result.output


def test_list_refuses_an_unknown_status_and_shows_utc_times(pg_url):
    bogus = CliRunner().invoke(
        main, ["jobs", "list", "--status", "bogus"], env={"DATABASE_URL": pg_url}
    )
    listed = skserve(pg_url, "jobs", "list")
    assert bogus.exit_code == 2 and "'bogus' is not one of" in bogus.output
    assert "queued" in bogus.output and "Traceback" not in bogus.output
    assert listed.exit_code == 0
    assert all(line.endswith("UTC") for line in listed.output.splitlines() if line)


def test_a_table_loaded_without_id_column_scores_as_a_batch_job(pg_url, job_context, tmp_path):
    table = f"cli_loaded_{uuid.uuid4().hex[:8]}"
    with job_context.engine.connect() as connection:
        rows = pd.read_sql("SELECT * FROM adult_features WHERE id <= 30", connection)
    path = tmp_path / "people.csv"
    rows.drop(columns=["id"]).to_csv(path, index=False)
    try:
        loaded = skserve(pg_url, "db", "load-csv", str(path), "--table", table)
        assert loaded.exit_code == 0, loaded.output
        assert f"Loaded 30 rows into {table} (id column id)." in loaded.output

        submitted = skserve(pg_url, "jobs", "submit", "--model", "adult", "--table", table)

        assert submitted.exit_code == 0, submitted.output
        assert "finished: 30 rows" in submitted.output
        job = get_job(job_context.engine, job_id_in(submitted.output))
        reference = reference_predictions(
            job_context.engine, job, "adult_features", list(range(1, 31))
        )
        out = tmp_path / "out.csv"
        skserve(pg_url, "jobs", "results", job.id, "--csv", str(out))
        frame = pd.read_csv(out, dtype={"prediction": str})
        assert frame["id"].tolist() == list(range(1, 31))  # numbered in file order
        assert frame["prediction"].tolist() == reference.tolist()
    finally:
        with job_context.engine.begin() as connection:
            connection.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))


def test_load_csv_refuses_an_id_column_without_integers(pg_url, tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("id,age\nx1,39\n")
    loaded = skserve(pg_url, "db", "load-csv", str(path), "--table", "never_made")
    assert loaded.exit_code == 1
    assert "id column 'id' must hold integers in every row; name another id column" in (
        loaded.output
    )
