"""`skserve models traffic` against the test database."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from skserve.cli import main
from tests.factories import small_adult_spec
from trainer.train import Promotion, train_model

MODEL = "clitraffic"


@pytest.fixture(scope="module")
def versions(pg_url, demo_tables, adult_spec):
    """Model `clitraffic` with v1 in production and v2, v3 registered."""
    for promotion in (Promotion.ALWAYS, Promotion.NO, Promotion.NO):
        train_model(demo_tables, small_adult_spec(adult_spec, MODEL), promotion=promotion)
    return pg_url


def run(url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        main, ["models", "traffic", MODEL, *args], env={"DATABASE_URL": url}
    )
    return result.exit_code, result.output


def test_sets_and_shows_the_canary_and_shadow_as_a_table(versions):
    code, output = run(versions, "--canary", "2", "--percent", "10", "--shadow", "3")
    assert code == 0, output
    assert "production  v1       90 %" in output and "canary      v2       10 %" in output
    assert "shadow      v3" in output
    code, output = run(versions, "--percent", "25")
    assert "canary      v2       25 %" in output and "shadow      v3" in output
    code, output = run(versions, "--clear", "--production", "2")
    assert code == 0 and "production  v2       100 %" in output and "canary" not in output
    assert run(versions)[1] == output.rsplit("\nRunning", 1)[0] + "\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--canary", "1", "--percent", "5", "--production", "1"], "is the production version"),
        (["--canary", "3"], "--canary needs --percent"),
        (["--canary", "9", "--percent", "5"], "has no version 9"),
        (["--canary", "3", "--percent", "150"], "between 0 and 100"),
    ],
)
def test_refuses_a_setting_that_cannot_be_served(versions, args, message):
    code, output = run(versions, *args)
    assert code != 0 and message in output
