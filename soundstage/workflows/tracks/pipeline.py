"""Track platform pipeline: the `tracks.generate` job and the file steps it is made of.

Steps, with their share of the progress bar: compose, render and master with the
embedded music engine (0–70 %, stages "composing", "rendering", "mastering"); a
preview clip cut from the most energetic part (to 74 %); the stems in one ZIP (to
78 %); the cover from the series style (to 82 %); tempo and key measured back by
the analysis engine (to 96 %); then every file is published to storage (in the
track's folder, `soundstage.workflows.ambient.pipeline.track_prefix`) and the track
row updated in one short transaction.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import time
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from soundstage.config import Settings
from soundstage.media.art import save_png
from soundstage.media.audio import EncodeTarget, encode_array, read_chunks, write_tags
from soundstage.media.music.engine import SAMPLE_RATE, MusicOutputs, MusicResult, render_music
from soundstage.media.music.theory import key_name, mode_quality, parse_key, parse_mode
from soundstage.platform.costs import CostLine, register_cost_estimator
from soundstage.platform.costs import estimates as est
from soundstage.platform.db import utcnow
from soundstage.platform.jobs import (
    TERMINAL_STATES,
    Job,
    JobCancelled,
    JobContext,
    JobInterrupted,
    JobState,
    add_transition_listener,
    register_job_type,
)
from soundstage.platform.jobs.registry import RENDER_QUEUE
from soundstage.platform.storage import Storage
from soundstage.workflows.ambient.models import Track, TrackStatus
from soundstage.workflows.ambient.pipeline import track_prefix
from soundstage.workflows.tracks.cover import render_cover
from soundstage.workflows.tracks.genres import TrackSpec
from soundstage.workflows.tracks.models import UNFINISHED, Series
from soundstage.workflows.tracks.schemas import MAX_DURATION_S
from soundstage.workflows.tracks.style import stable_seed

GENERATE_JOB = "tracks.generate"
ARTIST = "Soundstage"
ProgressFn = Callable[[float, str], None]  # (0..1 of the whole generation, stage)
FILE_NAMES = {"preview": "preview.mp3", "stems": "stems.zip"}  # besides the engine's files
PREVIEW_BLOCK_S = 0.5  # energy is measured per half second to find the loudest window
PREVIEW_FADE_IN_S, PREVIEW_FADE_OUT_S = 1.0, 2.5
TEMPO_TOLERANCE = 0.04  # measured tempo within 4 % of the asked one counts as a match
MUSIC_END, PREVIEW_END, STEMS_END, COVER_END, VERIFY_END = 70, 74, 78, 82, 96


def cover_name(version: int) -> str:
    return f"cover-v{version}.png"


# -- file steps (plain functions over paths) -------------------------------------------------


def loudest_window(path: Path, window_s: float, sample_rate: int = SAMPLE_RATE) -> float:
    """Start (seconds) of the `window_s` stretch with the most energy; streams the file."""
    block = int(sample_rate * PREVIEW_BLOCK_S)
    energy = [
        float(np.mean(np.square(chunk, dtype=np.float64)))
        for chunk in read_chunks(path, sample_rate, 2, chunk_frames=block)
    ]
    width = max(1, round(window_s / PREVIEW_BLOCK_S))
    if width >= len(energy):
        return 0.0
    sums = np.convolve(energy, np.ones(width), mode="valid")
    return float(int(np.argmax(sums)) * PREVIEW_BLOCK_S)


def read_segment(path: Path, start_s: float, length_s: float, sample_rate: int) -> np.ndarray:
    """Frames [start, start + length) of a file as float32 (frames, 2), reading in chunks."""
    first, count = round(start_s * sample_rate), round(length_s * sample_rate)
    parts, position = [], 0
    for chunk in read_chunks(path, sample_rate, 2, chunk_frames=sample_rate * 10):
        lo, hi = max(first, position), min(first + count, position + len(chunk))
        if lo < hi:
            parts.append(chunk[lo - position : hi - position])
        position += len(chunk)
        if position >= first + count:
            break
    return np.concatenate(parts) if parts else np.zeros((0, 2), dtype=np.float32)


def fade(audio: np.ndarray, sample_rate: int, fade_in_s: float, fade_out_s: float) -> np.ndarray:
    """Raised-cosine fade in and out (each at most a third of the clip)."""
    out = audio.astype(np.float32, copy=True)
    n = len(out)
    for seconds, at_start in ((fade_in_s, True), (fade_out_s, False)):
        k = min(n // 3, round(seconds * sample_rate))
        if k <= 0:
            continue
        ramp = (0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, k, dtype=np.float32)))[:, None]
        if at_start:
            out[:k] *= ramp
        else:
            out[n - k :] *= ramp[::-1]
    return out


def make_preview(
    master: Path, out: Path, preview_s: float, *, mp3_quality: int = 5
) -> dict[str, float]:
    """An MP3 clip of the most energetic `preview_s` seconds (the whole track if shorter)."""
    start = loudest_window(master, preview_s)
    clip = read_segment(master, start, preview_s, SAMPLE_RATE)
    clip = fade(clip, SAMPLE_RATE, PREVIEW_FADE_IN_S, PREVIEW_FADE_OUT_S)
    encode_array(clip, SAMPLE_RATE, EncodeTarget(out, "mp3", mp3_quality=mp3_quality))
    return {"start_s": round(start, 3), "duration_s": round(len(clip) / SAMPLE_RATE, 3)}


def zip_stems(stems: dict[str, Path], out: Path) -> Path:
    """Every stem in one ZIP (stored: FLAC is already compressed), written then renamed."""
    partial = out.with_name(out.name + ".part")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, path in sorted(stems.items()):
            zf.write(path, arcname=f"{name}.flac")
    partial.replace(out)
    return out


def cover_seed(track_id: str, visual_version: int) -> int:
    """The cover's seed: the track and its visual version (same version → same cover)."""
    return stable_seed("track-cover", track_id, visual_version)


