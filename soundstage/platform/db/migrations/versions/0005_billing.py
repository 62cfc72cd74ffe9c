"""billing: credit accounts and the credit ledger

Revision ID: 0005_billing
Revises: 0001_platform
Create Date: 2026-11-21 16:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0005_billing"
down_revision: str | Sequence[str] | None = "0001_platform"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
