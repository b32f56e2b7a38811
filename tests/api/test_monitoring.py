"""Drift, feedback and live performance against real PostgreSQL and the trained Adult model.

Predictions go through the API (so the prediction log holds what it holds in production);
each test reads only the window its own predictions were logged in.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sklearn.metrics import accuracy_score, mean_squared_error, r2_score, roc_auc_score
from sqlalchemy.orm import Session

from api.drift_gauges import DriftGauges
from db import registry
from db.tables import model_versions
from inference.profiles import EPSILON, Thresholds
from skserve.cli import main
from tests.worker.helpers import wait_until_ended
from trainer.spec import load_spec

TOKEN = "monitoring-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
FEATURES = list(load_spec(Path(__file__).parents[2] / "specs" / "adult.toml").features)
CHUNK = 500
YEAR_2000 = {"since": "2000-01-01T00:00:00Z", "until": "2000-01-02T00:00:00Z"}


@pytest.fixture(scope="module")
def monitor_app(api_settings):
    """An app with an admin token that takes 500-row requests; no watcher."""
    from api.app import create_app

    settings = replace(api_settings, admin_token=TOKEN, max_rows_per_request=2_000)
    app = create_app({"SETTINGS": settings, "START_WATCHER": False, "TESTING": True})
    yield app
    app.extensions["skserve"].close()


@pytest.fixture
def monitor(monitor_app):
    """A test client of that app."""
    return monitor_app.test_client()


@pytest.fixture(scope="module")
def training_rows(demo_tables) -> pd.DataFrame:
    """3,000 random labelled Adult rows (drawn like the holdout), in a fixed order."""
    with demo_tables.connect() as connection:
        frame = pd.read_sql(sa.text("SELECT * FROM adult_training"), connection)
    return frame.sample(n=3_000, random_state=7).reset_index(drop=True)


def predict_window(app, client, frame: pd.DataFrame, model: str = "adult") -> dict:
    """POST the rows in chunks, flush the log; the window, request ids and answers."""
    since = datetime.now(UTC)
    request_ids, predictions, probabilities = [], [], []
    for start in range(0, len(frame), CHUNK):
        chunk = frame.iloc[start : start + CHUNK][FEATURES]
        request_id = f"mon-{uuid.uuid4().hex[:12]}"
        response = client.post(
            f"/models/{model}/predict",
            json=chunk.to_dict(orient="records"),
            headers={"X-Request-ID": request_id},
        )
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        request_ids.append(request_id)
        predictions += body["predictions"]
        probabilities += [row[">50K"] for row in body["probabilities"]]
    app.extensions["skserve"].prediction_log.drain()
    time.sleep(0.01)
    until = datetime.now(UTC) + timedelta(milliseconds=1)
    return {
        "params": {"since": since.isoformat(), "until": until.isoformat()},
        "request_ids": request_ids,
        "predictions": predictions,
        "probabilities": probabilities,
    }


@pytest.fixture
def cli(pg_url):
    """Run `skserve ...` on the test database; its output (exit code 0 asserted)."""

    def run(*args: str) -> str:
        result = CliRunner().invoke(main, list(args), env={"DATABASE_URL": pg_url})
        assert result.exit_code == 0, result.output
        return result.output

    return run


def numpy_psi(column: dict, values: pd.Series) -> float:
    """PSI of `values` against a profile column, computed here from the raw values."""
    if column["kind"] == "numeric":
        present = values.dropna().to_numpy(dtype=float)
        bins = np.searchsorted(np.array(column["edges"]), present, side="right")
        counts = np.bincount(bins, minlength=len(column["edges"]) + 1)
        actual = np.append(counts, values.isna().sum()) / len(values)
        reference = np.array(column["counts"]) / sum(column["counts"])
        expected = np.append(reference * (1 - column["null_share"]), column["null_share"])
    else:
        categories = list(column["shares"])
        known = values.isin(categories)
        actual = np.array(
            [(values == c).sum() for c in categories]
            + [(~known & values.notna()).sum(), values.isna().sum()]
        ) / len(values)
        expected = np.array(
            [column["shares"][c] for c in categories] + [column["other"], column["null_share"]]
        )
    actual, expected = np.maximum(actual, EPSILON), np.maximum(expected, EPSILON)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def test_version_shows_its_reference_profile(monitor, adult_model):
    body = monitor.get(f"/models/adult/versions/{adult_model.version}").get_json()
    profile = body["reference_profile"]
    assert profile["rows"] == adult_model.metrics["holdout_rows"]
    age = profile["features"]["age"]
    assert len(age["counts"]) == len(age["edges"]) + 1 == 10  # ten quantile bins
    assert sum(age["counts"]) == profile["rows"]
    assert set(profile["outputs"]) == {"prediction", "probability"}
    assert len(str(profile)) < 8_000


def test_holdout_like_window_is_stable_everywhere(monitor_app, monitor, training_rows):
    window = predict_window(monitor_app, monitor, training_rows.iloc[:2_000])
    response = monitor.get("/models/adult/drift", query_string=window["params"])
    assert response.status_code == 200, response.get_json()
    report = response.get_json()
    assert report["rows"] == 2_000
    verdicts = {name: f["verdict"] for name, f in report["features"].items()}
    assert verdicts == dict.fromkeys(FEATURES, "stable")
    assert {o["verdict"] for o in report["outputs"].values()} == {"stable"}


def test_older_people_from_an_unseen_country_are_shifted(
    monitor_app, monitor, training_rows, adult_model, cli
):
    drifted = training_rows.iloc[:2_000].copy()
    drifted["age"] += 20
    drifted["native_country"] = "Atlantis"
    window = predict_window(monitor_app, monitor, drifted)
    report = monitor.get("/models/adult/drift", query_string=window["params"]).get_json()
    verdicts = {name: f["verdict"] for name, f in report["features"].items()}
    assert verdicts == {
        **dict.fromkeys(FEATURES, "stable"),
        "age": "shifted",
        "native_country": "shifted",
    }
    assert report["features"]["native_country"]["unseen_share"] == 1.0
    assert report["features"]["age"]["out_of_range_share"] > 0
    profile = monitor.get(f"/models/adult/versions/{adult_model.version}").get_json()
    for name, column in profile["reference_profile"]["features"].items():
        expected = numpy_psi(column, drifted[name])
        assert report["features"][name]["psi"] == pytest.approx(expected, rel=1e-9, abs=1e-12)

    since, until = window["params"]["since"], window["params"]["until"]
    output = cli("models", "drift", "adult", "--since", since, "--until", until)
    lines = {line.split()[0]: line.split() for line in output.splitlines()[2:]}
    assert lines["age"][1:3] == [f"{report['features']['age']['psi']:.4f}", "shifted"]
    assert lines["workclass"][2] == "stable"


def test_feedback_gives_live_accuracy_once(monitor_app, monitor, training_rows, adult_model, cli):
    rows = training_rows.iloc[2_000:3_000]
    window = predict_window(monitor_app, monitor, rows)
    labels = rows["income"].tolist()
    items = [
        {"request_id": window["request_ids"][i // CHUNK], "row": i % CHUNK, "label": label}
        for i, label in enumerate(labels)
    ]
    first = monitor.post("/models/adult/feedback", json=items, headers=AUTH)
    assert first.get_json() == {"accepted": 1_000, "duplicates": 0, "rejected": []}
    query = {**window["params"], "bucket": "1d"}
    report = monitor.get("/models/adult/performance", query_string=query).get_json()
    assert report["live"]["rows"] == 1_000
    assert report["live"]["accuracy"] == pytest.approx(
        accuracy_score(labels, window["predictions"]), abs=1e-12
    )
    truth = np.array(labels) == ">50K"
    assert report["live"]["roc_auc"] == pytest.approx(
        roc_auc_score(truth, window["probabilities"]), abs=1e-12
    )
    assert report["holdout"]["accuracy"] == adult_model.metrics["accuracy"]
    assert sum(bucket["rows"] for bucket in report["buckets"]) == 1_000

    output = cli("models", "performance", "adult", "--since", query["since"], "--bucket", "1d")
    assert f"{report['live']['accuracy']:.4f}" in output.splitlines()[3]  # the "live" line

    again = monitor.post("/models/adult/feedback", json=items, headers=AUTH)
    assert again.get_json() == {"accepted": 0, "duplicates": 1_000, "rejected": []}
    assert monitor.get("/models/adult/performance", query_string=query).get_json() == report


def test_feedback_by_entity_id_and_a_partly_rejected_post(monitor_app, monitor):
    response = monitor.get("/models/adult/entities/3/prediction", headers={"X-Request-ID": "m-e3"})
    assert response.status_code == 200
    monitor_app.extensions["skserve"].prediction_log.drain()
    items = [{"id": 3, "label": "<=50K"}, {"request_id": "never-seen", "row": 0, "label": ">50K"}]
    body = monitor.post("/models/adult/feedback", json=items, headers=AUTH).get_json()
    assert body["accepted"] + body["duplicates"] == 1
    assert [r["index"] for r in body["rejected"]] == [1]
    assert "unknown request id" in body["rejected"][0]["error"]


def test_performance_without_feedback_shows_the_holdout(monitor, adult_model):
    body = monitor.get("/models/adult/performance", query_string=YEAR_2000).get_json()
    assert body["live"] == {"rows": 0} and body["buckets"] == []
    assert body["holdout"]["roc_auc"] == adult_model.metrics["roc_auc"]


def test_batch_job_drift_reads_its_source_rows(monitor_app, monitor):
    response = monitor.post(
        "/jobs",
        json={"model": "adult", "source": {"table": "adult_features", "id_range": [1, 2000]}},
    )
    assert response.status_code == 202, response.get_json()
    job_id = response.get_json()["id"]
    job = wait_until_ended(monitor_app.extensions["skserve"].engine, job_id)
    assert job.status == "finished"
    report = monitor.get(f"/jobs/{job_id}/drift").get_json()
    assert report["rows"] == 2_000
    assert {f["verdict"] for f in report["features"].values()} == {"stable"}
    assert set(report["outputs"]) == {"prediction", "probability"}


def test_drift_gauges_on_metrics(monitor_app, monitor, training_rows):
    predict_window(monitor_app, monitor, training_rows.iloc[:500])
    svc = monitor_app.extensions["skserve"]
    gauges = DriftGauges(
        svc.engine,
        svc.sessions,
        interval=60,
        window_seconds=3600,
        thresholds=Thresholds(),
        statement_timeout=30,
    )
    gauges.refresh()
    text = monitor.get("/metrics").get_data(as_text=True)
    assert 'skserve_drift_psi{column="age",model="adult",version="' in text
    assert 'skserve_drift_verdict{column="output:prediction",model="adult",version="' in text


def test_a_version_registered_without_a_sample_has_no_profile(
    pg_engine, monitor, adult_model, training_rows
):
    with Session(pg_engine) as session:
        artifact = registry.get_artifact(session, name="adult", version=adult_model.version)
    with Session(pg_engine) as session, session.begin():
        registry.register_pipeline(session, name="adult-bare", data=artifact)
        sampled = registry.register_pipeline(
            session, name="adult-sampled", data=artifact, sample=training_rows.head(500)
        )
    try:
        response = monitor.get("/models/adult-bare/drift?version=1")
        assert response.status_code == 409
        assert response.get_json()["error_code"] == "NO_REFERENCE_PROFILE"
        profile = sampled.details["reference_profile"]
        assert profile["rows"] == 500
        assert set(profile["features"]) == set(FEATURES)
    finally:
        with pg_engine.begin() as connection:
            connection.execute(
                model_versions.delete().where(
                    model_versions.c.name.in_(["adult-bare", "adult-sampled"])
                )
            )


LOGGED_ID = "mon-fixed-request"
MALFORMED = [
    ("get", "/models/adult/drift?since=yesterday", None, 400, "INVALID_WINDOW"),
    ("get", "/models/adult/drift?until=2026-13-01T00:00:00", None, 400, "INVALID_WINDOW"),
    (
        "get",
        "/models/adult/drift?since=2026-12-02T00:00:00Z&until=2026-12-01T00:00:00Z",
        None,
        400,
        "INVALID_WINDOW",
    ),
    ("get", "/models/adult/drift?since=2026-12-01&since=2026-12-02", None, 400, "INVALID_BODY"),
    ("get", "/models/adult/drift?window=1h", None, 400, "INVALID_BODY"),
    ("get", "/models/adult/drift?version=two", None, 400, "INVALID_VERSION"),
    ("get", "/models/adult/drift?version=999", None, 404, "VERSION_NOT_FOUND"),
    ("get", "/models/no-such-model/drift", None, 404, "MODEL_NOT_FOUND"),
    ("get", "/models/adult/drift", YEAR_2000, 422, "EMPTY_WINDOW"),
    ("get", "/models/adult/performance?bucket=7x", None, 400, "INVALID_WINDOW"),
    ("get", "/models/adult/performance?bucket=1s&since=2000-01-01", None, 400, "INVALID_WINDOW"),
    (
        "get",
        "/models/adult/performance?until=2026-12-01T00:00:00+25:00",
        None,
        400,
        "INVALID_WINDOW",
    ),
    ("get", "/models/adult-nope/performance", None, 404, "MODEL_NOT_FOUND"),
    ("get", "/models/adult/performance?version=0", None, 400, "INVALID_VERSION"),
    ("get", "/jobs/00000000-0000-0000-0000-000000000000/drift", None, 404, "JOB_NOT_FOUND"),
    ("get", "/jobs/not-a-job/drift", None, 400, "INVALID_PARAMETER"),
    ("post-noauth", "/models/adult/feedback", [], 401, "UNAUTHORIZED"),
    ("post-badauth", "/models/adult/feedback", [], 403, "FORBIDDEN"),
    ("post", "/models/adult/feedback", {"label": ">50K"}, 400, "INVALID_BODY"),
    ("post", "/models/adult/feedback", [], 400, "INVALID_BODY"),
    ("post-raw", "/models/adult/feedback", b"[{", 400, "INVALID_JSON"),
    ("post", "/models/no-such-model/feedback", [{"id": 1, "label": "x"}], 404, "MODEL_NOT_FOUND"),
    (
        "post",
        "/models/adult/feedback",
        [{"request_id": "nobody-sent-this", "row": 0, "label": ">50K"}],
        422,
        "INVALID_FEEDBACK",
    ),
    (
        "post",
        "/models/adult/feedback",
        [{"request_id": LOGGED_ID, "row": 0, "label": "rich"}],
        422,
        "INVALID_FEEDBACK",
    ),
    (
        "post",
        "/models/adult/feedback",
        [{"request_id": LOGGED_ID, "row": 5, "label": ">50K"}],
        422,
        "INVALID_FEEDBACK",
    ),
    (
        "post",
        "/models/adult/feedback",
        [1, "x", {"request_id": LOGGED_ID}, {"id": "seven", "label": ">50K"}],
        422,
        "INVALID_FEEDBACK",
    ),
    (
        "post",
        "/models/adult/feedback",
        [{"request_id": LOGGED_ID, "row": 0, "id": 3, "label": ">50K"}],
        422,
        "INVALID_FEEDBACK",
    ),
]


@pytest.fixture(scope="module")
def logged_request(monitor_app, feature_rows):
    """One logged single-row prediction with a known request id."""
    row = feature_rows.iloc[0][FEATURES].to_dict()
    client = monitor_app.test_client()
    response = client.post("/models/adult/predict", json=row, headers={"X-Request-ID": LOGGED_ID})
    assert response.status_code == 200
    monitor_app.extensions["skserve"].prediction_log.drain()


@pytest.mark.parametrize(("method", "url", "body", "status", "code"), MALFORMED)
def test_malformed_monitoring_requests(monitor, logged_request, method, url, body, status, code):
    if method == "get":
        response = monitor.get(url, query_string=body)
    elif method == "post-raw":
        response = monitor.post(url, data=body, headers=AUTH, content_type="application/json")
    else:
        headers = {"post": AUTH, "post-noauth": {}, "post-badauth": {"Authorization": "Bearer x"}}
        response = monitor.post(url, json=body, headers=headers[method])
    assert response.status_code == status, response.get_json()
    error = response.get_json()
    assert error["error_code"] == code
    assert error["message"]
    assert isinstance(error["details"], dict)


@pytest.fixture(scope="module")
def hours_model(demo_tables, adult_spec):
    """A regressor (hours worked per week from the other Adult columns), trained and promoted."""
    from trainer.train import Promotion, train_model

    spec = replace(
        adult_spec,
        name="adult-hours",
        target="hours_per_week",
        numeric=tuple(c for c in adult_spec.numeric if c != "hours_per_week"),
        estimator="sklearn.linear_model.Ridge",
        params={},
        positive_label=None,
        primary_metric=None,
        feature_table=None,
    )
    report = train_model(demo_tables, spec, promotion=Promotion.ALWAYS)
    yield report
    with demo_tables.begin() as connection:
        connection.execute(model_versions.delete().where(model_versions.c.name == "adult-hours"))


def test_a_regressor_has_output_bins_and_live_rmse(
    monitor_app, monitor, training_rows, hours_model
):
    features = [f for f in FEATURES if f != "hours_per_week"]
    rows = training_rows.iloc[:400]
    since = datetime.now(UTC)
    response = monitor.post(
        "/models/adult-hours/predict",
        json=rows[features].to_dict(orient="records"),
        headers={"X-Request-ID": "mon-hours"},
    )
    assert response.status_code == 200, response.get_json()
    predicted = response.get_json()["predictions"]
    monitor_app.extensions["skserve"].prediction_log.drain()
    window = {
        "since": since.isoformat(),
        "until": (datetime.now(UTC) + timedelta(seconds=1)).isoformat(),
    }

    drift = monitor.get("/models/adult-hours/drift", query_string=window).get_json()
    assert drift["rows"] == 400 and drift["outputs"]["prediction"]["kind"] == "numeric"
    assert drift["outputs"]["prediction"]["verdict"] == "stable"

    truth = rows["hours_per_week"].astype(float).tolist()
    items = [{"request_id": "mon-hours", "row": i, "value": v} for i, v in enumerate(truth)]
    items.append({"request_id": "mon-hours", "row": 0, "label": "40"})  # a label, not a value
    body = monitor.post("/models/adult-hours/feedback", json=items, headers=AUTH).get_json()
    assert body["accepted"] == 400 and [r["index"] for r in body["rejected"]] == [400]
    live = monitor.get("/models/adult-hours/performance", query_string=window).get_json()["live"]
    assert live["rows"] == 400
    assert live["rmse"] == pytest.approx(mean_squared_error(truth, predicted) ** 0.5, rel=1e-12)
    assert live["r2"] == pytest.approx(r2_score(truth, predicted), rel=1e-12)