def cover_png(series: Series, track_id: str, visual_version: int, size: int) -> bytes:
    """The track's cover as PNG bytes, from its series' style and its visual version."""
    seed = cover_seed(track_id, visual_version)
    image = render_cover(series.palette, series.geometry, series.motif, seed, size)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def store_cover(
    storage: Storage, settings: Settings, track: Track, series: Series
) -> dict[str, Any]:
    """Render and store the cover of the track's current visual version; its file entry."""
    data = cover_png(series, track.id, track.visual_version, settings.track_cover_size_px)
    name = cover_name(track.visual_version)
    key = track_prefix(track.owner_id, track.id) + name
    storage.put_bytes(key, data)
    return {"key": key, "size": len(data), "name": name}


def verify(
    asked_bpm: float, asked_key: str, asked_mode: str, measured: dict[str, Any]
) -> dict[str, Any]:
    """Asked vs heard: tempo within 4 % (half or double noted apart), same key and major/minor."""
    heard_bpm = float(measured.get("bpm") or 0.0)
    ratio = heard_bpm / asked_bpm if asked_bpm else 0.0
    heard_key, heard_mode = measured.get("key"), measured.get("mode")
    key_match = bool(heard_key) and parse_key(heard_key) == parse_key(asked_key)
    return {
        "asked": {"bpm": asked_bpm, "key": asked_key, "mode": mode_quality(parse_mode(asked_mode))},
        "measured": {"bpm": round(heard_bpm, 2), "key": heard_key, "mode": heard_mode},
        "bpm_confidence": measured.get("bpm_confidence"),
        "key_confidence": measured.get("key_confidence"),
        "tempo_match": abs(ratio - 1) <= TEMPO_TOLERANCE,
        "tempo_octave": any(abs(ratio - r) <= TEMPO_TOLERANCE * r for r in (0.5, 2.0)),
        "key_match": key_match and heard_mode == mode_quality(parse_mode(asked_mode)),
        "energy": measured.get("energy"),
        "loudness_lufs": measured.get("loudness_lufs"),
    }


@dataclass(frozen=True)
class CoverLook:
    """What a cover is drawn from: a series' style and the seed of one visual version."""

    palette: dict[str, Any]
    geometry: dict[str, Any]
    motif: str
    seed: int

    @classmethod
    def of(cls, series: Series, track_id: str, visual_version: int) -> CoverLook:
        return cls(series.palette, series.geometry, series.motif,
                   cover_seed(track_id, visual_version))  # fmt: skip


@dataclass
class TrackFiles:
    """Everything a generation wrote into its folder, and what was measured."""

    music: MusicResult
    files: dict[str, Path]  # mp3, wav, midi, preview, stems, cover
    preview: dict[str, float]
    measured: dict[str, Any]

    def verification(self, asked_key: str | None) -> dict[str, Any]:
        style = self.music.style
        return verify(style.bpm, asked_key or key_name(style.tonic), style.mode, self.measured)


