"""Monitoring and rollout: ground truth, traffic roles in the log, canary and shadow versions.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A constant server default: PostgreSQL adds the column without rewriting the table.
    with op.batch_alter_table("prediction_log") as batch:
        batch.add_column(
            sa.Column("role", sa.String(16), nullable=False, server_default="production")
        )
    op.create_table(
        "prediction_feedback",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), nullable=False),
        sa.Column("model_name", sa.String(128), nullable=False),
        sa.Column("feedback_key", sa.String(200), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.Column("row_index", sa.Integer, nullable=True),
        sa.Column("entity_id", sa.BigInteger, nullable=True),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("label", sa.Text, nullable=True),
        sa.Column("value", sa.Double, nullable=True),
        sa.Column(
            "received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.PrimaryKeyConstraint("id", name="pk_prediction_feedback"),
        sa.UniqueConstraint(
            "model_name", "feedback_key", name="uq_prediction_feedback_model_name_key"
        ),
    )
    op.create_index(
        "ix_prediction_feedback_model_request",
        "prediction_feedback",
        ["model_name", "request_id"],
    )
    op.create_table(
        "model_traffic",
        sa.Column("model_name", sa.String(128), nullable=False),
        sa.Column("canary_version", sa.Integer, nullable=True),
        sa.Column("canary_percent", sa.Float, nullable=True),
        sa.Column("shadow_versions", sa.JSON, nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.PrimaryKeyConstraint("model_name", name="pk_model_traffic"),
    )


def downgrade() -> None:
    op.drop_table("model_traffic")
    op.drop_table("prediction_feedback")
    with op.batch_alter_table("prediction_log") as batch:
        batch.drop_column("role")
