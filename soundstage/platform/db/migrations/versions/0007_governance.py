"""governance: job costs and moderation

Adds the job_costs table, the jobs' accepted cost estimate and moderation record,
and widens the state columns for "moderation_failed" (17 characters).

Revision ID: 0007_governance
Revises: 0006_api_tokens
Create Date: 2026-11-21 16:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007_governance"
down_revision: str | Sequence[str] | None = "0006_api_tokens"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATE = sa.String(length=16)
NEW_STATE = sa.String(length=24)


def _json() -> sa.types.TypeEngine:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.alter_column("state", type_=NEW_STATE, existing_type=OLD_STATE)
        batch_op.add_column(sa.Column("estimated_usd", sa.Numeric(12, 6), nullable=True))
        batch_op.add_column(sa.Column("moderation", _json(), nullable=True))
    with op.batch_alter_table("job_events") as batch_op:
        batch_op.alter_column("from_state", type_=NEW_STATE, existing_type=OLD_STATE)
        batch_op.alter_column("to_state", type_=NEW_STATE, existing_type=OLD_STATE)

    op.create_table(
        "job_costs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("step", sa.String(length=100), nullable=False),
        sa.Column("usd", sa.Numeric(12, 6), nullable=False),
        sa.Column("compute_s", sa.Float(), nullable=False),
        sa.Column("units", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column("estimated", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_job_costs_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_job_costs_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_costs")),
    )
    with op.batch_alter_table("job_costs") as batch_op:
        batch_op.create_index(batch_op.f("ix_job_costs_job_id"), ["job_id"])
        batch_op.create_index("ix_job_costs_user_created", ["user_id", "created_at"])


def downgrade() -> None:
    op.drop_table("job_costs")
    with op.batch_alter_table("job_events") as batch_op:
        batch_op.alter_column("to_state", type_=OLD_STATE, existing_type=NEW_STATE)
        batch_op.alter_column("from_state", type_=OLD_STATE, existing_type=NEW_STATE)
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.drop_column("moderation")
        batch_op.drop_column("estimated_usd")
        batch_op.alter_column("state", type_=OLD_STATE, existing_type=NEW_STATE)
