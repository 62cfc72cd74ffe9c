"""Music video pipeline: clip specs from the analysis, parallel clip generation, composition.

The pieces (`clip_spec`, `render_clips`, `compose_files`) know nothing of the
database, so `soundstage video` runs them straight into a folder; the job
handlers below wrap them with rows, storage and progress:

- `music_video.generate`: the clips still missing (or the ones being regenerated),
  in parallel, rate limited by the provider; then composition. Progress 0–80 %
  for clips, 80–100 % for composition at milestones (seed 001). The clips run on
  threads of the job, or, scaled out (`video_clip_jobs`), as `music_video.clip`
  child jobs that any render worker takes; the generate job waits for them and
  then composes (fan-out and fan-in, `JobContext.fan_out`).
- `music_video.clip`: one clip, rendered and stored.
- `music_video.compose`: composition alone.

A re-run after a crash skips clips this job already finished, and every file is
published atomically under a name that includes its seed, so nothing is
duplicated or half-written.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from soundstage.config import Settings
from soundstage.platform.jobs import (
    JobCancelled,
    JobContext,
    JobInterrupted,
    JobState,
    add_transition_listener,
    register_job_type,
)
from soundstage.platform.jobs.registry import RENDER_QUEUE

if TYPE_CHECKING:
    from soundstage.media.visuals.spec import ClipSpec
    from soundstage.providers.base import CostRecord

GENERATE_JOB = "music_video.generate"
CLIP_JOB = "music_video.clip"
COMPOSE_JOB = "music_video.compose"
CLIP_SHARE = 80.0  # % of a generate job's progress spent on clips; composition takes the rest

Progress = Callable[[float, str], None]


def video_prefix(video: Any) -> str:
    """A video's files live in its song's folder, so deleting the song deletes them too."""
    from soundstage.workflows.songs.pipeline import song_prefix

    return f"{song_prefix(video.owner_id, video.song_id)}videos/{video.id}/"


def register_jobs() -> None:
    register_job_type(GENERATE_JOB, run_generate_job, queue=RENDER_QUEUE)
    register_job_type(CLIP_JOB, run_clip_job, queue=RENDER_QUEUE)
    register_job_type(COMPOSE_JOB, run_compose_job, queue=RENDER_QUEUE)
    add_transition_listener(mark_ended_before_start)


def mark_ended_before_start(session, job, from_state: str | None, to_state: str) -> None:
    """A generation cancelled while queued, or refused by moderation, never runs its handler:
    the video goes back to its last composed version, or fails when it has none. One
    cancelled while it waits for its clip jobs also gives back its clips and regeneration."""
    if job.type not in (GENERATE_JOB, COMPOSE_JOB):
        return
    if to_state == JobState.CANCELLED and from_state == JobState.WAITING:
        _restore_after_failure(session, job.payload["video_id"], job.payload, None)
        return
    refused = to_state == JobState.MODERATION_FAILED
    if not (refused or (to_state == JobState.CANCELLED and from_state == JobState.QUEUED)):
        return
    from sqlalchemy import select

    from soundstage.workflows.music_video.models import MusicVideo, VideoStatus

    error = (job.error or "refused by content moderation") if refused else "cancelled"
    for video in session.scalars(select(MusicVideo).where(MusicVideo.job_id == job.id)):
        video.status = VideoStatus.READY if video.version > 0 else VideoStatus.FAILED
        video.error = error


# --- pure pieces ----------------------------------------------------------------------------


def clip_spec(
    analysis: dict[str, Any],
    *,
    start_frame: int,
    n_frames: int,
    fps: int,
    width: int,
    height: int,
    template: str,
    prompt: str,
    seed: int,
    section_label: str = "",
    first_in_section: bool = False,
    captions: bool = True,
) -> ClipSpec:
    """The spec of one clip: its beats, energy and lyric lines, relative to its first frame."""
    import numpy as np

    from soundstage.media.visuals.spec import Caption, ClipSpec

    t0 = start_frame / fps
    t1 = (start_frame + n_frames) / fps
    curve = np.asarray(analysis.get("energy_curve") or [0.5], dtype=float)
    hz = float(analysis.get("energy_curve_hz") or 10.0)
    times = (start_frame + np.arange(n_frames)) / fps
    energy = np.interp(times * hz, np.arange(len(curve)), curve)
    beats = [b - t0 for b in analysis.get("beats") or [] if t0 <= b < t1]
    downbeats = [b - t0 for b in analysis.get("downbeats") or [] if t0 <= b < t1]
    lines = analysis.get("lyrics") or [] if captions else []
    clip_captions = tuple(
        Caption(round(max(0.0, ln["start"] - t0), 3), round(min(t1, ln["end"]) - t0, 3), ln["text"])
        for ln in lines
        if ln["end"] > t0 and ln["start"] < t1 and ln.get("text", "").strip()
    )
    return ClipSpec(
        width=width, height=height, fps=fps, n_frames=n_frames, start_s=t0,
        template=template, prompt=prompt, seed=seed,
        mood=str(analysis.get("mood_primary") or "calm"),
        mood_vector=dict(analysis.get("mood_vector") or {}),
        energy=tuple(round(float(e), 4) for e in np.clip(energy, 0.0, 1.0)),
        beats=tuple(round(b, 4) for b in beats), downbeats=tuple(round(b, 4) for b in downbeats),
        captions=clip_captions, section_label=section_label, first_in_section=first_in_section,
    )  # fmt: skip


@dataclass
class RenderedClip:
    path: Path
    provider: str
    costs: list[CostRecord] = field(default_factory=list)
    compute_s: float = 0.0

    @property
    def cost_usd(self) -> float:
        return round(sum(c.cost_usd for c in self.costs), 6)


class ClipFailed(RuntimeError):
    def __init__(self, key: str, error: BaseException) -> None:
        super().__init__(f"clip {key}: {error}")
        self.key, self.error = key, error


def render_one(generator: Any, spec: ClipSpec, out: Path, on_progress: Callable[[float], None]):
    """One clip from `generator`, conformed to the spec (size, fps, frames, captions)."""
    started = time.perf_counter()
    if generator.name == "embedded":
        costs = generator.generate_clip(spec, out, on_progress=on_progress)
    else:  # cloud clips come in any shape: normalise them (and burn the captions in)
        from soundstage.media.video.captions import write_ass
        from soundstage.media.video.compose import normalize_clip

        raw = out.with_name(out.stem + ".raw.mp4")
        costs = generator.generate_clip(spec, raw, on_progress=lambda f: on_progress(0.9 * f))
        ass = write_ass(spec.captions, spec.width, spec.height, out.with_suffix(".ass"))
        normalize_clip(
            raw, out, width=spec.width, height=spec.height, fps=spec.fps,
            n_frames=spec.n_frames, captions_ass=ass if spec.captions else None,
        )  # fmt: skip
        raw.unlink(missing_ok=True)
    on_progress(1.0)
    return RenderedClip(out, generator.name, list(costs), time.perf_counter() - started)


def render_clips(
    specs: dict[str, ClipSpec],
    generator: Any,
    out_dir: Path,
    *,
    workers: int,
    on_progress: Callable[[float], None] | None = None,
    on_done: Callable[[str, RenderedClip], None] | None = None,
    cancel: threading.Event | None = None,
) -> dict[str, RenderedClip]:
    """Render clips `key → spec` in parallel into `out_dir` (as `<key>.mp4`).

    `on_progress(fraction)` and `on_done(key, clip)` run on the calling thread, so
    they may write to the database or raise to cancel. A failed clip raises
    ClipFailed after the clips already started have stopped.
    """
    cancel = cancel or threading.Event()
    fractions = dict.fromkeys(specs, 0.0)
    weights = {k: s.n_frames for k, s in specs.items()}
    total = max(1, sum(weights.values()))

    def worker(key: str, spec: ClipSpec) -> RenderedClip:
        def report(fraction: float) -> None:
            if cancel.is_set():
                raise JobCancelled("clip generation stopped")
            fractions[key] = fraction

        return render_one(generator, spec, out_dir / f"{key}.mp4", report)

    done: dict[str, RenderedClip] = {}
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="clip") as pool:
        futures: dict[Future[RenderedClip], str] = {
            pool.submit(worker, key, spec): key for key, spec in specs.items()
        }
        pending = set(futures)
        try:
            while pending:
                finished, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                for future in finished:
                    key = futures[future]
                    try:
                        done[key] = future.result()
                    except BaseException as error:
                        raise ClipFailed(key, error) from error
                    if on_done is not None:
                        on_done(key, done[key])
                if on_progress is not None:
                    on_progress(sum(fractions[k] * weights[k] for k in specs) / total)
        except BaseException:
            cancel.set()
            for future in pending:
                future.cancel()
            raise
    return done


@dataclass(frozen=True)
class ComposedFiles:
    video: Path
    poster: Path
    captions: Path | None
    duration_s: float


def poster_time(analysis: dict[str, Any], sections: Sequence[tuple[float, float, str]]) -> float:
    """Halfway between two beats inside the first chorus (else a third into the song)."""
    duration = float(analysis.get("duration_s") or 0.0)
    chorus = next((s for s in sections if s[2].lower().startswith("chorus")), None)
    at = 0.5 * (chorus[0] + chorus[1]) if chorus else duration / 3
    beats = [b for b in analysis.get("beats") or [] if b >= at]
    if len(beats) >= 2:
        at = 0.5 * (beats[0] + beats[1])
    return min(max(0.0, at), max(0.0, duration - 0.1))


def compose_files(
    clips: Sequence[Path],
    song: Path,
    out_dir: Path,
    *,
    fps: int,
    lyrics: Sequence[dict[str, Any]] = (),
    poster_at: float = 0.0,
    on_progress: Callable[[float], None] | None = None,
) -> ComposedFiles:
    """Concatenate the clips, mux the song, write the poster frame and WebVTT lyrics."""
    from soundstage.media.video.compose import compose_video, write_webvtt
    from soundstage.media.visuals.spec import Caption

    video = out_dir / "video.mp4"
    poster = out_dir / "poster.jpg"
    # Captions are burned into the clips; the WebVTT copy is for players that highlight lines.
    result = compose_video(
        list(clips), song, video, fps=fps, poster=poster, poster_at_s=poster_at,
        on_progress=on_progress,
    )  # fmt: skip
    captions = None
    if lyrics:
        captions = write_webvtt(
            [Caption(ln["start"], ln["end"], ln["text"]) for ln in lyrics], out_dir / "lyrics.vtt"
        )
    return ComposedFiles(video, poster, captions, float(result.duration_s))


def video_generator(settings: Settings) -> Any:
    """The configured video provider (embedded unless a cloud one is configured or chosen)."""
    from soundstage import providers

    return providers.get("video", settings)


# --- job handlers ---------------------------------------------------------------------------


def run_generate_job(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Generate the clips still missing (or the ones asked to regenerate), then compose.

    Fanned out, the first run queues one clip job per clip and parks; the run after the
    last clip job ended finds them finished (or fails with the first clip's error)."""
    video_id = payload["video_id"]
    work = ctx.work_dir()
    try:
        children = ctx.children()
        _raise_for_failed_clips(children)
        done_by = {child.id for child in children}
        specs, plan = _prepare_clips(ctx, video_id, payload.get("clip_ids"), done_by)
        ctx.progress(1, f"generating {len(specs)} clip(s)")
        if not children and clips_as_jobs(ctx.settings, len(specs)):
            clip_jobs = [{"video_id": video_id, "clip_id": clip_id} for clip_id in specs]
            ctx.fan_out(CLIP_JOB, clip_jobs, label="clips", progress_to=CLIP_SHARE)
        generated = len(children) + _generate(ctx, video_id, specs, plan, work)
        result: dict[str, Any] = {"video_id": video_id, "clips_generated": generated}
        if payload.get("compose", True):
            result.update(_compose(ctx, video_id, work, start=CLIP_SHARE))
        return result
    except BaseException as error:
        _record_failure(ctx, video_id, error)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def clips_as_jobs(settings: Settings, n_clips: int) -> bool:
    """Whether a generation runs its clips as child jobs (fan-out) rather than threads."""
    mode = settings.video_clip_jobs
    return n_clips > 1 and (mode == "always" or (mode == "auto" and bool(settings.broker_url)))


