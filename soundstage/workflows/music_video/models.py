"""Music video tables (seed 001): a song's sections and clips, and the video made of them.

Sections and clips belong to the song, as in the seed: they are planned before a
video exists. A song has at most one video; deleting it keeps the sections (the
user's work) and returns the clips to "planned".
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from soundstage.platform.db import Base, new_id, utcnow


class ClipStatus(StrEnum):
    PLANNED = "planned"
    GENERATING = "generating"
    COMPLETED = "completed"
    FAILED = "failed"


class VideoStatus(StrEnum):
    GENERATING = "generating"  # clips being made (then composed)
    COMPOSING = "composing"
    READY = "ready"  # composed; can be watched, regenerated, finalized
    FAILED = "failed"
    FINALIZED = "finalized"  # intermediates removed, no more edits


class VideoSection(Base):
    __tablename__ = "video_sections"
    __table_args__ = (Index("ix_video_sections_song_index", "song_id", "index", unique=True),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    song_id: Mapped[str] = mapped_column(ForeignKey("songs.id", ondelete="CASCADE"))
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    index: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(40))
    start_s: Mapped[float] = mapped_column(Float)
    end_s: Mapped[float] = mapped_column(Float)
    prompt_note: Mapped[str] = mapped_column(String(100), default="")
    regeneration_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class VideoClip(Base):
    __tablename__ = "video_clips"
    __table_args__ = (Index("ix_video_clips_song_index", "song_id", "index", unique=True),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    song_id: Mapped[str] = mapped_column(ForeignKey("songs.id", ondelete="CASCADE"))
    section_id: Mapped[str] = mapped_column(
        ForeignKey("video_sections.id", ondelete="CASCADE"), index=True
    )
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    index: Mapped[int] = mapped_column(Integer)  # order in the song
    index_in_section: Mapped[int] = mapped_column(Integer)
    start_frame: Mapped[int] = mapped_column(Integer)
    n_frames: Mapped[int] = mapped_column(Integer)
    fps: Mapped[int] = mapped_column(Integer)
    prompt: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=ClipStatus.PLANNED)
    file_key: Mapped[str | None] = mapped_column(String(300))
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    provider: Mapped[str | None] = mapped_column(String(40))
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    compute_s: Mapped[float] = mapped_column(Float, default=0.0)
    regeneration_count: Mapped[int] = mapped_column(Integer, default=0)
    job_id: Mapped[str | None] = mapped_column(String(32))  # the job that made the current file
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def start_s(self) -> float:
        return self.start_frame / self.fps

    @property
    def end_s(self) -> float:
        return (self.start_frame + self.n_frames) / self.fps


class MusicVideo(Base):
    __tablename__ = "music_videos"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    song_id: Mapped[str] = mapped_column(
        ForeignKey("songs.id", ondelete="CASCADE"), unique=True, index=True
    )
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(255))
    video_type: Mapped[str] = mapped_column(String(40))  # embedded template name
    aspect: Mapped[str] = mapped_column(String(8))  # "16:9" | "9:16"
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    fps: Mapped[int] = mapped_column(Integer)
    prompt: Mapped[str] = mapped_column(Text)
    seed: Mapped[int] = mapped_column(BigInteger)
    captions: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default=VideoStatus.GENERATING)
    error: Mapped[str | None] = mapped_column(Text)
    job_id: Mapped[str | None] = mapped_column(String(32))  # the latest generate/compose job
    version: Mapped[int] = mapped_column(Integer, default=0)  # times composed
    video_key: Mapped[str | None] = mapped_column(String(300))
    poster_key: Mapped[str | None] = mapped_column(String(300))
    captions_key: Mapped[str | None] = mapped_column(String(300))
    duration_s: Mapped[float | None] = mapped_column(Float)
    file_size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    share_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    composed_at: Mapped[datetime | None]
    finalized_at: Mapped[datetime | None]

    @property
    def is_finalized(self) -> bool:
        return self.status == VideoStatus.FINALIZED
