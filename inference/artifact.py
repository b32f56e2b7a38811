"""The artifact contract: a pickled pipeline plus the metadata needed to trust it."""

from __future__ import annotations

import hashlib
import platform
from dataclasses import dataclass, field
from importlib.metadata import version
from typing import Any, Literal

from inference import compat
from inference.schema import FeatureSchema

Task = Literal["classification", "regression"]
TRACKED_LIBRARIES = ("scikit-learn", "sklearn-pandas", "pandas", "numpy", "cloudpickle")


class IncompatibleArtifactError(RuntimeError):
    """The artifact was made with a Python or scikit-learn this process cannot load safely."""


class CorruptArtifactError(ValueError):
    """The artifact bytes do not unpickle or do not match their recorded sha256."""


def library_versions() -> dict[str, str]:
    """Versions of Python and the libraries a pickled pipeline depends on."""
    versions = {"python": platform.python_version()}
    versions.update({name: version(name) for name in TRACKED_LIBRARIES})
    return versions


@dataclass(frozen=True)
class ArtifactMetadata:
    """Everything stored beside the pickled pipeline."""

    schema: FeatureSchema
    task: Task
    target: str | None = None
    classes: list[Any] | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    data_fingerprint: dict[str, Any] | None = None
    library_versions: dict[str, str] = field(default_factory=library_versions)
    # Rows kept with the model (its holdout sample) to check the fast path against.
    sample: list[dict[str, Any]] = field(default_factory=list)
    spec: dict[str, Any] | None = None

    def details(self) -> dict[str, Any]:
        """The fields stored in `model_versions.details`."""
        return {
            "task": self.task,
            "target": self.target,
            "classes": self.classes,
            "sample": self.sample,
            "spec": self.spec,
        }

    @classmethod
    def from_record(
        cls,
        *,
        schema: dict[str, Any],
        details: dict[str, Any],
        metrics: dict[str, Any] | None,
        data_fingerprint: dict[str, Any] | None,
        library_versions: dict[str, str],
    ) -> ArtifactMetadata:
        """Rebuild metadata from the JSON columns of a `model_versions` row."""
        return cls(
            schema=FeatureSchema.from_dict(schema),
            task=details.get("task", "classification"),
            target=details.get("target"),
            classes=details.get("classes"),
            metrics=metrics or {},
            data_fingerprint=data_fingerprint,
            library_versions=library_versions,
            sample=details.get("sample") or [],
            spec=details.get("spec"),
        )


@dataclass(frozen=True)
class ModelArtifact:
    """A loaded pipeline with its metadata."""

    pipeline: Any
    metadata: ArtifactMetadata


def sha256_of(data: bytes) -> str:
    """Hex sha256 of artifact bytes."""
    return hashlib.sha256(data).hexdigest()


def save_artifact(artifact: ModelArtifact) -> tuple[bytes, str]:
    """Pickle the pipeline; return its bytes and their sha256."""
    data = compat.dumps(artifact.pipeline)
    return data, sha256_of(data)


def check_compatible(recorded: dict[str, str]) -> None:
    """Refuse an artifact made with another scikit-learn or another Python minor version."""
    here = library_versions()
    problems = []
    if recorded.get("scikit-learn") and recorded["scikit-learn"] != here["scikit-learn"]:
        problems.append(
            f"scikit-learn {recorded['scikit-learn']} (this process has {here['scikit-learn']})"
        )
    made_py = ".".join(recorded.get("python", "").split(".")[:2])
    this_py = ".".join(here["python"].split(".")[:2])
    if made_py and made_py != this_py:
        problems.append(f"Python {recorded['python']} (this process has {here['python']})")
    if problems:
        raise IncompatibleArtifactError(
            "artifact was made with "
            + " and ".join(problems)
            + "; retrain it here or serve it from an image with the same versions"
        )


def load_artifact(
    data: bytes, metadata: ArtifactMetadata, sha256: str | None = None
) -> ModelArtifact:
    """Check versions and checksum, then unpickle (through the compatibility module)."""
    check_compatible(metadata.library_versions)
    if sha256 is not None and sha256_of(data) != sha256:
        raise CorruptArtifactError("artifact bytes do not match their recorded sha256")
    return ModelArtifact(unpickle_pipeline(data), metadata)


def unpickle_pipeline(data: bytes) -> Any:
    """Unpickle pipeline bytes, turning every failure into CorruptArtifactError."""
    try:
        return compat.loads(data)
    except MemoryError:  # not a property of the file alone: let the caller name the limit
        raise
    except Exception as exc:  # a pickle can fail with any exception type
        raise CorruptArtifactError(f"file does not unpickle: {type(exc).__name__}: {exc}") from None
