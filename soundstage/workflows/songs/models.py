"""Song library tables: uploaded songs, and the analysis of each (one row per song).

The analysis JSON lives in its own table, `song_analyses`, so listing a library
never loads beat lists and energy curves; the few headline numbers a list shows
(bpm, key, mode) are copied onto the song row when an analysis finishes.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from soundstage.platform.db import Base, new_id, utcnow


class SongStatus(StrEnum):
    UPLOADED = "uploaded"
    ANALYZING = "analyzing"
    ANALYZED = "analyzed"
    FAILED = "failed"


class Song(Base):
    """An uploaded audio file: what ffprobe and its tags say, and where it is stored."""

    __tablename__ = "songs"
    __table_args__ = (Index("ix_songs_owner_created", "owner_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))  # as uploaded (base name only)
    content_type: Mapped[str] = mapped_column(String(64))  # of the detected format
    format: Mapped[str] = mapped_column(String(8))  # mp3 | wav | m4a | flac | ogg
    codec: Mapped[str] = mapped_column(String(32))  # ffprobe codec_name
    duration_s: Mapped[float] = mapped_column(Float)
    sample_rate: Mapped[int] = mapped_column(Integer)
    channels: Mapped[int] = mapped_column(Integer)
    bitrate_kbps: Mapped[float | None] = mapped_column(Float)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    tags: Mapped[dict[str, Any]] = mapped_column(default=dict)  # title, artist, album, ...
    has_cover: Mapped[bool] = mapped_column(Boolean, default=False)
    original_key: Mapped[str] = mapped_column(String(300))
    cover_key: Mapped[str | None] = mapped_column(String(300))
    lyrics: Mapped[str | None] = mapped_column(Text)  # user-supplied, optional
    status: Mapped[str] = mapped_column(String(16), default=SongStatus.UPLOADED)
    error: Mapped[str | None] = mapped_column(Text)
    analysis_job_id: Mapped[str | None] = mapped_column(String(32))
    bpm: Mapped[float | None] = mapped_column(Float)  # headline numbers of the last analysis
    key: Mapped[str | None] = mapped_column(String(4))
    mode: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    analyzed_at: Mapped[datetime | None]


class SongAnalysis(Base):
    """The latest analysis of a song: `AnalysisResult.to_dict()` as JSON."""

    __tablename__ = "song_analyses"

    song_id: Mapped[str] = mapped_column(
        ForeignKey("songs.id", ondelete="CASCADE"), primary_key=True
    )
    result: Mapped[dict[str, Any]]
    analysis_s: Mapped[float] = mapped_column(Float)  # wall-clock seconds the analysis took
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
