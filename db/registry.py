"""The model registry: versions, their artifacts and metadata, and which one is in production.

Query functions take the session first and keyword-only arguments; they never commit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from db.engine import is_postgres
from db.tables import model_traffic, model_versions
from inference.artifact import ArtifactMetadata, sha256_of, unpickle_pipeline
from inference.inspection import InvalidPipelineError
from inference.isolated_inspection import InspectionLimits, inspect_isolated
from inference.profiles import PROFILE_KEY, profile_pipeline
from settings import Settings

# Model names appear in URLs, logs and metrics labels: plain, and as long as the column.
MODEL_NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"
MODEL_NAME_RULE = "1-128 letters, digits, '.', '_' or '-', starting with a letter or digit"
_MODEL_NAME = re.compile(MODEL_NAME_PATTERN)


class InvalidModelName(ValueError):
    """A name a model cannot be registered under."""


def check_model_name(name: str) -> str:
    """Return `name` if a model may be registered under it, else raise InvalidModelName."""
    if not isinstance(name, str) or not _MODEL_NAME.fullmatch(name):
        shown = repr(name)[:80]
        raise InvalidModelName(f"invalid model name {shown}: use {MODEL_NAME_RULE}")
    return name


class ModelNotFoundError(LookupError):
    """No version of this model name is registered."""

    def __init__(self, name: str) -> None:
        super().__init__(f"model '{name}' is not registered")
        self.name = name


class VersionNotFoundError(LookupError):
    """The model exists but not this version."""

    def __init__(self, name: str, version: int) -> None:
        super().__init__(f"model '{name}' has no version {version}")
        self.name, self.version = name, version


class NoProductionVersionError(LookupError):
    """The model has versions but none is promoted to production."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"model '{name}' has no production version; promote one with "
            f"`skserve models promote {name} VERSION`"
        )
        self.name = name


class VersionInProductionError(ValueError):
    """A production version cannot be deleted."""

    def __init__(self, name: str, version: int) -> None:
        super().__init__(
            f"model '{name}' version {version} is in production; promote another version first"
        )
        self.name, self.version = name, version


class VersionInTrafficError(ValueError):
    """A canary or shadow version cannot be deleted."""

    def __init__(self, name: str, version: int) -> None:
        super().__init__(
            f"model '{name}' version {version} is a canary or shadow version; take it out "
            f"with PUT /models/{name}/traffic first"
        )
        self.name, self.version = name, version


@dataclass(frozen=True)
class VersionRecord:
    """One row of `model_versions` without the artifact bytes."""

    name: str
    version: int
    sha256: str
    schema: dict[str, Any]
    metrics: dict[str, Any]
    details: dict[str, Any]
    data_fingerprint: dict[str, Any] | None
    library_versions: dict[str, str]
    is_production: bool
    created_at: datetime | None
    promoted_at: datetime | None

    def metadata(self) -> ArtifactMetadata:
        """The artifact metadata stored in this row."""
        return ArtifactMetadata.from_record(
            schema=self.schema,
            details=self.details,
            metrics=self.metrics,
            data_fingerprint=self.data_fingerprint,
            library_versions=self.library_versions,
        )


_RECORD_COLUMNS = [model_versions.c[name] for name in VersionRecord.__dataclass_fields__]


def _record(row: sa.Row) -> VersionRecord:
    return VersionRecord(**row._mapping)


def lock_model(session: Session, *, name: str) -> None:
    """Serialise changes to one model's versions until the transaction ends.

    Registrations and promotions take it first, so two processes cannot both decide that a
    file is not registered yet, nor pick the same version number.
    """
    if is_postgres(session):
        session.execute(
            sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))"), {"name": name}
        )
    else:  # SQLite: any write takes the database's single write lock until commit
        session.execute(
            model_versions.update().where(sa.false()).values(name=model_versions.c.name)
        )


