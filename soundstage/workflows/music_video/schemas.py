"""Request and response models of the music video API (names from seed 001)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from soundstage.workflows.music_video.planning import MAX_NOTE_CHARS

Aspect = Literal["16:9", "9:16"]


class SectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: float = Field(ge=0, description="Seconds; inner edges snap to the nearest beat")
    end: float = Field(gt=0, description="Seconds")
    label: str = Field(min_length=1, max_length=40, description="intro, verse, chorus...")
    prompt_note: str = Field("", max_length=MAX_NOTE_CHARS, description="Added to clip prompts")


class SectionsCreate(BaseModel):
    """The whole song's sections in order; omit `sections` to take the suggested ones."""

    model_config = ConfigDict(extra="forbid")

    sections: list[SectionIn] | None = Field(None, min_length=1)


class SectionPatch(BaseModel):
    """Only the label and the prompt note can change; start and end are fixed once created."""

    label: str | None = Field(None, min_length=1, max_length=40)
    prompt_note: str | None = Field(None, max_length=MAX_NOTE_CHARS)

    @model_validator(mode="before")
    @classmethod
    def _refuse_times(cls, data: Any) -> Any:
        if isinstance(data, dict):
            fixed = sorted(k for k in data if k not in {"label", "prompt_note"})
            if fixed:
                raise ValueError(
                    f"only label and prompt_note can be changed, not {', '.join(fixed)}; "
                    "to move section edges, create the sections again"
                )
        return data


class SectionOut(BaseModel):
    id: str
    index: int
    label: str
    start: float
    end: float
    prompt_note: str
    regeneration_count: int
    regenerations_left: int


class ClipOut(BaseModel):
    id: str
    section_id: str
    index: int
    index_in_section: int
    start: float
    end: float
    start_frame: int
    n_frames: int
    fps: int
    prompt: str
    status: str
    provider: str | None
    cost_usd: float
    compute_s: float
    regeneration_count: int
    regenerations_left: int
    error: str | None


class GenerateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt: str | None = Field(
        None, max_length=500, description="Overall prompt; the suggested one if omitted"
    )
    video_type: str | None = Field(
        None, description="Visual template (see GET .../video/suggestion); suggested if omitted"
    )
    aspect: Aspect = "16:9"
    captions: bool = Field(True, description="Burn lyric captions in when the song has lyrics")
    seed: int | None = Field(None, ge=0, le=2**31 - 1)


class Suggestion(BaseModel):
    video_type: str
    video_types: dict[str, str]  # name → description
    prompt: str
    sections: list[SectionIn]
    bpm: float
    genre: str
    mood: str


class Accepted(BaseModel):
    song_id: str
    video_id: str
    job_id: str
    status_url: str


class VideoOut(BaseModel):
    id: str
    song_id: str
    title: str
    status: str
    error: str | None
    video_type: str
    aspect: str
    width: int
    height: int
    fps: int
    prompt: str
    seed: int
    captions: bool
    version: int
    duration_s: float | None
    file_size_bytes: int
    is_finalized: bool
    job_id: str | None
    video_url: str | None
    poster_url: str | None
    captions_url: str | None
    share_url: str | None
    created_at: datetime
    composed_at: datetime | None
    finalized_at: datetime | None
    sections: list[SectionOut] = []
    clips: list[ClipOut] = []


class GenerationStatus(BaseModel):
    song_id: str
    video_id: str | None
    job_id: str | None
    state: str  # idle | queued | running | completed | failed | cancelled
    stage: str
    progress: float  # 0–100: clips 0–80, composition 80–100
    eta_s: float | None
    clips_total: int
    clips_completed: int
    clips_failed: int
    video_status: str | None
    error: str | None


class ComposeStatus(BaseModel):
    job_id: str
    state: str
    stage: str
    progress: float
    error: str | None


class ComposeResult(BaseModel):
    job_id: str
    video_id: str
    video_url: str
    poster_url: str | None
    duration_s: float | None
    file_size_bytes: int


class ShareOut(BaseModel):
    video_id: str
    share_url: str
    token: str


class SharedVideo(BaseModel):
    title: str
    width: int
    height: int
    duration_s: float | None
    video_url: str
    poster_url: str | None
    captions_url: str | None