def generate_track_files(
    spec: TrackSpec,
    look: CoverLook,
    out_dir: Path,
    *,
    title: str,
    soundfont: Path | None,
    work_dir: Path,
    mp3_quality: int = 5,
    preview_s: float = 30.0,
    cover_size: int = 1024,
    on_progress: ProgressFn | None = None,
) -> TrackFiles:
    """Render, master, cut the preview, zip the stems, draw the cover and measure tempo and
    key back, all into `out_dir`; used by the job (then published) and by the CLI."""
    progress = on_progress or (lambda fraction, stage: None)
    music = render_music(
        spec.music_request(), out_dir, soundfont=soundfont, work_dir=work_dir,
        outputs=MusicOutputs(formats=("mp3", "wav"), stems=True, midi=True,
                             target_lufs=spec.target_lufs, mp3_quality=mp3_quality),
        on_progress=lambda f, stage: progress(MUSIC_END / 100 * f, stage),
    )  # fmt: skip
    files = {"mp3": music.files["mp3"], "wav": music.files["wav"], "midi": music.files["midi"]}
    comment = (
        f"prompt: {spec.prompt} | genre: {spec.genre} | seed: {spec.seed} | made with Soundstage"
    )
    write_tags(files["mp3"], title=title, artist=ARTIST, album="Soundstage Tracks",
               comment=comment, year=utcnow().year)  # fmt: skip
    progress(MUSIC_END / 100, "preview clip")
    files["preview"] = out_dir / FILE_NAMES["preview"]
    preview = make_preview(files["wav"], files["preview"], preview_s, mp3_quality=mp3_quality)
    progress(PREVIEW_END / 100, "stems")
    files["stems"] = zip_stems(music.stems, out_dir / FILE_NAMES["stems"])
    progress(STEMS_END / 100, "cover art")
    files["cover"] = out_dir / cover_name(1)
    image = render_cover(look.palette, look.geometry, look.motif, look.seed, cover_size)
    save_png(image, files["cover"])
    progress(COVER_END / 100, "checking tempo and key")
    measured = _measure(files["wav"])
    progress(VERIFY_END / 100, "saving files")
    return TrackFiles(music, files, preview, measured)


# -- the job --------------------------------------------------------------------------------


def register_jobs() -> None:
    register_job_type(GENERATE_JOB, run_generate_job, queue=RENDER_QUEUE)
    add_transition_listener(sync_track_with_job)
    register_cost_estimator(GENERATE_JOB, estimate_track)


def estimate_track(settings: Settings, payload: Mapping[str, Any]) -> list[CostLine]:
    """All embedded, so no money: the compute time of music, stems, analysis and cover."""
    duration = est.seconds(payload, "duration_s", 30.0, most=MAX_DURATION_S)
    return [
        est.embedded("music", duration / est.MUSIC_X_REALTIME, duration, "audio_second"),
        est.embedded("stems", duration / est.STEMS_X_REALTIME, duration, "audio_second"),
        est.embedded("analysis", duration / est.ANALYSIS_X_REALTIME, duration, "audio_second"),
        est.embedded("cover", est.COVER_WALL_S, 1, "image"),
    ]


