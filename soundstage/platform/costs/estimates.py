"""Cost estimates before a job starts: one estimator per job type, lines per provider and step.

    register_cost_estimator("ambient.generate", estimate_ambient)   # fn(settings, payload)
    estimate = estimate_job(settings, "ambient.generate", {"duration_s": 600})
    estimate.lines        # [CostLine(provider="embedded", step="music", usd=0, compute_s=15), ...]

Embedded engines cost no money; their lines carry the expected compute time,
from the measurements in docs/benchmarks.md and docs/visuals.md (2 cores), so
they are a rough guide, not a promise. Cloud lines ask the configured provider
(`estimate_cost`), which prices from settings (e.g. SOUNDSTAGE_REPLICATE_USD_PER_SECOND).
Estimators for the built-in job types are registered here; a workflow may
register its own (the latest registration wins).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from soundstage.config import Settings
from soundstage.platform.errors import AppError

MICRO = Decimal("0.000001")

# Rough speeds of the embedded engines (seconds of output per second of wall time).
MUSIC_X_REALTIME = 40.0  # arrangement, render, loudness, MP3 (10 min in ~15 s)
STEMS_X_REALTIME = 130.0  # one FLAC per layer on the second core
AMBIENT_VIDEO_X_REALTIME = 15.0  # the cover held over the audio, 1080p30
ANALYSIS_X_REALTIME = 10.0  # rhythm, key, structure, mood and note transcription
CLIP_WALL_S_PER_S = 0.35  # embedded visuals + x264 per second of 1080p30 clip
NORMALIZE_WALL_S_PER_S = 0.1  # rescaling a cloud clip and burning in captions
COMPOSE_X_REALTIME = 8.0  # concatenation and muxing of a music video
COVER_WALL_S = 1.0
MAX_CLIPS = 1000


def usd(value: float | Decimal | int) -> Decimal:
    """A dollar amount rounded to micro-dollars, as stored."""
    return Decimal(str(value)).quantize(MICRO, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class CostLine:
    """What one step on one provider costs (or is expected to cost)."""

    provider: str
    step: str
    usd: Decimal = Decimal(0)
    compute_s: float = 0.0
    units: float = 0.0
    unit: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "step": self.step,
            "usd": float(self.usd),
            "compute_s": round(self.compute_s, 3),
            "units": round(self.units, 3),
            "unit": self.unit,
        }


@dataclass(frozen=True)
class Estimate:
    job_type: str
    lines: tuple[CostLine, ...] = field(default_factory=tuple)

    @property
    def total_usd(self) -> Decimal:
        return usd(sum((line.usd for line in self.lines), Decimal(0)))

    @property
    def total_compute_s(self) -> float:
        return round(sum(line.compute_s for line in self.lines), 3)


class EstimateError(AppError):
    """The payload cannot be estimated; the message names the field to fix."""

    status = 422


CostEstimator = Callable[[Settings, Mapping[str, Any]], list[CostLine]]
_estimators: dict[str, CostEstimator] = {}


def register_cost_estimator(job_type: str, estimator: CostEstimator) -> None:
    """Register (or replace) how jobs of `job_type` are estimated from their payload."""
    if not job_type:
        raise ValueError("job type name is empty")
    _estimators[job_type] = estimator


def estimated_types() -> list[str]:
    return sorted(_estimators)


def estimate_job(
    settings: Settings, job_type: str, payload: Mapping[str, Any], *, required: bool = False
) -> Estimate:
    """The estimate of one job; a type without an estimator has no lines (EstimateError
    when `required`)."""
    estimator = _estimators.get(job_type)
    if estimator is None:
        if required:
            raise EstimateError(
                f"job_type: no cost estimate for {job_type!r}; "
                f"estimable types: {', '.join(estimated_types())}"
            )
        return Estimate(job_type)
    if not isinstance(payload, Mapping):
        raise EstimateError("payload: must be a JSON object")
    return Estimate(job_type, tuple(estimator(settings, payload)))


# --- payload helpers ------------------------------------------------------------------------


def _lookup(payload: Mapping[str, Any], key: str) -> Any:
    """`key` at the top level, else inside a nested "spec" (the ambient job payload)."""
    if key in payload:
        return payload[key]
    spec = payload.get("spec")
    return spec.get(key) if isinstance(spec, Mapping) else None


def seconds(payload: Mapping[str, Any], key: str, default: float, *, most: float) -> float:
    """A positive number of seconds from the payload (default when absent), at most `most`."""
    value = _lookup(payload, key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise EstimateError(f"payload.{key}: must be a number of seconds")
    if not 0 < value <= most:
        raise EstimateError(f"payload.{key}: must be more than 0 and at most {most:g} seconds")
    return float(value)


def flag(payload: Mapping[str, Any], key: str, default: bool) -> bool:
    value = _lookup(payload, key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise EstimateError(f"payload.{key}: must be true or false")
    return value


# --- built-in job types ---------------------------------------------------------------------


def embedded(step: str, compute_s: float, units: float = 0.0, unit: str = "") -> CostLine:
    return CostLine("embedded", step, Decimal(0), round(compute_s, 3), round(units, 3), unit)


def estimate_ambient_generate(settings: Settings, payload: Mapping[str, Any]) -> list[CostLine]:
    """Music, stems, cover and optional video: all embedded, so only compute time."""
    duration = seconds(payload, "duration_s", 180.0, most=settings.ambient_max_duration_s)
    lines = [embedded("music", duration / MUSIC_X_REALTIME, duration, "audio_second")]
    if flag(payload, "stems", True):
        lines.append(embedded("stems", duration / STEMS_X_REALTIME, duration, "audio_second"))
    lines.append(embedded("cover", COVER_WALL_S, 1, "image"))
    if flag(payload, "render_video", False):
        lines.append(embedded("video", duration / AMBIENT_VIDEO_X_REALTIME, duration, "second"))
    return lines


def estimate_ambient_render(settings: Settings, payload: Mapping[str, Any]) -> list[CostLine]:
    duration = seconds(payload, "duration_s", 180.0, most=settings.ambient_max_duration_s)
    return [embedded("video", duration / AMBIENT_VIDEO_X_REALTIME, duration, "second")]


def clip_lengths(settings: Settings, payload: Mapping[str, Any]) -> list[float]:
    """The clips' lengths: `clip_seconds` as given, else `duration_s` cut into clips of at
    most SOUNDSTAGE_VIDEO_CLIP_MAX_S."""
    given = payload.get("clip_seconds")
    if given is not None:
        if not isinstance(given, list) or not 1 <= len(given) <= MAX_CLIPS:
            raise EstimateError(
                f"payload.clip_seconds: must be a list of 1 to {MAX_CLIPS} clip lengths in seconds"
            )
        most = settings.video_clip_max_s * 2
        return [seconds({"s": s}, "s", 0.0, most=most) for s in given]
    duration = seconds(payload, "duration_s", 180.0, most=settings.video_max_song_duration_s)
    count = max(1, math.ceil(duration / settings.video_clip_max_s - 1e-9))
    return [duration / count] * count


def _clip_spec(settings: Settings, length_s: float) -> Any:
    from soundstage.media.visuals.spec import ClipSpec

    fps = settings.video_fps
    return ClipSpec(
        width=1920, height=1080, fps=fps, n_frames=max(1, round(length_s * fps)),
        start_s=0.0, template="flow", prompt="", seed=0,
    )  # fmt: skip


def estimate_video_clips(settings: Settings, lengths: list[float]) -> list[CostLine]:
    """The configured video provider's own estimate for every clip, as one line."""
    from soundstage import providers

    generator = providers.get("video", settings)
    try:
        records = [r for s in lengths for r in generator.estimate_cost(_clip_spec(settings, s))]
    finally:
        close = getattr(generator, "close", None)
        if close is not None:
            close()
    total_s = sum(lengths)
    price = usd(sum(r.cost_usd for r in records))
    units = sum(r.units for r in records)
    unit = records[0].unit if records else "second"
    if generator.name == "embedded":
        return [CostLine("embedded", "clips", price, total_s * CLIP_WALL_S_PER_S, units, unit)]
    normalize = embedded("normalize clips", total_s * NORMALIZE_WALL_S_PER_S, total_s, "second")
    return [CostLine(generator.name, "clips", price, 0.0, units, unit), normalize]


