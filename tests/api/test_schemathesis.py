"""Schemathesis against a real gunicorn server on PostgreSQL, from the server's own document.

Every phase (examples, coverage, fuzzing, stateful), positive and negative data, with the admin
token, checking that no request gets a server error and that every response conforms to the
document (status code, content type, body schema). The server has its own database (the Adult
tables and the Adult model copied in), so the admin calls it fuzzes touch nothing else's state.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from db import registry
from db.demo import load_demo_data
from db.engine import create_database, make_engine
from db.migrate import upgrade
from tests.conftest import TEST_REDIS_URL
from tests.processes import start_api, stop

pytestmark = pytest.mark.slow

ADMIN_TOKEN = "schemathesis-admin-token"
# The whole run's budget: the examples and coverage phases, then fuzzing and stateful testing
# repeat until it is spent.
MAX_SECONDS = 120
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)


@pytest.fixture(scope="module")
def fuzzed_database(pg_url: str, pg_engine: Engine, adult_model) -> Iterator[str]:
    """A database of its own: migrated, the demo tables, the Adult model in production."""
    url = sa.make_url(pg_url)
    own = url.set(database=f"{url.database}_fuzzed").render_as_string(hide_password=False)
    maintenance = make_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with maintenance.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.database}_fuzzed"'))
    maintenance.dispose()
    create_database(own)
    upgrade(own)
    engine = make_engine(own)
    load_demo_data(engine)
    with Session(pg_engine) as session:
        data = registry.get_artifact(session, name="adult", version=adult_model.version)
    with Session(engine) as session, session.begin():
        record = registry.register_pipeline(session, name="adult", data=data)
        registry.promote(session, name="adult", version=record.version)
    engine.dispose()
    yield own


@pytest.fixture(scope="module")
def server(fuzzed_database: str, tmp_path_factory) -> Iterator[str]:
    """`skserve api` (gunicorn, 2 workers) with Redis and an admin token."""
    log = tmp_path_factory.mktemp("schemathesis") / "api.log"
    env = {
        "DATABASE_URL": fuzzed_database,
        "DEFAULT_MODEL": "adult",
        "ADMIN_TOKEN": ADMIN_TOKEN,
        "REDIS_URL": TEST_REDIS_URL,
    }
    base_url, process = start_api(env, log)
    try:
        yield base_url
    finally:
        stop(process)


def test_no_request_gets_a_server_error_or_a_nonconforming_answer(server, tmp_path: Path):
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        f"{server}/openapi.json",
        "--phases=examples,coverage,fuzzing,stateful",
        "--mode=all",
        f"--checks={','.join(CHECKS)}",
        f"--header=Authorization: Bearer {ADMIN_TOKEN}",
        f"--max-time={MAX_SECONDS}",
        "--seed=20261202",
        # One worker: Hypothesis' lambda descriptions are not thread-safe on Python 3.11.
        "--workers=1",
        "--request-timeout=30",
        "--suppress-health-check=all",
        "--no-color",
    ]
    run = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=MAX_SECONDS + 240,
        cwd=tmp_path,
        check=False,
    )
    report = run.stdout + run.stderr
    print(report[report.find("SUMMARY") :])  # shown with `pytest -s`: phases, cases, seed
    assert "Tested: " in report and " 0 generated" not in report, report[-3000:]
    assert run.returncode == 0, report[-20000:]
