"""track platform: tracks, series and style

The track platform's tracks are rows of the ambient studio's `tracks` table (kind
"song"): this revision adds their columns (server defaults fill existing rows) and
creates `series` and `style_profiles`.

Revision ID: 0008_tracks
Revises: 0004_music_video, 0007_governance
Create Date: 2026-11-21 16:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008_tracks"
down_revision: str | Sequence[str] | None = ("0004_music_video", "0007_governance")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "style_profiles",
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("style_seed", sa.BigInteger(), nullable=False),
        sa.Column("unlocks", JSON, nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_style_profiles_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_style_profiles")),
    )

    op.create_table(
        "series",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("owner_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("motif", sa.String(length=24), nullable=False),
        sa.Column("palette", JSON, nullable=False),
        sa.Column("geometry", JSON, nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_series_owner_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_series")),
        sa.UniqueConstraint("owner_id", "name", name=op.f("uq_series_owner_id")),
    )
    with op.batch_alter_table("series", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_series_owner_id"), ["owner_id"], unique=False)

    with op.batch_alter_table("tracks", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=16), server_default="ambient", nullable=False)
        )
        batch_op.add_column(sa.Column("genre", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("style_strength", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("lyrics", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("has_vocals", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("reference_song_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("reference", JSON, nullable=True))
        batch_op.add_column(sa.Column("series_id", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("visual_version", sa.Integer(), server_default="1", nullable=False)
        )
        batch_op.add_column(
            sa.Column("public", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("credits_required", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("spec", JSON, nullable=True))
        batch_op.add_column(sa.Column("measured_bpm", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("measured_key", sa.String(length=4), nullable=True))
        batch_op.add_column(sa.Column("measured_mode", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("verification", JSON, nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_tracks_reference_song_id_songs"),
            "songs",
            ["reference_song_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_tracks_series_id_series"),
            "series",
            ["series_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_index(
            batch_op.f("ix_tracks_reference_song_id"), ["reference_song_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_tracks_series_id"), ["series_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tracks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tracks_series_id"))
        batch_op.drop_index(batch_op.f("ix_tracks_reference_song_id"))
        batch_op.drop_constraint(batch_op.f("fk_tracks_series_id_series"), type_="foreignkey")
        batch_op.drop_constraint(
            batch_op.f("fk_tracks_reference_song_id_songs"), type_="foreignkey"
        )
        for column in (
            "verification", "measured_mode", "measured_key", "measured_bpm", "spec",
            "credits_required", "public", "visual_version", "series_id", "reference",
            "reference_song_id", "has_vocals", "lyrics", "style_strength", "genre", "kind",
        ):  # fmt: skip
            batch_op.drop_column(column)
    with op.batch_alter_table("series", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_series_owner_id"))
    op.drop_table("series")
    op.drop_table("style_profiles")
