"""governance: job costs and moderation

Revision ID: 0007_governance
Revises: 0006_api_tokens
Create Date: 2026-11-21 16:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0007_governance"
down_revision: str | Sequence[str] | None = "0006_api_tokens"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
