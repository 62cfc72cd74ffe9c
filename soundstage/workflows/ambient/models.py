"""Ambient studio tables: tracks, and batches of tracks generated from one request."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from soundstage.platform.db import Base, new_id, utcnow


class TrackStatus(StrEnum):
    QUEUED = "queued"
    GENERATING = "generating"
    READY = "ready"
    FAILED = "failed"
    CANCELLED = "cancelled"


class VideoStatus(StrEnum):
    NONE = "none"
    QUEUED = "queued"
    RENDERING = "rendering"
    READY = "ready"
    FAILED = "failed"


class Track(Base):
    """A generated ambient track, its request, what it became, and where its files are."""

    __tablename__ = "tracks"
    __table_args__ = (Index("ix_tracks_owner_created", "owner_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    prompt: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=TrackStatus.QUEUED)
    video_status: Mapped[str] = mapped_column(String(16), default=VideoStatus.NONE)
    duration_s: Mapped[float] = mapped_column(Float)
    seed: Mapped[int] = mapped_column(Integer)
    request: Mapped[dict[str, Any]] = mapped_column(default=dict)  # what was asked
    style: Mapped[dict[str, Any] | None]  # what the engine made of it
    key: Mapped[str | None] = mapped_column(String(4))
    mode: Mapped[str | None] = mapped_column(String(8))
    bpm: Mapped[float | None] = mapped_column(Float)
    mood: Mapped[str | None] = mapped_column(String(32))
    loudness_lufs: Mapped[float | None] = mapped_column(Float)
    true_peak_dbtp: Mapped[float | None] = mapped_column(Float)
    files: Mapped[dict[str, Any]] = mapped_column(default=dict)  # kind → {key, size, name}
    storage_bytes: Mapped[int] = mapped_column(Integer, default=0)
    generation_s: Mapped[float | None] = mapped_column(Float)
    render_s: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    generate_job_id: Mapped[str | None] = mapped_column(String(32))
    render_job_id: Mapped[str | None] = mapped_column(String(32))
    batch_id: Mapped[str | None] = mapped_column(
        ForeignKey("batches.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None]

    # Track platform (seed 004; soundstage/workflows/tracks, migration 0008_tracks): a track
    # made there has kind "song"; every track can be published and given new covers.
    kind: Mapped[str] = mapped_column(String(16), default="ambient", server_default="ambient")
    genre: Mapped[str | None] = mapped_column(String(32))
    style_strength: Mapped[float | None] = mapped_column(Float)
    lyrics: Mapped[str | None] = mapped_column(Text)
    has_vocals: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    reference_song_id: Mapped[str | None] = mapped_column(
        ForeignKey("songs.id", ondelete="SET NULL"), index=True
    )
    reference: Mapped[dict[str, Any] | None]  # the reference song's features used to steer
    series_id: Mapped[str | None] = mapped_column(
        ForeignKey("series.id", ondelete="SET NULL"), index=True
    )
    visual_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    public: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    credits_required: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    spec: Mapped[dict[str, Any] | None]  # the engine parameters resolved from the request
    measured_bpm: Mapped[float | None] = mapped_column(Float)
    measured_key: Mapped[str | None] = mapped_column(String(4))
    measured_mode: Mapped[str | None] = mapped_column(String(8))
    verification: Mapped[dict[str, Any] | None]  # asked vs heard tempo and key


class Batch(Base):
    """Many tracks asked for in one request; progress is read from their jobs."""

    __tablename__ = "batches"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    items: Mapped[list[BatchItem]] = relationship(
        back_populates="batch", order_by="BatchItem.position", cascade="all, delete-orphan"
    )


class BatchItem(Base):
    __tablename__ = "batch_items"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    prompt: Mapped[str] = mapped_column(Text)
    track_id: Mapped[str | None] = mapped_column(ForeignKey("tracks.id", ondelete="SET NULL"))
    job_id: Mapped[str | None] = mapped_column(String(32))
    batch: Mapped[Batch] = relationship(back_populates="items")
