"""Turn stored artifact bytes and metadata into a LoadedModel ready to serve."""

from __future__ import annotations

import logging

import pandas as pd

from inference.artifact import ArtifactMetadata, load_artifact
from inference.predict import LoadedModel

log = logging.getLogger(__name__)


def load_model(
    name: str,
    version: int,
    data: bytes,
    metadata: ArtifactMetadata,
    *,
    sha256: str | None = None,
    fast_path: bool = True,
) -> LoadedModel:
    """Unpickle and check an artifact, then compile its fast path when parity holds."""
    artifact = load_artifact(data, metadata, sha256)
    model = LoadedModel(name, version, artifact)
    if fast_path:
        model.fast, model.fast_path_reason = compile_fast_path(model)
    else:
        model.fast_path_reason = "disabled by configuration"
    return model


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
