"""Response models of the song library API (uploads are multipart, so requests have none)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

MAX_LYRICS_CHARS = 20_000


class SongSummary(BaseModel):
    id: str
    filename: str
    status: str  # uploaded | analyzing | analyzed | failed
    format: str  # mp3 | wav | m4a | flac | ogg
    content_type: str
    codec: str
    duration_s: float
    sample_rate: int
    channels: int
    bitrate_kbps: float | None
    size_bytes: int
    tags: dict[str, Any]
    has_cover: bool
    has_lyrics: bool
    bpm: float | None
    key: str | None
    mode: str | None
    error: str | None
    analysis_job_id: str | None
    created_at: datetime
    analyzed_at: datetime | None
    file_url: str
    cover_url: str | None
    analysis_url: str


class SongOut(SongSummary):
    lyrics: str | None


class AnalyzeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    notes: bool = Field(
        False, description="Also transcribe melody and bass to MIDI (GET .../notes.mid)"
    )


class AnalyzeAccepted(BaseModel):
    song_id: str
    job_id: str


class ReferenceOut(BaseModel):
    """What a reference track sounds like, for 'make it like this one'."""

    bpm: float | None
    bpm_confidence: float | None = None
    key: str | None
    mode: str | None
    key_confidence: float | None = None
    energy: float | None
    loudness_lufs: float | None
    duration_s: float
