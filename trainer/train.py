"""Train a spec end to end: check, read, fit, evaluate, register, maybe promote."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import pandas as pd
from sklearn.base import is_classifier
from sklearn.model_selection import train_test_split
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from db import registry
from db.copy_io import read_frame
from db.identifiers import check_columns, check_identifier
from inference.artifact import ArtifactMetadata, ModelArtifact, library_versions, save_artifact
from inference.inspection import unknown_policies
from inference.json_values import json_records, json_safe
from inference.profiles import PROFILE_KEY, profile_pipeline
from inference.schema import infer_schema
from trainer.evaluate import LOWER_IS_BETTER, evaluate, primary_metric
from trainer.pipeline import build_pipeline
from trainer.spec import SpecError, TrainingSpec, make_estimator

Progress = Callable[[str], None]
SAMPLE_ROWS = 200


class Promotion(StrEnum):
    """What to do with the new version once it is registered."""

    NO = "no"
    ALWAYS = "always"
    IF_BETTER = "if_better"


@dataclass(frozen=True)
class TrainingReport:
    """What a training run produced."""

    name: str
    version: int
    metrics: dict[str, Any]
    promoted: bool
    reason: str
    rows: int
    seconds: float


def check_spec(connection: Any, spec: TrainingSpec) -> None:
    """Fail before any fitting when the spec does not fit the database."""
    try:
        registry.check_model_name(spec.name)
        check_identifier(spec.table)
        check_columns(connection, spec.table, spec.source_columns)
        filter_columns = [column for column, _, _ in spec.filters]
        check_columns(connection, spec.table, filter_columns)
        if spec.feature_table:
            check_columns(connection, spec.feature_table, [spec.id_column, *spec.features])
    except (LookupError, ValueError) as exc:  # unknown table or column, invalid name
        raise SpecError(str(exc)) from None
    make_estimator(spec)


def fingerprint(spec: TrainingSpec, frame: pd.DataFrame) -> dict[str, Any]:
    """Which data trained the model: table, filters, rows and a content hash."""
    digest = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return {
        "table": spec.table,
        "filters": [list(f) for f in spec.filters],
        "rows": len(frame),
        "sha256": hashlib.sha256(digest.tobytes()).hexdigest(),
    }


def train_model(
    engine: Engine,
    spec: TrainingSpec,
    *,
    promotion: Promotion = Promotion.NO,
    progress: Progress = lambda message: None,
) -> TrainingReport:
    """Train `spec` on the rows in the database and register the result as a new version."""
    started = time.perf_counter()
    with engine.connect() as connection:
        check_spec(connection, spec)
        progress(f"reading {spec.table}")
        frame = read_frame(connection, spec.table, spec.source_columns, where=list(spec.filters))
    frame = frame[frame[spec.target].notna()]
    if len(frame) < 10:
        raise SpecError(f"only {len(frame)} labelled rows in {spec.table}; need at least 10")
    progress(f"read {len(frame):,} rows in {time.perf_counter() - started:.1f} s")

    estimator = make_estimator(spec)
    features, target = frame[spec.features], frame[spec.target]
    stratify = target if is_classifier(estimator) and target.nunique() < len(target) // 10 else None
    x_train, x_test, y_train, y_test = train_test_split(
        features, target, test_size=spec.holdout, random_state=spec.seed, stratify=stratify
    )
    pipeline = build_pipeline(spec, estimator)
    progress(f"fitting {type(estimator).__name__} on {len(x_train):,} rows")
    fit_started = time.perf_counter()
    pipeline.fit(x_train, y_train)
    progress(f"fitted in {time.perf_counter() - fit_started:.1f} s; evaluating on holdout")

    metrics = evaluate(pipeline, x_test, y_test, spec.positive_label)
    metadata = build_metadata(pipeline, spec, frame, x_test, metrics)
    profile = profile_pipeline(pipeline, x_test, metadata.schema, metadata.task, metadata.classes)
    artifact, sha256 = save_artifact(ModelArtifact(pipeline, metadata))
    with Session(engine) as session, session.begin():
        record = registry.register_version(
            session,
            name=spec.name,
            artifact=artifact,
            sha256=sha256,
            metadata=metadata,
            details={PROFILE_KEY: profile},
        )
        promoted, reason = decide_promotion(session, spec, record, promotion)
    return TrainingReport(
        spec.name,
        record.version,
        metrics,
        promoted,
        reason,
        len(frame),
        time.perf_counter() - started,
    )


def build_metadata(
    pipeline: Any,
    spec: TrainingSpec,
    frame: pd.DataFrame,
    holdout: pd.DataFrame,
    metrics: dict[str, Any],
) -> ArtifactMetadata:
    """Schema, classes, sample rows and provenance of a freshly fitted pipeline."""
    schema = infer_schema(frame, spec.features)
    sample = holdout.head(SAMPLE_ROWS)
    schema = schema.with_unknown_policy(unknown_policies(pipeline, schema))
    task = "classification" if is_classifier(pipeline) else "regression"
    classes = json_safe(list(pipeline.classes_)) if task == "classification" else None
    return ArtifactMetadata(
        schema=schema,
        task=task,
        target=spec.target,
        classes=classes,
        metrics={**metrics, "primary_metric": primary_metric(task, classes, spec.primary_metric)},
        data_fingerprint=fingerprint(spec, frame),
        library_versions=library_versions(),
        sample=json_records(sample),
        spec=spec.to_dict(),
    )


def decide_promotion(
    session: Session, spec: TrainingSpec, record: registry.VersionRecord, promotion: Promotion
) -> tuple[bool, str]:
    """Promote the new version when asked to (or when it beats production)."""
    if promotion is Promotion.NO:
        return False, "not promoted (use --promote or --promote-if-better)"
    if promotion is Promotion.IF_BETTER:
        try:
            current = registry.get_version(session, name=spec.name)
        except registry.NoProductionVersionError:
            current = None
        if current is not None:
            metric = record.metrics["primary_metric"]
            new, old = record.metrics.get(metric), current.metrics.get(metric)
            better = old is None or (new < old if metric in LOWER_IS_BETTER else new > old)
            if not better:
                return False, (
                    f"not promoted: {metric} {new:.4f} does not beat "
                    f"production v{current.version} ({old:.4f})"
                )
    registry.promote(session, name=spec.name, version=record.version)
    return True, "promoted to production"
