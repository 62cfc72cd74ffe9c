"""Ambient studio pipeline: the named steps of a generation and of a video render.

`generate_files` and `render_video_file` are plain functions over folders, used
alike by the CLI (straight into --out) and by the job handlers below (into a work
folder, then published to storage so a crash never leaves half a file behind a
finished record).
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from soundstage.media.art import CoverStyle, render_cover, save_png
from soundstage.media.audio.tags import write_tags
from soundstage.media.music.engine import MusicOutputs, MusicRequest, MusicResult, render_music
from soundstage.media.video import render_still_video
from soundstage.platform.db import utcnow
from soundstage.platform.jobs import (
    Job,
    JobCancelled,
    JobContext,
    JobInterrupted,
    JobState,
    add_transition_listener,
    register_job_type,
)
from soundstage.platform.jobs.registry import RENDER_QUEUE
from soundstage.workflows.ambient.models import Track, TrackStatus, VideoStatus

ProgressFn = Callable[[float, str], None]  # (0..1, stage)
ARTIST = "Soundstage"

# Share of the progress bar per step of a generation (video only when asked).
MUSIC_SHARE, COVER_SHARE = 0.86, 0.04


@dataclass(frozen=True)
class AmbientSpec:
    """Everything one ambient generation needs; built from the API request or the CLI."""

    prompt: str
    duration_s: float
    seed: int
    key: str | None = None
    mode: str | None = None
    bpm: float | None = None
    mood: str | None = None
    instruments: tuple[str, ...] | None = None
    title: str | None = None
    render_video: bool = False
    stems: bool = True
    formats: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AmbientSpec:
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        for name in ("instruments", "formats"):
            if fields.get(name) is not None:
                fields[name] = tuple(fields[name])
        return cls(**fields)

    def music_request(self) -> MusicRequest:
        return MusicRequest(
            self.prompt, self.duration_s, self.seed, self.key, self.mode, self.bpm, self.mood,
            self.instruments,
        )  # fmt: skip

    @property
    def display_title(self) -> str:
        return self.title or title_from_prompt(self.prompt)


@dataclass
class GenerationResult:
    music: MusicResult
    files: dict[str, Path]  # kind → path: mp3, m4a, wav, flac, midi, cover, video
    stems: dict[str, Path]
    timings: dict[str, float] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        loudness = self.music.loudness
        return {
            "files": {kind: str(path) for kind, path in self.files.items()},
            "stems": {name: str(path) for name, path in self.stems.items()},
            "integrated_lufs": round(loudness.integrated_lufs, 2),
            "true_peak_dbtp": round(loudness.true_peak_dbtp, 2),
            "duration_s": round(loudness.duration_s, 3),
            **{k: v for k, v in self.music.summary().items() if k != "loudness"},
            "timings_s": {k: round(v, 3) for k, v in self.timings.items()},
        }


def title_from_prompt(prompt: str) -> str:
    words = re.sub(r"\s+", " ", prompt).strip().split(" ")
    title = " ".join(words[:8])
    return (title[:1].upper() + title[1:])[:120] or "Untitled"


def generate_files(
    spec: AmbientSpec,
    out_dir: Path,
    *,
    soundfont: Path | None,
    work_dir: Path,
    mp3_quality: int = 5,
    on_progress: ProgressFn | None = None,
) -> GenerationResult:
    """Music, stems, MIDI, cover and (when asked) the video, written into `out_dir`."""
    progress = on_progress or (lambda fraction, stage: None)
    video_share = 1 - MUSIC_SHARE - COVER_SHARE if spec.render_video else 0.0
    music_scale = 1 - COVER_SHARE - video_share
    timings: dict[str, float] = {}

    started = time.perf_counter()
    formats = ("mp3", *spec.formats, *(("aac",) if spec.render_video else ()))
    music = render_music(
        spec.music_request(),
        out_dir,
        soundfont=soundfont,
        work_dir=work_dir,
        outputs=MusicOutputs(formats=formats, stems=spec.stems, mp3_quality=mp3_quality),
        on_progress=lambda f, stage: progress(music_scale * f, stage),
    )
    timings["music"] = time.perf_counter() - started
    files = {("m4a" if k == "aac" else k): v for k, v in music.files.items()}

    started = time.perf_counter()
    progress(music_scale, "cover art")
    files["cover"] = make_cover(spec, music, out_dir / "cover.png")
    tag_audio(spec, files)
    timings["cover"] = time.perf_counter() - started

    if spec.render_video:
        started = time.perf_counter()
        files["video"] = render_video_file(
            files["cover"], files["m4a"], out_dir / "video.mp4", work_dir,
            lambda f: progress(music_scale + COVER_SHARE + video_share * f, "rendering video"),
        )  # fmt: skip
        timings["video"] = time.perf_counter() - started
    progress(1.0, "done")
    return GenerationResult(music, files, music.stems, timings)


def make_cover(spec: AmbientSpec, music: MusicResult, path: Path) -> Path:
    style = music.style
    warmth = {"warm": 0.8, "nostalgic": 0.7, "cold": 0.15, "dark": 0.3}.get(style.mood, 0.5)
    cover_style = CoverStyle(style.mood, style.brightness, warmth, style.density)
    save_png(render_cover(spec.prompt, spec.seed, cover_style, title=spec.title), path)
    return path


def tag_audio(spec: AmbientSpec, files: dict[str, Path]) -> None:
    comment = f"prompt: {spec.prompt} | seed: {spec.seed} | made with Soundstage"
    for kind in ("mp3", "m4a", "flac"):
        if kind in files:
            write_tags(
                files[kind], title=spec.display_title, artist=ARTIST, album="Soundstage Ambient",
                comment=comment, year=utcnow().year, cover_png=files.get("cover"),
            )  # fmt: skip


def render_video_file(
    cover: Path, audio: Path, out: Path, work_dir: Path, on_progress: Callable[[float], None]
) -> Path:
    work_dir.mkdir(parents=True, exist_ok=True)
    render_still_video(cover, audio, out, work_dir=work_dir, on_progress=on_progress)
    return out


# ----------------------------------------------------------------------------- jobs

GENERATE_JOB = "ambient.generate"
RENDER_JOB = "ambient.render"
FILE_NAMES = {
    "mp3": "track.mp3", "m4a": "track.m4a", "wav": "track.wav", "flac": "track.flac",
    "midi": "track.mid", "cover": "cover.png", "video": "video.mp4",
}  # fmt: skip


def track_prefix(owner_id: str, track_id: str) -> str:
    return f"users/{owner_id}/tracks/{track_id}/"


def register_jobs() -> None:
    register_job_type(GENERATE_JOB, run_generate_job, queue=RENDER_QUEUE)
    register_job_type(RENDER_JOB, run_render_job, queue=RENDER_QUEUE)
    add_transition_listener(mark_ended_before_start)


def mark_ended_before_start(
    session: Session, job: Job, from_state: str | None, to_state: str
) -> None:
    """A job cancelled while queued, or refused by moderation, never runs its handler:
    record the outcome on the track here, in the same transaction."""
    refused = to_state == JobState.MODERATION_FAILED
    if not refused and (to_state != JobState.CANCELLED or from_state != JobState.QUEUED):
        return
    error = (job.error or "refused by content moderation") if refused else "cancelled"
    if job.type == GENERATE_JOB:
        status = TrackStatus.FAILED if refused else TrackStatus.CANCELLED
        values: dict[str, Any] = {"status": status, "error": error}
        column = Track.generate_job_id
    elif job.type == RENDER_JOB:
        values = {"video_status": VideoStatus.FAILED if refused else VideoStatus.NONE}
        column = Track.render_job_id
    else:
        return
    session.execute(update(Track).where(column == job.id).values(**values))


def run_generate_job(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    track_id = payload["track_id"]
    spec = AmbientSpec.from_dict(payload["spec"])
    _set_track(ctx, track_id, status=TrackStatus.GENERATING, error=None)
    work = ctx.work_dir()
    try:
        result = generate_files(
            spec, work / "out", soundfont=ctx.settings.resolved_soundfont(), work_dir=work / "tmp",
            mp3_quality=ctx.settings.mp3_quality, on_progress=ctx.reporter(),
        )  # fmt: skip
        ctx.progress(99, "saving files")
        stored = _publish(ctx, track_id, result)
        _finish_generation(ctx, track_id, spec, result, stored)
        return {"track_id": track_id, "files": sorted(stored)}
    except BaseException as error:
        _record_failure(ctx, track_id, error, video=False)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_render_job(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    track_id = payload["track_id"]
    _set_track(ctx, track_id, video_status=VideoStatus.RENDERING, error=None)
    work = ctx.work_dir()
    try:
        with ctx.session() as session:
            track = session.get(Track, track_id)
            files = dict(track.files)
        audio_kind = "m4a" if "m4a" in files else "mp3"
        cover = ctx.fetch(files["cover"]["key"], work / "cover.png")
        audio = ctx.fetch(files[audio_kind]["key"], work / FILE_NAMES[audio_kind])
        started = time.perf_counter()
        ctx.progress(1, "rendering video")
        out = render_video_file(
            cover, audio, work / "video.mp4", work / "tmp",
            lambda f: ctx.progress(1 + 97 * f, "rendering video"),
        )  # fmt: skip
        elapsed = time.perf_counter() - started
        ctx.progress(99, "saving files")
        entry = _store(ctx, track_id, "video", out)
        with ctx.session() as session:
            track = session.get(Track, track_id)
            if track is None:  # deleted while the video was being saved
                ctx.storage.delete(entry["key"])
                raise JobCancelled("the track was deleted")
            track.files = {**track.files, "video": entry}
            track.storage_bytes = sum(f["size"] for f in track.files.values())
            track.video_status = VideoStatus.READY
            track.render_s = elapsed
            session.commit()
        return {"track_id": track_id, "video": entry["key"]}
    except BaseException as error:
        _record_failure(ctx, track_id, error, video=True)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _store(ctx: JobContext, track_id: str, kind: str, path: Path, name: str | None = None) -> dict:
    name = name or FILE_NAMES[kind]
    key = track_prefix(ctx.owner_id, track_id) + name
    size = path.stat().st_size
    ctx.storage.put_file(key, path, move=True)
    return {"key": key, "size": size, "name": name}


def _publish(ctx: JobContext, track_id: str, result: GenerationResult) -> dict[str, dict]:
    stored = {kind: _store(ctx, track_id, kind, path) for kind, path in result.files.items()}
    for name, path in result.stems.items():
        stored[f"stem:{name}"] = _store(ctx, track_id, "stem", path, f"stems/{name}.flac")
    return stored


def _finish_generation(
    ctx, track_id: str, spec: AmbientSpec, result: GenerationResult, stored
) -> None:
    summary = result.music.summary()
    with ctx.session() as session:
        track = session.get(Track, track_id)
        if track is None:  # deleted while its files were being saved
            ctx.storage.delete_prefix(track_prefix(ctx.owner_id, track_id))
            raise JobCancelled("the track was deleted")
        track.files = stored
        track.storage_bytes = sum(f["size"] for f in stored.values())
        track.style = summary["style"]
        track.key, track.mode, track.bpm = summary["key"], summary["mode"], summary["bpm"]
        track.mood = summary["style"]["mood"]
        track.loudness_lufs = result.music.loudness.integrated_lufs
        track.true_peak_dbtp = result.music.loudness.true_peak_dbtp
        track.generation_s = result.timings.get("music", 0) + result.timings.get("cover", 0)
        if spec.render_video:
            track.render_s = result.timings.get("video")
            track.video_status = VideoStatus.READY
        track.status = TrackStatus.READY
        track.completed_at = utcnow()
        session.commit()


def _record_failure(ctx: JobContext, track_id: str, error: BaseException, *, video: bool) -> None:
    if isinstance(error, JobInterrupted):  # the job goes back to the queue
        status = (VideoStatus.QUEUED if video else TrackStatus.QUEUED), None
    elif isinstance(error, JobCancelled):
        status = (VideoStatus.NONE if video else TrackStatus.CANCELLED), "cancelled"
    else:
        status = (
            (VideoStatus.FAILED if video else TrackStatus.FAILED),
            str(error) or type(error).__name__,
        )
    field_name = "video_status" if video else "status"
    _set_track(ctx, track_id, **{field_name: status[0], "error": status[1]})


def _set_track(ctx: JobContext, track_id: str, **values: Any) -> None:
    with ctx.session() as session:
        track = session.get(Track, track_id)
        if track is None:
            raise JobCancelled("the track was deleted")
        for name, value in values.items():
            setattr(track, name, value)
        session.commit()
