"""Register pipelines made elsewhere (upload, `skserve models register`, MODEL_PATH)."""

from __future__ import annotations

from typing import Any

from sklearn.base import is_classifier
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted
from sqlalchemy.orm import Session

from db import registry
from inference.artifact import (
    ArtifactMetadata,
    CorruptArtifact,
    library_versions,
    sha256_of,
    unpickle_pipeline,
)
from inference.introspect import final_estimator, input_features
from inference.json_values import json_safe
from inference.schema import Feature, FeatureSchema


class RegistrationError(ValueError):
    """The file cannot be registered as a model; the message says why."""


def inspect_pipeline(data: bytes, schema: dict[str, Any] | None = None) -> ArtifactMetadata:
    """Unpickle and check a pipeline file, returning the metadata to register it with."""
    try:
        pipeline = unpickle_pipeline(data)
    except CorruptArtifact as exc:
        raise RegistrationError(f"{exc}; upload a cloudpickle file of a fitted pipeline") from None
    if not hasattr(pipeline, "predict") or not hasattr(pipeline, "fit"):
        raise RegistrationError(
            f"the file holds a {type(pipeline).__name__}, not a scikit-learn Pipeline or "
            "estimator with predict()"
        )
    try:
        check_is_fitted(final_estimator(pipeline))
    except NotFittedError:
        raise RegistrationError("the pipeline is not fitted; fit it before registering") from None
    except TypeError as exc:
        raise RegistrationError(f"not a scikit-learn estimator: {exc}") from None
    feature_schema = FeatureSchema.from_dict(schema) if schema else _schema_of(pipeline)
    classifier = is_classifier(pipeline)
    classes = (
        json_safe(list(pipeline.classes_)) if classifier and hasattr(pipeline, "classes_") else None
    )
    return ArtifactMetadata(
        schema=feature_schema,
        task="classification" if classifier else "regression",
        classes=classes,
        library_versions=library_versions(),
    )


def _schema_of(pipeline: Any) -> FeatureSchema:
    described = input_features(pipeline)
    if not described:
        raise RegistrationError(
            "cannot tell which input features the pipeline reads (no DataFrameMapper, "
            "ColumnTransformer or feature_names_in_); register it with a schema"
        )
    return FeatureSchema(
        tuple(
            Feature(
                f.name,
                f.kind,
                "float" if f.kind == "numeric" else "string",
                nullable=False,
                categories=f.categories,
                unknown=f.unknown,
            )  # type: ignore[arg-type]
            for f in described
        )
    )


def register_pipeline(
    session: Session,
    *,
    name: str,
    data: bytes,
    schema: dict[str, Any] | None = None,
    source: str = "upload",
) -> registry.VersionRecord:
    """Validate pipeline bytes and store them as the next version of `name`."""
    try:
        registry.check_model_name(name)
    except registry.InvalidModelName as exc:
        raise RegistrationError(str(exc)) from None
    metadata = inspect_pipeline(data, schema)
    return registry.register_version(
        session,
        name=name,
        artifact=data,
        sha256=sha256_of(data),
        metadata=metadata,
        details={"registered_from": source},
    )
