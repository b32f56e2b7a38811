"""The prediction log's inputs and outputs as text holding JSON, not PostgreSQL `json`.

PostgreSQL validated every entry's JSON on insert, a third of its time per 100-row entry (209
against 144 µs, docs/performance.md), although the log's writer only ever produces valid JSON
(db.log_encoding). `json` is stored as text as well, so reading costs the same; SQL over the
columns casts (`inputs::json -> 'age'`). Rewrites the table once.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

LZ4_AVAILABLE = (
    "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
)


def upgrade() -> None:
    _retype(sa.Text(), sa.JSON(), "text")


def downgrade() -> None:
    _retype(sa.JSON(), sa.Text(), "json")


def _retype(new: sa.types.TypeEngine, old: sa.types.TypeEngine, sql_type: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        with op.batch_alter_table("prediction_log") as batch:
            for column in ("inputs", "outputs"):
                batch.alter_column(column, type_=new, existing_type=old)
        return
    op.execute(
        "ALTER TABLE prediction_log "
        f"ALTER COLUMN inputs TYPE {sql_type} USING inputs::{sql_type}, "
        f"ALTER COLUMN outputs TYPE {sql_type} USING outputs::{sql_type}"
    )
    if bind.scalar(sa.text(LZ4_AVAILABLE)):  # as migration 0004 set it
        op.execute(
            "ALTER TABLE prediction_log "
            "ALTER COLUMN inputs SET COMPRESSION lz4, ALTER COLUMN outputs SET COMPRESSION lz4"
        )
