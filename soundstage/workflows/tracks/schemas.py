"""Request and response models of the track platform API (seed 004)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from soundstage.media.music.theory import TheoryError, parse_key, parse_mode
from soundstage.workflows.tracks.genres import DEFAULT_GENRE, GENRES
from soundstage.workflows.tracks.style import (
    ANGLE_RANGE,
    HUES_COUNT,
    LUMINANCE_RANGE,
    MOTIF_NAMES,
    SATURATION_RANGE,
    SHAPE_COUNT_RANGE,
    STROKE_WIDTH_RANGE,
)

MIN_DURATION_S = 5.0
MAX_DURATION_S = 600.0
MIN_BPM, MAX_BPM = 40.0, 220.0
MAX_LYRICS_CHARS = 5000
MAX_PROMPT_CHARS = 500
MAX_SEED = 2**31 - 1
GenreName = Literal[tuple(GENRES)]  # type: ignore[valid-type]
MotifName = Literal[MOTIF_NAMES]  # type: ignore[valid-type]
PublicFileKind = Literal["mp3", "preview", "cover"]


def _plain_text(value: str, field: str) -> str:
    """Refuse control characters and lone surrogates (they cannot be stored as UTF-8)."""
    if any(ord(c) < 32 and c not in "\t\n\r" for c in value):
        raise ValueError(f"{field} contains control characters")
    if any(0xD800 <= ord(c) <= 0xDFFF for c in value):
        raise ValueError(f"{field} contains invalid characters (lone surrogates)")
    return value


class TrackCreate(BaseModel):
    """A track to make. Unset musical parameters come from the reference, then the genre."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS,
                        examples=["late night city walk, warm keys"])  # fmt: skip
    title: str | None = Field(None, max_length=120, description="From the prompt when unset")
    duration_s: float = Field(ge=MIN_DURATION_S, le=MAX_DURATION_S, examples=[30])
    genre: GenreName = Field(DEFAULT_GENRE, description="One of GET /api/tracks/genres")
    key: str | None = Field(None, max_length=3, examples=["F#", "Bb"])
    mode: str | None = Field(None, max_length=12, examples=["minor", "dorian"])
    bpm: float | None = Field(None, ge=MIN_BPM, le=MAX_BPM)
    seed: int | None = Field(None, ge=0, le=MAX_SEED, description="Random when unset")
    style_strength: float = Field(
        0.5, ge=0.0, le=1.0,
        description="0: the prompt's words decide the feel; 1: the genre (and reference) do",
    )  # fmt: skip
    lyrics: str | None = Field(None, max_length=MAX_LYRICS_CHARS)
    has_vocals: bool = False
    reference_song_id: str | None = Field(
        None, max_length=64, description="An analysed song of yours (POST /api/songs)"
    )
    series_id: str | None = Field(None, max_length=64, description="Your default series if unset")

    @field_validator("key")
    @classmethod
    def _known_key(cls, value: str | None) -> str | None:
        if not value:
            return None
        try:
            parse_key(value)
        except TheoryError as error:
            raise ValueError(str(error)) from None
        return value[:1].upper() + value[1:].lower()

    @field_validator("mode")
    @classmethod
    def _known_mode(cls, value: str | None) -> str | None:
        if not value:
            return None
        try:
            parse_mode(value)
        except TheoryError as error:
            raise ValueError(str(error)) from None
        return value.lower()

    @field_validator("prompt", "title", "lyrics")
    @classmethod
    def _texts(cls, value: str | None, info: ValidationInfo) -> str | None:
        return _plain_text(value, info.field_name or "text") if value else None


class TrackAccepted(BaseModel):
    track_id: str
    job_id: str
    credits_required: int


class FileOut(BaseModel):
    kind: str
    name: str
    size: int
    url: str


class PublishRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    public: bool


class PublicTrackOut(BaseModel):
    """What anyone may see of a published track (nothing about its owner)."""

    id: str
    title: str
    prompt: str
    kind: str
    genre: str | None
    mood: str | None
    duration_s: float
    key: str | None
    mode: str | None
    bpm: float | None
    lyrics: str | None
    visual_version: int
    created_at: datetime
    files: list[FileOut]


