"""Training against real PostgreSQL: metrics, versions, promotion, spec errors."""

import json
import os
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from sqlalchemy.orm import Session

from db import registry
from db.copy_io import read_frame
from inference.artifact import ArtifactMetadata, ModelArtifact, save_artifact
from inference.schema import infer_schema
from tests.factories import small_adult_spec
from trainer.pipeline import build_pipeline
from trainer.spec import SpecError, make_estimator
from trainer.train import Promotion, train_model


def _versions(engine, name):
    with Session(engine) as session:
        return [(r.version, r.is_production) for r in registry.list_versions(session, name=name)]


def test_adult_model_meets_the_metric_targets(adult_model, demo_tables):
    assert (adult_model.name, adult_model.version, adult_model.promoted) == ("adult", 1, True)
    assert adult_model.metrics["accuracy"] >= 0.85
    assert adult_model.metrics["roc_auc"] >= 0.90
    with Session(demo_tables) as session:
        record = registry.get_version(session, name="adult")
    assert record.version == 1
    assert record.data_fingerprint["rows"] == 32_561
    assert len(record.data_fingerprint["sha256"]) == 64
    assert len(record.schema["features"]) == 14
    assert record.library_versions["scikit-learn"]
    assert record.details["classes"] == ["<=50K", ">50K"]
    workclass = next(f for f in record.schema["features"] if f["name"] == "workclass")
    assert workclass["kind"] == "categorical" and workclass["nullable"]
    assert workclass["unknown"] == "ignore"


def test_training_again_adds_a_version_and_promote_if_better_compares(demo_tables, adult_spec):
    name = "adult_versions"
    first = train_model(
        demo_tables,
        small_adult_spec(adult_spec, name, 30, max_fnlwgt=120_000),
        promotion=Promotion.ALWAYS,
    )
    second = train_model(
        demo_tables,
        small_adult_spec(adult_spec, name, 1, max_fnlwgt=120_000),
        promotion=Promotion.IF_BETTER,
    )
    third = train_model(
        demo_tables,
        small_adult_spec(adult_spec, name, 60, max_fnlwgt=120_000),
        promotion=Promotion.IF_BETTER,
    )

    assert (first.version, second.version, third.version) == (1, 2, 3)
    assert second.metrics["roc_auc"] < first.metrics["roc_auc"] < third.metrics["roc_auc"]
    assert not second.promoted and "does not beat" in second.reason
    assert third.promoted
    assert _versions(demo_tables, name) == [(1, False), (2, False), (3, True)]


def test_registered_artifact_predicts_the_same_in_a_fresh_process(demo_tables, adult_spec, pg_url):
    spec = small_adult_spec(adult_spec, "adult_fresh", 5, max_fnlwgt=120_000)
    with demo_tables.connect() as conn:
        frame = read_frame(conn, spec.table, spec.source_columns, where=list(spec.filters))
    holdout = frame.sample(300, random_state=0)
    pipeline = build_pipeline(spec, make_estimator(spec)).fit(
        frame[spec.features], frame[spec.target]
    )
    metadata = ArtifactMetadata(
        schema=infer_schema(frame, spec.features),
        task="classification",
        classes=list(pipeline.classes_),
    )
    data, sha = save_artifact(ModelArtifact(pipeline, metadata))
    with Session(demo_tables) as session, session.begin():
        registry.register_version(
            session, name=spec.name, artifact=data, sha256=sha, metadata=metadata
        )
    holdout[spec.features].to_json(
        path := os.path.join(os.environ.get("TMPDIR", "/tmp"), "skserve_holdout.json"),
        orient="split",
    )
    script = (
        "import json, sys, pandas as pd\n"
        "from sqlalchemy.orm import Session\n"
        "from db import registry\nfrom db.engine import make_engine\n"
        "from inference.artifact import load_artifact\n"
        "engine = make_engine(sys.argv[1])\n"
        "with Session(engine) as s:\n"
        "    r = registry.get_version(s, name='adult_fresh', version=1)\n"
        "    a = load_artifact(registry.get_artifact(s, name='adult_fresh', version=1),"
        " r.metadata(), r.sha256)\n"
        "rows = pd.read_json(sys.argv[2], orient='split')\n"
        "print(json.dumps({'p': a.pipeline.predict(rows).tolist(),"
        " 'q': a.pipeline.predict_proba(rows).tolist()}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, pg_url, path], capture_output=True, text=True, check=True
    )
    fresh = json.loads(out.stdout)
    rows = pd.read_json(path, orient="split")
    assert fresh["p"] == pipeline.predict(rows).tolist()
    assert np.array_equal(np.array(fresh["q"]), pipeline.predict_proba(rows))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"numeric": ("age", "no_such_column")}, "no_such_column"),
        ({"table": "no_such_table"}, "no_such_table"),
        ({"estimator": "sklearn.ensemble.NoSuchForest"}, "unknown estimator"),
        ({"estimator": "os.system"}, "must be a scikit-learn class path"),
        ({"params": {"n_estimators": 5, "bogus": 1}}, "bad parameters"),
        ({"filters": (("nope", "=", 1),)}, "nope"),
        ({"table": "adult_training; DROP TABLE adult_training"}, "adult_training; DROP"),
    ],
)
def test_bad_specs_fail_before_fitting_and_register_nothing(
    demo_tables, adult_spec, change, message
):
    spec = replace(adult_spec, name="adult_bad", **change)
    with pytest.raises(SpecError, match=message):
        train_model(demo_tables, spec)
    assert _versions(demo_tables, "adult_bad") == []
