"""accounts: API tokens

Revision ID: 0006_api_tokens
Revises: 0005_billing
Create Date: 2026-11-21 16:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0006_api_tokens"
down_revision: str | Sequence[str] | None = "0005_billing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
