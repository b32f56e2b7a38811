"""Initial schema: model registry, batch jobs and chunks, batch predictions, prediction log.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _created_at() -> sa.Column:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    )


def upgrade() -> None:
    op.create_table(
        "model_versions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("artifact", sa.LargeBinary, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("schema", sa.JSON, nullable=False),
        sa.Column("metrics", sa.JSON, nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
        sa.Column("data_fingerprint", sa.JSON, nullable=True),
        sa.Column("library_versions", sa.JSON, nullable=False),
        sa.Column("is_production", sa.Boolean, nullable=False),
        _created_at(),
        sa.Column("promoted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_model_versions"),
        sa.UniqueConstraint("name", "version", name="uq_model_versions_name_version"),
    )
    # At most one production version per model name, enforced by the database.
    op.create_index(
        "uq_model_versions_production",
        "model_versions",
        ["name"],
        unique=True,
        postgresql_where=sa.text("is_production"),
        sqlite_where=sa.text("is_production"),
    )
    op.create_index("ix_model_versions_sha256", "model_versions", ["sha256"])

    op.create_table(
        "batch_jobs",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("model_name", sa.String(128), nullable=False),
        sa.Column("model_version", sa.Integer, nullable=False),
        sa.Column("source", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("rows_total", sa.BigInteger, nullable=False),
        sa.Column("rows_done", sa.BigInteger, nullable=False),
        sa.Column("chunks_total", sa.Integer, nullable=False),
        sa.Column("chunks_done", sa.Integer, nullable=False),
        sa.Column("chunk_rows", sa.Integer, nullable=False),
        _created_at(),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("classes", sa.JSON, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_batch_jobs"),
    )
    op.create_index("ix_batch_jobs_status_created", "batch_jobs", ["status", "created_at"])

    op.create_table(
        "batch_chunks",
        sa.Column("job_id", sa.String(36), nullable=False),
        sa.Column("chunk_index", sa.Integer, nullable=False),
        sa.Column("first_id", sa.BigInteger, nullable=True),
        sa.Column("last_id", sa.BigInteger, nullable=True),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("job_id", "chunk_index", name="pk_batch_chunks"),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["batch_jobs.id"],
            ondelete="CASCADE",
            name="fk_batch_chunks_job_id_batch_jobs",
        ),
    )

    op.create_table(
        "batch_predictions",
        sa.Column("job_id", sa.String(36), nullable=False),
        sa.Column("entity_id", sa.BigInteger, nullable=False),
        sa.Column("prediction", sa.Text, nullable=True),
        sa.Column(
            "probabilities",
            sa.JSON().with_variant(postgresql.ARRAY(sa.Double()), "postgresql"),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("job_id", "entity_id", name="pk_batch_predictions"),
    )

    op.create_table(
        "prediction_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), nullable=False),
        sa.Column("logged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("model_name", sa.String(128), nullable=False),
        sa.Column("model_version", sa.Integer, nullable=False),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("latency_ms", sa.Float, nullable=False),
        sa.Column("inputs", sa.JSON, nullable=True),
        sa.Column("outputs", sa.JSON, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_prediction_log"),
    )
    op.create_index("ix_prediction_log_model_time", "prediction_log", ["model_name", "logged_at"])


def downgrade() -> None:
    op.drop_table("prediction_log")
    op.drop_table("batch_predictions")
    op.drop_table("batch_chunks")
    op.drop_table("batch_jobs")
    op.drop_table("model_versions")
