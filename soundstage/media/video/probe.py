"""What is inside a media file, read with ffprobe."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from soundstage.media.video._ffmpeg import MediaError, frame_rate, run_probe


@dataclass(frozen=True)
class VideoStreamInfo:
    """The first real video stream (cover-art pictures attached to audio do not count)."""

    codec: str
    width: int
    height: int
    fps: float
    pix_fmt: str | None
    frames: int | None
    duration_s: float | None
    profile: str | None


@dataclass(frozen=True)
class AudioStreamInfo:
    """The first audio stream."""

    codec: str
    sample_rate: int
    channels: int
    duration_s: float | None
    bitrate: int | None


@dataclass(frozen=True)
class MediaInfo:
    """A container's duration and format, with its first video and audio streams."""

    duration_s: float
    format_name: str
    video: VideoStreamInfo | None
    audio: AudioStreamInfo | None
    size_bytes: int = 0


def probe(path: Path) -> MediaInfo:
    """Describe ``path``; MediaError if it is not media ffprobe can read."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such media file: {path}")
    try:
        raw = run_probe(
            ["-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)]
        )
        data = json.loads(raw)
    except (MediaError, json.JSONDecodeError) as exc:
        raise MediaError(f"{path.name} is not a media file ffprobe can read: {exc}") from exc
    fmt = data.get("format") or {}
    streams = data.get("streams") or []
    video = next((_video(s) for s in streams if _is_video(s)), None)
    audio = next((_audio(s) for s in streams if s.get("codec_type") == "audio"), None)
    if video is None and audio is None:
        raise MediaError(f"{path.name} has no audio or video stream")
    return MediaInfo(
        duration_s=_float(fmt.get("duration")) or 0.0,
        format_name=str(fmt.get("format_name", "")),
        video=video,
        audio=audio,
        size_bytes=path.stat().st_size,
    )


def _is_video(s: dict[str, Any]) -> bool:
    attached = (s.get("disposition") or {}).get("attached_pic") == 1
    return s.get("codec_type") == "video" and not attached


def _video(s: dict[str, Any]) -> VideoStreamInfo:
    fps = _rate(s.get("avg_frame_rate")) or _rate(s.get("r_frame_rate")) or 0.0
    return VideoStreamInfo(
        codec=str(s.get("codec_name", "")),
        width=int(s.get("width", 0)),
        height=int(s.get("height", 0)),
        fps=fps,
        pix_fmt=s.get("pix_fmt"),
        frames=_int(s.get("nb_frames")),
        duration_s=_float(s.get("duration")),
        profile=s.get("profile"),
    )


def _audio(s: dict[str, Any]) -> AudioStreamInfo:
    return AudioStreamInfo(
        codec=str(s.get("codec_name", "")),
        sample_rate=_int(s.get("sample_rate")) or 0,
        channels=int(s.get("channels", 0)),
        duration_s=_float(s.get("duration")),
        bitrate=_int(s.get("bit_rate")),
    )


def _rate(text: object) -> float | None:
    value = frame_rate(text)
    return float(value) if value is not None else None


def _float(text: object) -> float | None:
    try:
        return float(str(text))
    except ValueError:
        return None


def _int(text: object) -> int | None:
    try:
        return int(str(text))
    except ValueError:
        return None
