"""Time GET /models/<name>/drift over a window of 1,000,000 logged predictions.

    .venv/bin/python bench/drift.py [--rows 1000000] [--runs 5] [--exact] [--reuse-log]
        [--database-url postgresql+psycopg2://postgres@127.0.0.1:5432/skserve_bench_drift]

The database is created, migrated and given the demo data and a small trained Adult model (20
trees; drift does not depend on the estimator) when it has none. The prediction log is emptied
and refilled with `--rows` single-row entries, COPYed straight into `prediction_log` in the
format the API writes (db/prediction_log.py): feature rows of adult_features with the model's
real predictions and probabilities, one second apart, ending now. Each run then times the
endpoint through the app (Flask's test client, in this process: the request, the SQL and the
JSON answer, no socket), on the whole window, with the default DRIFT_MAX_REQUESTS (a larger
window is sampled evenly); the median is printed. `--exact` adds one run counting every row.
The baseline in the same run is `SELECT count(*)` over the same window, the least any full
scan of it costs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from db.copy_io import copy_rows  # noqa: E402
from db.engine import create_database, make_engine  # noqa: E402
from db.log_encoding import encode_columns  # noqa: E402
from db.prediction_log import COLUMNS  # noqa: E402
from db.tables import prediction_log  # noqa: E402

DEFAULT_DATABASE_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/skserve_bench_drift"
MODEL = "adult"
DISTINCT_ROWS = 20_000


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument(
        "--exact",
        action="store_true",
        help="also time one run with DRIFT_MAX_REQUESTS=0 (every request counted)",
    )
    parser.add_argument(
        "--reuse-log", action="store_true", help="keep a log already holding --rows rows"
    )
    return parser.parse_args()


def prepare(url: str) -> int:
    """Migrate, load the demo data and train a small model if there is none; its version."""
    from db.demo import demo_data_loaded, load_demo_data
    from db.migrate import upgrade
    from trainer.spec import load_spec
    from trainer.train import Promotion, train_model

    create_database(url)
    upgrade(url)
    engine = make_engine(url)
    if not demo_data_loaded(engine):
        load_demo_data(engine)
    with engine.connect() as connection:
        version = connection.scalar(
            sa.text("SELECT version FROM model_versions WHERE name = :m AND is_production"),
            {"m": MODEL},
        )
    if version is None:
        spec = load_spec(ROOT / "specs" / "adult.toml")
        spec = replace(spec, params={**spec.params, "n_estimators": 20})
        version = train_model(engine, spec, promotion=Promotion.ALWAYS).version
    engine.dispose()
    return version


def fill_log(url: str, version: int, rows: int) -> tuple[datetime, datetime]:
    """Replace the log with `rows` single-row entries of real predictions; the window."""
    import pandas as pd

    from db import registry
    from db.engine import make_session_factory
    from inference.artifact import unpickle_pipeline

    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        record = registry.get_version(session, name=MODEL, version=version)
        pipeline = unpickle_pipeline(registry.get_artifact(session, name=MODEL, version=version))
    names = record.metadata().schema.names
    with engine.connect() as connection:
        frame = pd.read_sql(
            sa.text(f"SELECT {', '.join(names)} FROM adult_features ORDER BY id LIMIT :n"),
            connection,
            params={"n": DISTINCT_ROWS},
        )
    predictions = pipeline.predict(frame)
    probabilities = pipeline.predict_proba(frame)
    classes = [str(c) for c in pipeline.classes_]
    records = frame.to_dict(orient="records")
    entries = []
    for i, row in enumerate(records):
        inputs = encode_columns({name: [row[name]] for name in names}, len(names))
        outputs = {"predictions": [predictions[i]]}
        outputs["probabilities"] = {c: [probabilities[i, k]] for k, c in enumerate(classes)}
        entries.append((inputs, encode_columns(outputs, len(classes) + 1)))
    until = datetime.now(UTC)
    since = until - timedelta(seconds=rows)

    def log_rows():
        for i in range(rows):
            inputs, outputs = entries[i % len(entries)]
            logged_at = since + timedelta(seconds=i)
            yield (logged_at, MODEL, version, f"bench-{i}", 1, 0.5, inputs, outputs, "production")

    started = time.perf_counter()
    with engine.begin() as connection:
        connection.execute(sa.text("TRUNCATE prediction_log"))
        copy_rows(connection, prediction_log, COLUMNS, log_rows())
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(sa.text("VACUUM ANALYZE prediction_log"))
    print(f"logged {rows:,} rows in {time.perf_counter() - started:.1f} s")
    engine.dispose()
    return since, until + timedelta(seconds=1)


def existing_window(url: str, rows: int) -> tuple[datetime, datetime] | None:
    """The window of a log that already holds exactly `rows` rows."""
    engine = make_engine(url)
    with engine.connect() as connection:
        count, first, last = connection.execute(
            sa.text("SELECT count(*), min(logged_at), max(logged_at) FROM prediction_log")
        ).one()
    engine.dispose()
    return (first, last + timedelta(seconds=1)) if count == rows else None


def time_runs(
    url: str, since: datetime, until: datetime, runs: int, max_requests: int | None = None
) -> None:
    """Median seconds of the endpoint and of the count(*) baseline over the window."""
    from api.app import create_app
    from settings import Settings

    settings = Settings(database_url=url, default_model=MODEL, drift_gauge_seconds=0)
    if max_requests is not None:
        settings = replace(
            settings, drift_max_requests=max_requests, monitoring_statement_timeout=3600
        )
    app = create_app({"SETTINGS": settings, "START_WATCHER": False})
    client = app.test_client()
    query = {"since": since.isoformat(), "until": until.isoformat()}
    engine = make_engine(url)
    endpoint, baseline = [], []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(f"/models/{MODEL}/drift", query_string=query)
        endpoint.append(time.perf_counter() - started)
        assert response.status_code == 200, response.get_json()
        report = response.get_json()
        started = time.perf_counter()
        with engine.connect() as connection:
            connection.execute(
                sa.text(
                    "SELECT count(*) FROM prediction_log WHERE model_name = :m "
                    "AND logged_at >= :s AND logged_at < :u"
                ),
                {"m": MODEL, "s": since, "u": until},
            )
        baseline.append(time.perf_counter() - started)
    verdicts = {name: f["verdict"] for name, f in report["features"].items()}
    print(
        f"DRIFT_MAX_REQUESTS={settings.drift_max_requests}: {report['logged_requests']:,} "
        f"logged requests, counted one in {report['sampled_one_in']} "
        f"({report['rows']:,} rows); verdicts: {sorted(set(verdicts.values()))}"
    )
    print(
        f"GET /models/{MODEL}/drift: median {statistics.median(endpoint):.2f} s "
        f"(runs: {', '.join(f'{s:.2f}' for s in endpoint)})"
    )
    print(
        f"baseline count(*) over the window: median {statistics.median(baseline):.2f} s; "
        f"ratio {statistics.median(endpoint) / statistics.median(baseline):.1f}x"
    )
    app.extensions["skserve"].close()
    engine.dispose()


def main() -> None:
    """Prepare, fill the log, time the endpoint."""
    args = parse_args()
    version = prepare(args.database_url)
    window = existing_window(args.database_url, args.rows) if args.reuse_log else None
    since, until = window or fill_log(args.database_url, version, args.rows)
    time_runs(args.database_url, since, until, args.runs)
    if args.exact:
        time_runs(args.database_url, since, until, 1, max_requests=0)


if __name__ == "__main__":
    main()
