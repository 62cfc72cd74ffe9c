"""billing: credit accounts and the credit ledger

Revision ID: 0005_billing
Revises: 0001_platform
Create Date: 2026-11-21 16:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005_billing"
down_revision: str | Sequence[str] | None = "0001_platform"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "credit_accounts",
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("plan", sa.String(length=16), nullable=False),
        sa.Column("ppp_band", sa.String(length=8), nullable=False),
        sa.Column("solidarity_opt_in", sa.Boolean(), nullable=False),
        sa.Column("balance", sa.Integer(), nullable=False),
        _ts("trial_expires_at", nullable=True),
        _ts("created_at"),
        sa.CheckConstraint("balance >= 0", name=op.f("ck_credit_accounts_balance_not_negative")),
        sa.CheckConstraint(
            "plan IN ('FREE', 'PRO', 'ENTERPRISE')", name=op.f("ck_credit_accounts_plan_known")
        ),
        sa.CheckConstraint(
            "ppp_band IN ('HIGH', 'UMID', 'LMID', 'LOW')",
            name=op.f("ck_credit_accounts_ppp_band_known"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_credit_accounts_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_credit_accounts")),
    )
    op.create_table(
        "credit_ledger",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("balance_after", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.String(length=32), nullable=True),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("pricing_snapshot", _json(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("actor_id", sa.String(length=32), nullable=True),
        _ts("created_at"),
        sa.CheckConstraint(
            "balance_after >= 0", name=op.f("ck_credit_ledger_balance_after_not_negative")
        ),
        sa.CheckConstraint(
            "kind IN ('PURCHASE', 'DEDUCTION', 'REFUND', 'TRIAL', 'ADJUSTMENT')",
            name=op.f("ck_credit_ledger_kind_known"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_credit_ledger_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_ledger")),
        sa.UniqueConstraint("external_id", name=op.f("uq_credit_ledger_external_id")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_credit_ledger_idempotency_key")),
    )
    with op.batch_alter_table("credit_ledger") as batch_op:
        batch_op.create_index(batch_op.f("ix_credit_ledger_job_id"), ["job_id"])
        batch_op.create_index("ix_credit_ledger_user_created", ["user_id", "created_at"])


def downgrade() -> None:
    op.drop_table("credit_ledger")
    op.drop_table("credit_accounts")
