"""Track platform tables (seed 004): series (a shared visual style) and style profiles.

A track made here is a row of the ambient studio's `tracks` table with kind "song":
in one studio a track is a track (seeds 000 and 004 both name /api/tracks/{id}). Its
seed-004 columns (genre, style strength, lyrics, reference, series, visual version,
public, credits, measurements) are declared on `soundstage.workflows.ambient.models.Track`
and added by this workflow's migration, 0008_tracks.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from soundstage.platform.db import Base, JSONType, new_id, utcnow
from soundstage.workflows.ambient.models import Track, TrackStatus

SONG_KIND = "song"  # Track.kind of the tracks made by this workflow
UNFINISHED = frozenset({TrackStatus.QUEUED, TrackStatus.GENERATING})

__all__ = ["SONG_KIND", "UNFINISHED", "Series", "StyleProfile", "Track", "TrackStatus"]


class Series(Base):
    """A user's visual style shared by many covers: palette, geometry and a motif."""

    __tablename__ = "series"
    __table_args__ = (UniqueConstraint("owner_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    motif: Mapped[str] = mapped_column(String(24))
    palette: Mapped[dict[str, Any]]  # {hues: [deg, ...], luminance, saturation}
    geometry: Mapped[dict[str, Any]]  # {stroke_width, rotation, gradient_angle, shape_count}
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StyleProfile(Base):
    """A user's style seed (the same for the same user, always) and the styles they unlocked."""

    __tablename__ = "style_profiles"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    style_seed: Mapped[int] = mapped_column(BigInteger)
    unlocks: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