def register_version(
    session: Session,
    *,
    name: str,
    artifact: bytes,
    sha256: str,
    metadata: ArtifactMetadata,
    details: dict[str, Any] | None = None,
) -> VersionRecord:
    """Store a new version (the next number for `name`); it is not promoted."""
    check_model_name(name)
    lock_model(session, name=name)
    existing = session.scalars(
        sa.select(model_versions.c.version).where(model_versions.c.name == name)
    ).all()
    version = max(existing, default=0) + 1
    session.execute(
        model_versions.insert().values(
            name=name,
            version=version,
            artifact=artifact,
            sha256=sha256,
            schema=metadata.schema.to_dict(),
            metrics=metadata.metrics,
            details={**metadata.details(), **(details or {})},
            data_fingerprint=metadata.data_fingerprint,
            library_versions=metadata.library_versions,
            is_production=False,
            created_at=datetime.now(UTC),
        )
    )
    return get_version(session, name=name, version=version)


def get_version(session: Session, *, name: str, version: int | None = None) -> VersionRecord:
    """Metadata of one version, or of the production version when `version` is None."""
    query = sa.select(*_RECORD_COLUMNS).where(model_versions.c.name == name)
    if version is None:
        row = session.execute(query.where(model_versions.c.is_production)).first()
    else:
        row = session.execute(query.where(model_versions.c.version == version)).first()
    if row is not None:
        return _record(row)
    if not model_exists(session, name=name):
        raise ModelNotFoundError(name)
    if version is None:
        raise NoProductionVersionError(name)
    raise VersionNotFoundError(name, version)


def get_artifact(session: Session, *, name: str, version: int) -> bytes:
    """The pickled pipeline bytes of one version."""
    data = session.scalar(
        sa.select(model_versions.c.artifact).where(
            model_versions.c.name == name, model_versions.c.version == version
        )
    )
    if data is None:
        get_version(session, name=name, version=version)  # raises the precise error
    return bytes(data)


def model_exists(session: Session, *, name: str) -> bool:
    """True when at least one version of `name` is registered."""
    query = sa.select(sa.literal(1)).where(model_versions.c.name == name).limit(1)
    return session.scalar(query) is not None


def list_versions(session: Session, *, name: str | None = None) -> list[VersionRecord]:
    """Every version (of one model, or of all), by name then version."""
    query = sa.select(*_RECORD_COLUMNS).order_by(model_versions.c.name, model_versions.c.version)
    if name is not None:
        query = query.where(model_versions.c.name == name)
    return [_record(row) for row in session.execute(query)]


def production_versions(session: Session) -> dict[str, int]:
    """{model name: production version} — the cheap query hot promotion polls."""
    query = sa.select(model_versions.c.name, model_versions.c.version).where(
        model_versions.c.is_production
    )
    return {name: version for name, version in session.execute(query)}


def find_by_sha256(session: Session, *, name: str, sha256: str) -> VersionRecord | None:
    """The version of `name` whose artifact has this sha256, if any."""
    row = session.execute(
        sa.select(*_RECORD_COLUMNS).where(
            model_versions.c.name == name, model_versions.c.sha256 == sha256
        )
    ).first()
    return _record(row) if row is not None else None


def promote(session: Session, *, name: str, version: int) -> VersionRecord:
    """Make `version` the production version of `name`, demoting the previous one."""
    lock_model(session, name=name)
    get_version(session, name=name, version=version)
    session.execute(
        model_versions.update()
        .where(model_versions.c.name == name, model_versions.c.is_production)
        .values(is_production=False)
    )
    session.execute(
        model_versions.update()
        .where(model_versions.c.name == name, model_versions.c.version == version)
        .values(is_production=True, promoted_at=datetime.now(UTC))
    )
    _leave_traffic_roles(session, name=name, version=version)
    return get_version(session, name=name, version=version)


