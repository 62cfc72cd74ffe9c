"""Request and response models of the ambient studio API (names from seed 000)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from soundstage.media.music.style import MOODS, resolve_instrument
from soundstage.media.music.theory import TheoryError, parse_key, parse_mode

MIN_DURATION_S = 30.0
MAX_DURATION_S = 3 * 3600.0
MAX_SEED = 2**31 - 1
MoodName = Literal[tuple(MOODS)]  # type: ignore[valid-type]


class GenerateRequest(BaseModel):
    """One ambient track. Unset musical parameters are read from the prompt."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    prompt: str = Field(min_length=1, max_length=500, examples=["rain on a tin roof, slow piano"])
    duration_s: float = Field(180.0, ge=MIN_DURATION_S, le=MAX_DURATION_S)
    seed: int | None = Field(None, ge=0, le=MAX_SEED, description="Random when unset")
    key: str | None = Field(None, max_length=3, examples=["F#"])
    mode: str | None = Field(None, max_length=12, examples=["minor", "dorian"])
    bpm: float | None = Field(None, ge=40, le=160)
    mood: MoodName | None = None
    instruments: list[str] | None = Field(None, max_length=6)
    title: str | None = Field(None, max_length=120)
    render_video: bool = False
    stems: bool = Field(True, description="One FLAC stem per layer (costs time on long tracks)")
    formats: list[Literal["wav", "flac"]] = Field(
        default_factory=list, description="Lossless copies besides the MP3"
    )

    @field_validator("key")
    @classmethod
    def _known_key(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            parse_key(value)
        except TheoryError as error:
            raise ValueError(str(error)) from None
        return value

    @field_validator("mode")
    @classmethod
    def _known_mode(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return parse_mode(value)
        except TheoryError as error:
            raise ValueError(str(error)) from None

    @field_validator("instruments")
    @classmethod
    def _known_instruments(cls, value: list[str] | None) -> list[str] | None:
        return [resolve_instrument(name) for name in value] if value else None

    @field_validator("prompt")
    @classmethod
    def _printable(cls, value: str) -> str:
        if any(ord(c) < 32 and c not in "\t\n" for c in value):
            raise ValueError("prompt contains control characters")
        return value


class GenerateAccepted(BaseModel):
    track_id: str
    job_id: str


class RenderRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    track_id: str = Field(min_length=1, max_length=64)


class BatchRequest(BaseModel):
    """Either explicit items, or one request repeated `count` times with different seeds."""

    model_config = ConfigDict(extra="forbid")
    items: list[GenerateRequest] | None = Field(None, min_length=1)
    template: GenerateRequest | None = None
    count: int | None = Field(None, ge=1)


class BatchItemOut(BaseModel):
    position: int
    prompt: str
    track_id: str | None
    job_id: str | None
    state: str
    progress: float
    stage: str
    error: str | None = None


class BatchOut(BaseModel):
    id: str
    created_at: datetime
    state: str
    progress: float
    counts: dict[str, int]
    items: list[BatchItemOut]


class FileOut(BaseModel):
    kind: str
    name: str
    size: int
    url: str


class TrackSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    title: str
    prompt: str
    status: str
    video_status: str
    duration_s: float
    seed: int
    key: str | None
    mode: str | None
    bpm: float | None
    mood: str | None
    created_at: datetime
    completed_at: datetime | None
    storage_bytes: int
    # Track platform (seed 004, docs/tracks.md): "song" for tracks made with POST /api/tracks.
    kind: str = "ambient"
    genre: str | None = None
    series_id: str | None = None
    visual_version: int = 1
    public: bool = False
    credits_required: int = 0


class TrackOut(TrackSummary):
    request: dict[str, Any]
    style: dict[str, Any] | None
    loudness_lufs: float | None
    true_peak_dbtp: float | None
    generation_s: float | None
    render_s: float | None
    error: str | None
    generate_job_id: str | None
    render_job_id: str | None
    batch_id: str | None
    files: list[FileOut]
    # Track platform (seed 004): the request's extras, the resolved engine spec, what was heard.
    style_strength: float | None = None
    lyrics: str | None = None
    has_vocals: bool = False
    reference_song_id: str | None = None
    reference: dict[str, Any] | None = None
    spec: dict[str, Any] | None = None
    measured_bpm: float | None = None
    measured_key: str | None = None
    measured_mode: str | None = None
    verification: dict[str, Any] | None = None


class LinkOut(BaseModel):
    url: str
    expires_in_s: int


class StatsOut(BaseModel):
    tracks: int
    by_status: dict[str, int]
    videos: int
    total_minutes: float
    storage_bytes: int
    mean_generation_s: float | None
    mean_render_s: float | None
    mean_realtime_factor: float | None