class GenreOut(BaseModel):
    name: str
    description: str
    mood: str | None
    instruments: list[str]
    textures: list[str]
    bpm_range: tuple[float, float]


# -- series and style ------------------------------------------------------------------


def _check_hues(value: list[float]) -> list[float]:
    for hue in value:
        if not ANGLE_RANGE[0] <= hue <= ANGLE_RANGE[1]:
            raise ValueError(f"each hue must be between 0 and 360 degrees, not {hue:g}")
    return value


class Palette(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hues: list[float] = Field(min_length=HUES_COUNT[0], max_length=HUES_COUNT[1],
                              description="Degrees on the colour wheel, 0 to 360")  # fmt: skip
    luminance: float = Field(ge=LUMINANCE_RANGE[0], le=LUMINANCE_RANGE[1])
    saturation: float = Field(ge=SATURATION_RANGE[0], le=SATURATION_RANGE[1])

    @field_validator("hues")
    @classmethod
    def _hue_range(cls, value: list[float]) -> list[float]:
        return _check_hues(value)


class Geometry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stroke_width: float = Field(ge=STROKE_WIDTH_RANGE[0], le=STROKE_WIDTH_RANGE[1])
    rotation: float = Field(ge=ANGLE_RANGE[0], le=ANGLE_RANGE[1])
    gradient_angle: float = Field(ge=ANGLE_RANGE[0], le=ANGLE_RANGE[1])
    shape_count: int = Field(ge=SHAPE_COUNT_RANGE[0], le=SHAPE_COUNT_RANGE[1])


class PalettePatch(BaseModel):
    """Palette fields to change; the others keep their values."""

    model_config = ConfigDict(extra="forbid")

    hues: list[float] | None = Field(None, min_length=HUES_COUNT[0], max_length=HUES_COUNT[1])
    luminance: float | None = Field(None, ge=LUMINANCE_RANGE[0], le=LUMINANCE_RANGE[1])
    saturation: float | None = Field(None, ge=SATURATION_RANGE[0], le=SATURATION_RANGE[1])

    @field_validator("hues")
    @classmethod
    def _hue_range(cls, value: list[float] | None) -> list[float] | None:
        return _check_hues(value) if value is not None else None


class GeometryPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stroke_width: float | None = Field(None, ge=STROKE_WIDTH_RANGE[0], le=STROKE_WIDTH_RANGE[1])
    rotation: float | None = Field(None, ge=ANGLE_RANGE[0], le=ANGLE_RANGE[1])
    gradient_angle: float | None = Field(None, ge=ANGLE_RANGE[0], le=ANGLE_RANGE[1])
    shape_count: int | None = Field(None, ge=SHAPE_COUNT_RANGE[0], le=SHAPE_COUNT_RANGE[1])


class SeriesCreate(BaseModel):
    """A new series; palette and geometry are derived from your style seed when left out."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=80)
    motif: MotifName | None = Field(None, description="A motif you have unlocked")
    palette: Palette | None = None
    geometry: Geometry | None = None

    @field_validator("name")
    @classmethod
    def _name_text(cls, value: str) -> str:
        return _plain_text(value, "name")


class SeriesUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(None, min_length=1, max_length=80)
    motif: MotifName | None = None
    palette: PalettePatch | None = None
    geometry: GeometryPatch | None = None

    @field_validator("name")
    @classmethod
    def _name_text(cls, value: str | None) -> str | None:
        return _plain_text(value, "name") if value is not None else None


class SeriesOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    is_default: bool
    motif: str
    palette: Palette
    geometry: Geometry
    created_at: datetime
    track_count: int = 0
    preview_url: str = ""


class MotifOut(BaseModel):
    name: str
    threshold: int
    description: str
    unlocked: bool


class StyleOut(BaseModel):
    style_seed: int
    completed_tracks: int
    unlocks: list[str]
    motifs: list[MotifOut]
    next_unlock: MotifOut | None
    tracks_to_next_unlock: int | None