def _leave_traffic_roles(session: Session, *, name: str, version: int) -> None:
    """A promoted canary or shadow version stops being one (a version has one role)."""
    row = _traffic_row(session, name)
    if row is None:
        return
    canary = None if row.canary_version == version else row.canary_version
    shadow = [v for v in row.shadow_versions or [] if v != version]
    where = model_traffic.c.model_name == name
    if canary is None and not shadow:
        session.execute(model_traffic.delete().where(where))
        return
    values: dict[str, Any] = {"canary_version": canary, "shadow_versions": shadow}
    if canary is None:
        values["canary_percent"] = None
    session.execute(model_traffic.update().where(where).values(**values))


def _traffic_row(session: Session, name: str) -> sa.Row | None:
    query = sa.select(model_traffic.c.canary_version, model_traffic.c.shadow_versions)
    return session.execute(query.where(model_traffic.c.model_name == name)).first()


def traffic_versions(session: Session, *, name: str) -> set[int]:
    """The canary and shadow versions of `name` (they cannot be deleted)."""
    row = _traffic_row(session, name)
    if row is None:
        return set()
    return {v for v in [row.canary_version, *(row.shadow_versions or [])] if v is not None}


def delete_version(session: Session, *, name: str, version: int) -> None:
    """Remove a version that is not in production."""
    record = get_version(session, name=name, version=version)
    if record.is_production:
        raise VersionInProductionError(name, version)
    if version in traffic_versions(session, name=name):
        raise VersionInTrafficError(name, version)
    session.execute(
        model_versions.delete().where(
            model_versions.c.name == name, model_versions.c.version == version
        )
    )


def inspection_limits(settings: Settings) -> InspectionLimits:
    """The UPLOAD_INSPECT_* limits of checking a pipeline file made elsewhere."""
    return InspectionLimits(settings.upload_inspect_seconds, settings.upload_inspect_memory_mib)


def register_pipeline(
    session: Session,
    *,
    name: str,
    data: bytes,
    schema: dict[str, Any] | None = None,
    source: str = "upload",
    sample: pd.DataFrame | None = None,
    limits: InspectionLimits | None = None,
) -> VersionRecord:
    """Inspect pipeline bytes made elsewhere (in a child process within `limits`) and store
    them as the next version of `name`.

    With `sample` (rows like those it will serve, e.g. a holdout) the version gets a reference
    profile for drift. Raises inference.inspection.InvalidPipelineError, storing nothing, when
    they cannot serve (or the name cannot be registered, or the sample does not predict).
    """
    try:
        check_model_name(name)  # before unpickling anything
    except InvalidModelName as exc:
        raise InvalidPipelineError(str(exc)) from None
    metadata = inspect_isolated(data, schema, limits)
    details: dict[str, Any] = {"registered_from": source}
    if sample is not None:
        # Profiling unpickles here, but only a file the child process has already loaded and
        # checked within the limits; serving it will load it in this process anyway.
        details[PROFILE_KEY] = sample_profile(data, metadata, sample)
    return register_version(
        session,
        name=name,
        artifact=data,
        sha256=sha256_of(data),
        metadata=metadata,
        details=details,
    )


def sample_profile(data: bytes, metadata: ArtifactMetadata, sample: pd.DataFrame) -> dict[str, Any]:
    """The reference profile of a registration sample; InvalidPipelineError if it cannot be."""
    missing = [column for column in metadata.schema.names if column not in sample.columns]
    if missing:
        raise InvalidPipelineError(f"the sample lacks the feature column(s) {', '.join(missing)}")
    if len(sample) < 10:
        raise InvalidPipelineError(f"the sample has {len(sample)} rows; give at least 10")
    pipeline = unpickle_pipeline(data)
    try:
        return profile_pipeline(pipeline, sample, metadata.schema, metadata.task, metadata.classes)
    except Exception as exc:  # the pipeline's own error on these rows, whatever its type
        raise InvalidPipelineError(
            f"the pipeline cannot predict the sample: {type(exc).__name__}: {exc}"
        ) from None
