"""track platform: tracks, series and style

Revision ID: 0008_tracks
Revises: 0004_music_video, 0007_governance
Create Date: 2026-11-21 16:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0008_tracks"
down_revision: str | Sequence[str] | None = ("0004_music_video", "0007_governance")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
