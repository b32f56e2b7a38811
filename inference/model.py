"""A model version ready to serve (LoadedModel), built from stored artifact bytes and metadata."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pandas as pd

from inference.artifact import ArtifactMetadata, ModelArtifact, load_artifact
from inference.validation import ValidatedInput, validate_columns

log = logging.getLogger(__name__)


@dataclass
class LoadedModel:
    """A registered model version ready to serve, with its compiled fast path if any."""

    name: str
    version: int
    artifact: ModelArtifact
    fast: Any = None  # inference.fastpath.CompiledPipeline when parity held
    fast_path_reason: str = "not compiled"

    @property
    def schema(self):  # noqa: ANN201 - FeatureSchema, kept short for callers
        """The model's feature schema."""
        return self.artifact.metadata.schema

    @property
    def classes(self) -> list[Any] | None:
        """Class labels for classifiers, None for regressors."""
        return self.artifact.metadata.classes

    def validate(self, columns: dict[str, Any], n_rows: int) -> ValidatedInput:
        """Validate columnar input against this model's schema."""
        return validate_columns(self.schema, columns, n_rows)


def load_model(
    name: str,
    version: int,
    data: bytes,
    metadata: ArtifactMetadata,
    *,
    sha256: str | None = None,
    fast_path: bool = True,
) -> LoadedModel:
    """Unpickle and check an artifact, then (unless told not to) compile its fast path."""
    model = LoadedModel(name, version, load_artifact(data, metadata, sha256))
    if fast_path:
        enable_fast_path(model)
    else:
        model.fast_path_reason = "disabled by configuration (FAST_PATH=false)"
    return model


def enable_fast_path(model: LoadedModel) -> None:
    """Compile the fast path and switch the model to it when parity holds.

    Safe while the model serves requests: until the one assignment below it answers on the
    scikit-learn path, which gives the same results, only slower.
    """
    model.fast, model.fast_path_reason = compile_fast_path(model)


def compile_fast_path(model: LoadedModel) -> tuple[object | None, str]:
    """Compile the model's preprocessing and check it against scikit-learn on its sample."""
    from inference.fastpath import try_compile

    schema = model.schema
    numeric = [f.name for f in schema.features if f.kind == "numeric"]
    categorical = [f.name for f in schema.features if f.kind == "categorical"]
    sample = pd.DataFrame(model.artifact.metadata.sample, columns=schema.names)
    if sample.empty:
        return None, "no sample rows stored with the model to check parity on"
    compiled, reason = try_compile(model.artifact.pipeline, sample, categorical, numeric)
    log.info("model %s v%s fast path: %s", model.name, model.version, reason)
    return compiled, reason