def _raise_for_failed_clips(children: list[Any]) -> None:
    """A clip job that did not complete fails the generation with its reason."""
    for child in children:
        if child.state != JobState.COMPLETED:
            reason = child.error or child.state
            raise RuntimeError(f"clip job {child.id} {child.state}: {reason}")


def run_clip_job(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """One clip of a fanned-out generation: render it and store it (a re-run overwrites the
    same key, so nothing is duplicated)."""
    video_id, clip_id = payload["video_id"], payload["clip_id"]
    work = ctx.work_dir()
    try:
        spec, plan = _clip_spec_of(ctx, video_id, clip_id)
        generator = ctx.watch_costs(video_generator(ctx.settings), step="clips")
        ctx.progress(1, "rendering the clip")
        rendered = render_one(
            generator,
            spec,
            work / f"{clip_id}.mp4",
            lambda f: ctx.progress(1 + 97 * f, "rendering the clip"),
        )
        key = _store_clip(ctx, plan, clip_id, rendered)
        return {"video_id": video_id, "clip_id": clip_id, "file_key": key}
    except BaseException as error:
        _mark_clip_failed(ctx, clip_id, error)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_compose_job(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    video_id = payload["video_id"]
    work = ctx.work_dir()
    try:
        return {"video_id": video_id, **_compose(ctx, video_id, work, start=0.0)}
    except BaseException as error:
        _record_failure(ctx, video_id, error)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


@dataclass(frozen=True)
class _ClipPlan:
    seeds: dict[str, int]
    prefix: str


def _load(session: Any, video_id: str):
    from soundstage.workflows.music_video.models import MusicVideo
    from soundstage.workflows.songs.models import Song, SongAnalysis

    video = session.get(MusicVideo, video_id)
    if video is None:
        raise JobCancelled("the video was deleted")
    song = session.get(Song, video.song_id)
    analysis = session.get(SongAnalysis, video.song_id)
    if song is None or analysis is None:
        raise JobCancelled("the song or its analysis was deleted")
    return video, song, analysis.result


def _spec_of(video: Any, clip: Any, section: Any, analysis: dict[str, Any]) -> ClipSpec:
    from soundstage.workflows.music_video import service

    return clip_spec(
        analysis, start_frame=clip.start_frame, n_frames=clip.n_frames, fps=clip.fps,
        width=video.width, height=video.height, template=video.video_type,
        prompt=clip.prompt, seed=service.clip_seed(video.seed, clip, section),
        section_label=section.label, first_in_section=clip.index_in_section == 0,
        captions=video.captions,
    )  # fmt: skip


def _prepare_clips(
    ctx: JobContext, video_id: str, clip_ids: list[str] | None, done_by: set[str]
) -> tuple[dict[str, ClipSpec], _ClipPlan]:
    """Specs of the clips to make now; marks them generating. Skips what this job (or its
    clip jobs, `done_by`) finished."""
    from soundstage.workflows.music_video import service
    from soundstage.workflows.music_video.models import ClipStatus, VideoStatus

    finishers = {ctx.job_id, *done_by}
    with ctx.session() as session:
        video, _song, analysis = _load(session, video_id)
        sections = {s.id: s for s in service.sections_of(session, video.song_id)}
        specs: dict[str, ClipSpec] = {}
        for clip in service.clips_of(session, video.song_id):
            finished_here = clip.status == ClipStatus.COMPLETED and clip.job_id in finishers
            wanted = clip.id in clip_ids if clip_ids else clip.status != ClipStatus.COMPLETED
            if not wanted or finished_here:
                continue
            specs[clip.id] = _spec_of(video, clip, sections[clip.section_id], analysis)
            clip.status, clip.error = ClipStatus.GENERATING, None
        video.status, video.error = VideoStatus.GENERATING, None
        session.commit()
        return specs, _ClipPlan({k: spec.seed for k, spec in specs.items()}, video_prefix(video))


def _clip_spec_of(ctx: JobContext, video_id: str, clip_id: str) -> tuple[ClipSpec, _ClipPlan]:
    """The spec of one clip of a fanned-out generation (the generate job marked it)."""
    from soundstage.workflows.music_video.models import VideoClip, VideoSection

    with ctx.session() as session:
        video, _song, analysis = _load(session, video_id)
        clip = session.get(VideoClip, clip_id)
        section = session.get(VideoSection, clip.section_id) if clip is not None else None
        if clip is None or section is None:
            raise JobCancelled("the clip was deleted")
        spec = _spec_of(video, clip, section, analysis)
        return spec, _ClipPlan({clip_id: spec.seed}, video_prefix(video))


def _generate(
    ctx: JobContext, video_id: str, specs: dict[str, ClipSpec], plan: _ClipPlan, work: Path
) -> int:
    if not specs:
        return 0

    generator = ctx.watch_costs(video_generator(ctx.settings), step="clips")
    total = len(specs)
    finished = 0

    def store(clip_id: str, clip: RenderedClip) -> None:
        nonlocal finished
        _store_clip(ctx, plan, clip_id, clip)
        finished += 1

    def progress(fraction: float) -> None:
        ctx.progress(1 + (CLIP_SHARE - 1) * fraction, f"generating clips ({finished} of {total})")

    try:
        render_clips(
            specs, generator, work, workers=ctx.settings.video_clip_workers,
            on_progress=progress, on_done=store,
        )  # fmt: skip
    except ClipFailed as failure:
        _mark_clip_failed(ctx, failure.key, failure.error)
        if isinstance(failure.error, JobCancelled | JobInterrupted):
            raise failure.error from None
        raise
    return total


def _store_clip(ctx: JobContext, plan: _ClipPlan, clip_id: str, clip: RenderedClip) -> str:
    """Publish a rendered clip under a key named by its seed and point its row at it."""
    from soundstage.workflows.music_video.models import ClipStatus, VideoClip

    key = f"{plan.prefix}clips/{clip_id}-{plan.seeds[clip_id]}.mp4"
    size = clip.path.stat().st_size
    ctx.storage.put_file(key, clip.path, move=True)
    with ctx.session() as session:
        row = session.get(VideoClip, clip_id)
        if row is None:
            ctx.storage.delete(key)
            raise JobCancelled("the video was deleted")
        old = row.file_key
        row.status, row.file_key, row.size_bytes = ClipStatus.COMPLETED, key, size
        row.provider, row.cost_usd = clip.provider, row.cost_usd + clip.cost_usd
        row.compute_s, row.job_id = round(clip.compute_s, 3), ctx.job_id
        session.commit()
    if old and old != key:
        ctx.storage.delete(old)
    return key


def _mark_clip_failed(ctx: JobContext, clip_id: str, error: BaseException) -> None:
    """A clip that failed keeps its previous take, if it had one, and the error."""
    from soundstage.workflows.music_video.models import ClipStatus, VideoClip

    if isinstance(error, JobCancelled | JobInterrupted):
        return
    with ctx.session() as session:
        row = session.get(VideoClip, clip_id)
        if row is not None:
            row.status = ClipStatus.COMPLETED if row.file_key else ClipStatus.FAILED
            row.error = str(error) or type(error).__name__
        session.commit()


def _compose(ctx: JobContext, video_id: str, work: Path, *, start: float) -> dict[str, Any]:
    from soundstage.platform.db import utcnow
    from soundstage.workflows.music_video import service
    from soundstage.workflows.music_video.models import ClipStatus, VideoStatus

    span = 100.0 - start
    ctx.progress(start, "composing")
    with ctx.session() as session:
        video, song, analysis = _load(session, video_id)
        clips = service.clips_of(session, video.song_id)
        missing = [c.index for c in clips if c.status != ClipStatus.COMPLETED or not c.file_key]
        if missing:
            raise RuntimeError(f"clips {missing[:10]} are not generated; cannot compose")
        keys = [c.file_key for c in clips]
        sections = [(s.start_s, s.end_s, s.label) for s in service.sections_of(session, song.id)]
        song_key, song_format = song.original_key, song.format
        fps, prefix = video.fps, video_prefix(video)
        lyrics = analysis.get("lyrics") or [] if video.captions else []
        video.status = VideoStatus.COMPOSING
        session.commit()
    clip_dir = work / "compose"
    clip_dir.mkdir(exist_ok=True)
    paths = [ctx.fetch(key, clip_dir / f"{i:04d}.mp4") for i, key in enumerate(keys)]
    source = ctx.fetch(song_key, work / f"song.{song_format}")
    files = compose_files(
        paths, source, work, fps=fps, lyrics=lyrics,
        poster_at=poster_time(analysis, sections),
        on_progress=lambda f: ctx.progress(start + 0.5 * span * f, "stitching clips"),
    )  # fmt: skip
    ctx.progress(start + 0.5 * span, "composed")  # the seed's milestones: 80, 90, 95, 100
    ctx.progress(start + 0.75 * span, "publishing")
    size = files.video.stat().st_size
    ctx.storage.put_file(f"{prefix}video.mp4", files.video, move=True)
    ctx.storage.put_file(f"{prefix}poster.jpg", files.poster, move=True)
    if files.captions is not None:
        ctx.storage.put_file(f"{prefix}lyrics.vtt", files.captions, move=True)
    with ctx.session() as session:
        video, _song, _analysis = _load(session, video_id)
        video.video_key, video.poster_key = f"{prefix}video.mp4", f"{prefix}poster.jpg"
        video.captions_key = f"{prefix}lyrics.vtt" if files.captions is not None else None
        video.duration_s, video.file_size_bytes = files.duration_s, size
        video.version += 1
        video.status, video.error, video.composed_at = VideoStatus.READY, None, utcnow()
        session.commit()
    ctx.progress(100, "done")
    return {"duration_s": files.duration_s, "file_size_bytes": size}


def _record_failure(ctx: JobContext, video_id: str, error: BaseException) -> None:
    """Put the video and its clips back in a state the user can act on.

    A video that was composed before stays watchable (with the error shown), and a
    failed or cancelled regeneration gives its regeneration back.
    """

    if isinstance(error, JobInterrupted):  # back to the queue: the next attempt carries on
        return
    cancelled = isinstance(error, JobCancelled)
    message = None if cancelled else (str(error) or type(error).__name__)
    with ctx.session() as session:
        _restore_after_failure(session, video_id, ctx.payload, message)
        session.commit()


def _restore_after_failure(
    session: Any, video_id: str, payload: dict[str, Any], message: str | None
) -> None:
    """`_record_failure` in the caller's transaction; `message` None means cancelled."""
    from soundstage.workflows.music_video.models import (
        ClipStatus,
        MusicVideo,
        VideoClip,
        VideoSection,
    )
    from soundstage.workflows.music_video.models import VideoStatus as S

    video = session.get(MusicVideo, video_id)
    if video is None:
        return
    for clip in session.query(VideoClip).filter_by(
        song_id=video.song_id, status=ClipStatus.GENERATING
    ):
        clip.status = ClipStatus.COMPLETED if clip.file_key else ClipStatus.PLANNED
    refund = payload.get("refund") or {}
    for model, row_id in (
        (VideoSection, refund.get("section_id")),
        (VideoClip, refund.get("clip_id")),
    ):
        row = session.get(model, row_id) if row_id else None
        if row is not None and row.regeneration_count > 0:
            row.regeneration_count -= 1
    if video.video_key:
        video.status, video.error = S.READY, message
    else:
        video.status = S.FAILED
        video.error = message or "cancelled before the video was composed"
