"""Check a pipeline made elsewhere (upload, `models register`, MODEL_PATH) and describe it."""

from __future__ import annotations

from typing import Any

from sklearn.base import is_classifier
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from inference.artifact import (
    ArtifactMetadata,
    CorruptArtifact,
    library_versions,
    unpickle_pipeline,
)
from inference.introspect import final_estimator, input_features
from inference.json_values import json_safe
from inference.schema import Feature, FeatureSchema, UnknownPolicy


class InvalidPipelineError(ValueError):
    """The bytes are not a fitted scikit-learn pipeline that can be served; the message says why."""


def inspect_pipeline(data: bytes, schema: dict[str, Any] | None = None) -> ArtifactMetadata:
    """Unpickle and check a pipeline file, returning the metadata to register it with."""
    try:
        pipeline = unpickle_pipeline(data)
    except CorruptArtifact as exc:
        raise InvalidPipelineError(
            f"{exc}; upload a cloudpickle file of a fitted pipeline"
        ) from None
    if not hasattr(pipeline, "predict") or not hasattr(pipeline, "fit"):
        raise InvalidPipelineError(
            f"the file holds a {type(pipeline).__name__}, not a scikit-learn Pipeline or "
            "estimator with predict()"
        )
    try:
        check_is_fitted(final_estimator(pipeline))
    except NotFittedError:
        raise InvalidPipelineError(
            "the pipeline is not fitted; fit it before registering"
        ) from None
    except TypeError as exc:
        raise InvalidPipelineError(f"not a scikit-learn estimator: {exc}") from None
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
        raise InvalidPipelineError(
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


def unknown_policies(pipeline: Any, schema: FeatureSchema) -> dict[str, UnknownPolicy]:
    """Per categorical feature: does the fitted encoder ignore unknown categories?"""
    described = {f.name: f for f in input_features(pipeline) or []}
    return {
        f.name: described[f.name].unknown if f.name in described else "error"  # type: ignore[misc]
        for f in schema.features
        if f.kind == "categorical"
    }