def estimate_music_video_generate(settings: Settings, payload: Mapping[str, Any]) -> list[CostLine]:
    """Clips on the configured provider, then the composition (embedded)."""
    lengths = clip_lengths(settings, payload)
    duration = sum(lengths)
    compose = embedded("compose", duration / COMPOSE_X_REALTIME, duration, "second")
    return [*estimate_video_clips(settings, lengths), compose]


def estimate_music_video_compose(settings: Settings, payload: Mapping[str, Any]) -> list[CostLine]:
    duration = seconds(payload, "duration_s", 180.0, most=settings.video_max_song_duration_s)
    return [embedded("compose", duration / COMPOSE_X_REALTIME, duration, "second")]


def estimate_songs_analyze(settings: Settings, payload: Mapping[str, Any]) -> list[CostLine]:
    """The embedded analysis, plus cloud transcription when configured and no lyrics given."""
    from soundstage import providers
    from soundstage.providers.openai import whisper_cost

    duration = seconds(payload, "duration_s", 180.0, most=settings.song_max_duration_s)
    lines = [embedded("analysis", duration / ANALYSIS_X_REALTIME, duration, "audio_second")]
    has_lyrics = bool(_lookup(payload, "lyrics"))
    available = providers.available("transcription", settings)
    if not has_lyrics and available and available[0] == "openai":
        record = whisper_cost(duration)
        lines.append(
            CostLine("openai", "lyrics", usd(record.cost_usd), 0.0, record.units, record.unit)
        )
    return lines


for _type, _estimator in {
    "ambient.generate": estimate_ambient_generate,
    "ambient.render": estimate_ambient_render,
    "music_video.generate": estimate_music_video_generate,
    "music_video.compose": estimate_music_video_compose,
    "songs.analyze": estimate_songs_analyze,
}.items():
    register_cost_estimator(_type, _estimator)
