"""The training commands end to end on the embedded SQLite default."""

from pathlib import Path

from click.testing import CliRunner

from skserve.cli import main

SPECS = Path(__file__).resolve().parents[3] / "specs"


def test_upgrade_demo_data_train_and_promote_on_sqlite(tmp_path):
    spec = tmp_path / "small.toml"
    spec.write_text(
        (SPECS / "adult.toml").read_text().replace("n_estimators = 100", "n_estimators = 5")
    )
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'skserve.db'}"}
    runner = CliRunner()

    def run(*args):
        result = runner.invoke(main, list(args), env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    run("db", "upgrade")
    assert "32,561" in run("demo-data")
    first = run("train", "--spec", str(spec), "--promote")
    trained = runner.invoke(main, ["train", "--spec", str(spec)], env=env)
    second = trained.stdout
    assert "] fitting GradientBoostingClassifier on" in trained.stderr  # stages, while it runs
    assert "fitting" not in second
    listing = run("models", "list")

    assert "Registered adult version 1" in first and "promoted to production" in first
    assert "Registered adult version 2" in second and "skserve models promote adult 2" in second
    lines = listing.splitlines()
    assert lines[0].startswith("* adult") and " v1 " in lines[0]
    assert lines[1].startswith("  adult") and " v2 " in lines[1]
    run("models", "promote", "adult", "2")
    assert run("models", "list").splitlines()[1].startswith("* adult")


def test_train_reports_a_bad_spec_with_what_to_do(tmp_path):
    spec = tmp_path / "bad.toml"
    spec.write_text((SPECS / "adult.toml").read_text().replace('"age",', '"agee",'))
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'skserve.db'}"}
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"], env=env).exit_code == 0
    assert runner.invoke(main, ["demo-data"], env=env).exit_code == 0

    result = runner.invoke(main, ["train", "--spec", str(spec)], env=env)

    assert result.exit_code == 1
    assert "agee" in result.output and "Fix the spec" in result.output


def test_a_long_stage_shows_its_elapsed_time_while_it_runs(capsys):
    import time

    from skserve.cli.train import stage_lines

    with stage_lines(every=0.1) as progress:
        progress("fitting a slow estimator")
        time.sleep(0.45)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].endswith("] fitting a slow estimator")
    assert len([line for line in lines if "still fitting a slow estimator" in line]) >= 3
