"""The artifact contract: round trips exactly, refuses mismatched versions."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from inference.artifact import (
    ArtifactMetadata,
    CorruptArtifactError,
    IncompatibleArtifactError,
    ModelArtifact,
    load_artifact,
    save_artifact,
)
from inference.compat import DataFrameMapper
from inference.schema import infer_schema


@pytest.fixture(scope="module")
def artifact() -> tuple[ModelArtifact, pd.DataFrame]:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"x": rng.normal(size=300), "c": rng.choice(["a", "b", "c"], 300)})
    target = (frame["x"] + (frame["c"] == "a")) > 0.5
    mapper = DataFrameMapper([(["x"], StandardScaler()), (["c"], OneHotEncoder())])
    pipeline = Pipeline([("m", mapper), ("gb", GradientBoostingClassifier(n_estimators=10))])
    pipeline.fit(frame, target)
    metadata = ArtifactMetadata(
        schema=infer_schema(frame), task="classification", classes=[False, True]
    )
    return ModelArtifact(pipeline, metadata), frame


def test_round_trip_gives_identical_predictions(artifact):
    original, frame = artifact
    data, sha256 = save_artifact(original)
    loaded = load_artifact(data, original.metadata, sha256)
    assert np.array_equal(
        loaded.pipeline.predict_proba(frame), original.pipeline.predict_proba(frame)
    )


@pytest.mark.parametrize(
    ("recorded", "message"),
    [
        ({"scikit-learn": "1.5.2"}, "artifact was made with scikit-learn 1.5.2"),
        ({"python": "3.9.18"}, "artifact was made with Python 3.9.18"),
    ],
)
def test_refuses_artifact_from_other_versions(artifact, recorded, message):
    original, _ = artifact
    data, _ = save_artifact(original)
    metadata = replace(
        original.metadata, library_versions={**original.metadata.library_versions, **recorded}
    )
    with pytest.raises(IncompatibleArtifactError, match=message):
        load_artifact(data, metadata)


def test_refuses_bytes_that_do_not_match_their_checksum(artifact):
    original, _ = artifact
    data, sha256 = save_artifact(original)
    with pytest.raises(CorruptArtifactError, match="sha256"):
        load_artifact(data[:-1] + b"x", original.metadata, sha256)


def test_refuses_bytes_that_do_not_unpickle(artifact):
    original, _ = artifact
    with pytest.raises(CorruptArtifactError, match="does not unpickle"):
        load_artifact(b"not a pickle", original.metadata)
