"""SQLAlchemy tables owned by skserve (user training and feature tables are not declared here)."""

from __future__ import annotations

import enum
import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class JobStatus(enum.StrEnum):
    """Life cycle of a batch job; `batch_jobs.status` is the source of truth."""

    QUEUED = "queued"
    STARTED = "started"
    FINISHED = "finished"
    FAILED = "failed"
    CANCELED = "canceled"


class ChunkStatus(enum.StrEnum):
    """Life cycle of one chunk of a batch job."""

    QUEUED = "queued"
    STARTED = "started"
    FINISHED = "finished"
    FAILED = "failed"
    CANCELED = "canceled"


PROBABILITIES = sa.JSON().with_variant(postgresql.ARRAY(sa.Double()), "postgresql")


class UtcDateTime(sa.types.TypeDecorator):
    """A timestamp that reads back timezone-aware on SQLite too (which stores it naive, in UTC)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        """Aware times in UTC: SQLite would keep the wall-clock time and drop the offset."""
        if value is not None and value.tzinfo is not None:
            return value.astimezone(UTC)
        return value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        """Attach UTC to the naive datetimes SQLite hands back."""
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class JsonText(sa.types.TypeDecorator):
    """JSON kept as text: read back parsed, but PostgreSQL does not re-validate it on insert.

    For the prediction log, whose writer produces valid JSON by construction (db.log_encoding):
    the `json` type's input check cost PostgreSQL a third of its time per 100-row entry. SQL over
    these columns casts, `inputs::json -> 'age'`; `json` stores text too, so reads cost the same.
    """

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> str | None:
        """Encode Python values (NaN refused, as `json` would); text and bytes are JSON already."""
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, bytes):
            return value.decode()
        return json.dumps(value, allow_nan=False)

    def process_result_value(self, value: str | None, dialect: sa.Dialect) -> Any:
        """The parsed JSON."""
        return None if value is None else json.loads(value)


def _now() -> sa.sql.functions.Function:
    return sa.func.now()


def _lifecycle_columns() -> list[sa.Column]:
    """Status and timestamps, as batch_jobs and training_runs both keep them (db.lifecycle)."""
    return [
        sa.Column("status", sa.String(16), nullable=False, default=JobStatus.QUEUED.value),
        sa.Column("created_at", UtcDateTime(), nullable=False, server_default=_now()),
        sa.Column("started_at", UtcDateTime(), nullable=True),
        sa.Column("finished_at", UtcDateTime(), nullable=True),
        sa.Column("error", sa.Text, nullable=True),
    ]


model_versions = sa.Table(
    "model_versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("artifact", sa.LargeBinary, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("schema", sa.JSON, nullable=False),
    sa.Column("metrics", sa.JSON, nullable=False, default=dict),
    sa.Column("details", sa.JSON, nullable=False, default=dict),
    sa.Column("data_fingerprint", sa.JSON, nullable=True),
    sa.Column("library_versions", sa.JSON, nullable=False, default=dict),
    sa.Column("is_production", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", UtcDateTime(), nullable=False, server_default=_now()),
    sa.Column("promoted_at", UtcDateTime(), nullable=True),
    sa.UniqueConstraint("name", "version", name="uq_model_versions_name_version"),
    # At most one production version per model name, enforced by the database.
    sa.Index(
        "uq_model_versions_production",
        "name",
        unique=True,
        postgresql_where=sa.text("is_production"),
        sqlite_where=sa.text("is_production"),
    ),
    sa.Index("ix_model_versions_sha256", "sha256"),
)

batch_jobs = sa.Table(
    "batch_jobs",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("model_name", sa.String(128), nullable=False),
    sa.Column("model_version", sa.Integer, nullable=False),
    sa.Column("source", sa.JSON, nullable=False),
    *_lifecycle_columns(),
    sa.Column("rows_total", sa.BigInteger, nullable=False, default=0),
    sa.Column("rows_done", sa.BigInteger, nullable=False, default=0),
    sa.Column("chunks_total", sa.Integer, nullable=False, default=0),
    sa.Column("chunks_done", sa.Integer, nullable=False, default=0),
    sa.Column("chunk_rows", sa.Integer, nullable=False),
    # The pinned version's class labels, so results stay readable if the version is deleted.
    sa.Column("classes", sa.JSON, nullable=True),
    sa.Index("ix_batch_jobs_status_created", "status", "created_at"),
)

batch_chunks = sa.Table(
    "batch_chunks",
    metadata,
    sa.Column(
        "job_id",
        sa.String(36),
        sa.ForeignKey("batch_jobs.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("chunk_index", sa.Integer, primary_key=True),
    sa.Column("first_id", sa.BigInteger, nullable=True),
    sa.Column("last_id", sa.BigInteger, nullable=True),
    sa.Column("rows", sa.Integer, nullable=False, default=0),
    sa.Column("status", sa.String(16), nullable=False, default=ChunkStatus.QUEUED.value),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("started_at", UtcDateTime(), nullable=True),
    sa.Column("finished_at", UtcDateTime(), nullable=True),
    sa.Column("error", sa.Text, nullable=True),
)

# No foreign key to batch_jobs: checking it costs one lookup per row, which doubled the time
# a chunk spends writing. Rows are only written by a chunk holding its batch_chunks row lock.
batch_predictions = sa.Table(
    "batch_predictions",
    metadata,
    sa.Column("job_id", sa.String(36), primary_key=True),
    sa.Column("entity_id", sa.BigInteger, primary_key=True),
    sa.Column("prediction", sa.Text, nullable=True),
    # One probability per class, in batch_jobs.classes order. A float8[] on PostgreSQL, so
    # chunks write it with binary COPY; a JSON list on SQLite.
    sa.Column("probabilities", PROBABILITIES, nullable=True),
)

prediction_log = sa.Table(
    "prediction_log",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("logged_at", UtcDateTime(), nullable=False),
    sa.Column("model_name", sa.String(128), nullable=False),
    sa.Column("model_version", sa.Integer, nullable=False),
    sa.Column("request_id", sa.String(64), nullable=True),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Column("inputs", JsonText, nullable=True),
    sa.Column("outputs", JsonText, nullable=True),
    # Which traffic role answered: "production", "canary", or "shadow" (logged, never returned).
    sa.Column("role", sa.String(16), nullable=False, server_default="production"),
    sa.Index("ix_prediction_log_model_time", "model_name", "logged_at"),
    sa.Index("ix_prediction_log_request_id", "request_id"),
)

# Training runs on demand (POST /models/<name>/train): the source of truth for their state, as
# batch_jobs is for batch jobs, so a lost Redis loses no history. Statuses are JobStatus's
# queued, started, finished and failed.
training_runs = sa.Table(
    "training_runs",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("model_name", sa.String(128), nullable=False),
    sa.Column("spec", sa.JSON, nullable=False),
    sa.Column("promotion", sa.String(16), nullable=False),
    *_lifecycle_columns(),
    sa.Column("version", sa.Integer, nullable=True),
    sa.Column("result", sa.JSON, nullable=True),
    sa.Index("ix_training_runs_model_created", "model_name", "created_at"),
)

# Ground truth for earlier predictions (POST /models/<name>/feedback). `feedback_key` names the
# prediction it is about ("request:<request id>:<row>" or "entity:<id>:<time>"), so the same
# feedback posted twice is stored once.
prediction_feedback = sa.Table(
    "prediction_feedback",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("model_name", sa.String(128), nullable=False),
    sa.Column("feedback_key", sa.String(200), nullable=False),
    sa.Column("request_id", sa.String(64), nullable=True),
    sa.Column("row_index", sa.Integer, nullable=True),
    sa.Column("entity_id", sa.BigInteger, nullable=True),
    sa.Column("observed_at", UtcDateTime(), nullable=True),
    sa.Column("label", sa.Text, nullable=True),  # a class label, for classifiers
    sa.Column("value", sa.Double, nullable=True),  # the true value, for regressors
    sa.Column("received_at", UtcDateTime(), nullable=False, server_default=_now()),
    sa.UniqueConstraint("model_name", "feedback_key", name="uq_prediction_feedback_model_name_key"),
    sa.Index("ix_prediction_feedback_model_request", "model_name", "request_id"),
)

# Canary and shadow versions beside the production one (PUT /models/<name>/traffic). The
# production version stays model_versions.is_production; no row here means production only.
model_traffic = sa.Table(
    "model_traffic",
    metadata,
    sa.Column("model_name", sa.String(128), primary_key=True),
    sa.Column("canary_version", sa.Integer, nullable=True),
    sa.Column("canary_percent", sa.Float, nullable=True),
    sa.Column("shadow_versions", sa.JSON, nullable=False, default=list),
    sa.Column("updated_at", UtcDateTime(), nullable=False, server_default=_now()),
)