def run_generate_job(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    track_id = payload["track_id"]
    spec, series, title = _start(ctx, track_id)
    work = ctx.work_dir()
    started = time.perf_counter()
    try:
        made = generate_track_files(
            spec, CoverLook.of(series, track_id, 1), work / "out", title=title,
            soundfont=ctx.settings.resolved_soundfont(), work_dir=work / "tmp",
            mp3_quality=ctx.settings.mp3_quality, preview_s=ctx.settings.track_preview_s,
            cover_size=ctx.settings.track_cover_size_px, on_progress=_job_progress(ctx),
        )  # fmt: skip
        stored = _publish(ctx, track_id, made.files)
        _finish(ctx, track_id, made, stored, time.perf_counter() - started)
        return {"track_id": track_id, "files": sorted(stored)}
    except BaseException as error:
        _record_failure(ctx, track_id, error)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _start(ctx: JobContext, track_id: str) -> tuple[TrackSpec, Series, str]:
    with ctx.session() as session:
        track = session.get(Track, track_id)
        if track is None:
            raise JobCancelled("the track was deleted")
        series = session.get(Series, track.series_id) if track.series_id else None
        if series is None:  # its series was deleted while queued: the default takes over
            from soundstage.workflows.tracks.service import ensure_default_series

            series = ensure_default_series(session, track.owner_id)
            track.series_id = series.id
        track.status, track.error = TrackStatus.GENERATING, None
        spec, title = TrackSpec.from_dict(track.spec), track.title
        session.commit()
        session.expunge(series)
    return spec, series, title


def _job_progress(ctx: JobContext) -> ProgressFn:
    """The pipeline's (fraction, stage) onto the job's 0–100 %."""
    return lambda fraction, stage: ctx.progress(100 * min(1.0, max(0.0, fraction)), stage)


def _measure(master: Path) -> dict[str, Any]:
    from soundstage.media.analysis.analyze import reference_features  # heavy: imported per job

    return reference_features(master)


def _publish(ctx: JobContext, track_id: str, files: dict[str, Path]) -> dict[str, dict[str, Any]]:
    prefix = track_prefix(ctx.owner_id, track_id)
    stored: dict[str, dict[str, Any]] = {}
    for kind, path in files.items():
        size = path.stat().st_size
        ctx.storage.put_file(prefix + path.name, path, move=True)
        stored[kind] = {"key": prefix + path.name, "size": size, "name": path.name}
    return stored


def _finish(
    ctx: JobContext,
    track_id: str,
    made: TrackFiles,
    stored: dict[str, dict[str, Any]],
    elapsed_s: float,
) -> None:
    style, measured = made.music.style, made.measured
    with ctx.session() as session:
        track = session.get(Track, track_id)
        if track is None:  # deleted while its files were being saved
            ctx.storage.delete_prefix(track_prefix(ctx.owner_id, track_id))
            raise JobCancelled("the track was deleted")
        track.verification = made.verification(track.key)
        track.key = track.key or key_name(style.tonic)
        track.mode, track.bpm, track.mood = mode_quality(style.mode), style.bpm, style.mood
        track.style = {**made.music.summary()["style"], "preview": made.preview}
        track.measured_bpm = measured.get("bpm")
        track.measured_key, track.measured_mode = measured.get("key"), measured.get("mode")
        track.loudness_lufs = round(made.music.loudness.integrated_lufs, 2)
        track.true_peak_dbtp = round(made.music.loudness.true_peak_dbtp, 2)
        track.files = stored
        track.storage_bytes = sum(int(f["size"]) for f in stored.values())
        track.generation_s = round(elapsed_s, 3)
        track.status, track.error = TrackStatus.READY, None
        track.completed_at = utcnow()
        session.commit()


def _record_failure(ctx: JobContext, track_id: str, error: BaseException) -> None:
    if isinstance(error, JobInterrupted):  # back to the queue
        values: dict[str, Any] = {"status": TrackStatus.QUEUED, "error": None}
    elif isinstance(error, JobCancelled):
        values = {"status": TrackStatus.CANCELLED, "error": "cancelled"}
    else:
        values = {"status": TrackStatus.FAILED, "error": str(error) or type(error).__name__}
    with contextlib.suppress(JobCancelled):  # the track is gone: nothing to record
        _set_track(ctx, track_id, **values)


def _set_track(ctx: JobContext, track_id: str, **values: Any) -> None:
    with ctx.session() as session:
        track = session.get(Track, track_id)
        if track is None:
            raise JobCancelled("the track was deleted")
        for name, value in values.items():
            setattr(track, name, value)
        session.commit()


def sync_track_with_job(session, job: Job, from_state: str | None, to_state: str) -> None:
    """Keep a track's status in step with its job when the job moves without its handler
    (cancelled while queued, failed after a restart or by moderation, queued by a retry)."""
    if job.type != GENERATE_JOB:
        return
    track = session.get(Track, (job.payload or {}).get("track_id", ""))
    if track is None:
        return
    if to_state == JobState.QUEUED and from_state == JobState.FAILED:
        track.status, track.error = TrackStatus.QUEUED, None
    elif to_state in TERMINAL_STATES - {JobState.COMPLETED} and track.status in UNFINISHED:
        failed = to_state != JobState.CANCELLED
        track.status = TrackStatus.FAILED if failed else TrackStatus.CANCELLED
        track.error = job.error or to_state
