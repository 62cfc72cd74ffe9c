"""Music video rules: sections, clip plans, generation, regeneration, finalize, library, shares.

Every function takes the owner's id and answers another user's ids exactly like
missing ones (404). Functions that queue a job leave the commit to the caller.
"""

from __future__ import annotations

import secrets
import zlib
from typing import Any

from sqlalchemy import Select, delete, func, select
from sqlalchemy.orm import Session

from soundstage.config import Settings
from soundstage.platform.db import utcnow
from soundstage.platform.errors import AppError, Conflict, NotFound
from soundstage.platform.jobs import TERMINAL_STATES, Job, submit_job
from soundstage.platform.ownership import get_owned
from soundstage.platform.policy import admit_job
from soundstage.platform.storage import Storage
from soundstage.workflows.music_video import planning
from soundstage.workflows.music_video.models import (
    ClipStatus,
    MusicVideo,
    VideoClip,
    VideoSection,
    VideoStatus,
)
from soundstage.workflows.music_video.pipeline import COMPOSE_JOB, GENERATE_JOB, video_prefix
from soundstage.workflows.music_video.schemas import GenerateRequest, SectionIn
from soundstage.workflows.songs.models import Song, SongAnalysis


class Unprocessable(AppError):
    status = 422


class QuotaExceeded(AppError):
    status = 403


# --- lookups --------------------------------------------------------------------------------


def get_song(session: Session, owner_id: str, song_id: str) -> Song:
    return get_owned(session, Song, song_id, owner_id, "song")


def get_video(session: Session, owner_id: str, video_id: str) -> MusicVideo:
    return get_owned(session, MusicVideo, video_id, owner_id, "video")


def video_for_song(session: Session, song_id: str) -> MusicVideo | None:
    return session.scalar(select(MusicVideo).where(MusicVideo.song_id == song_id))


def analysis_of(session: Session, song: Song) -> dict[str, Any]:
    """The song's analysis; 409 telling the user to analyse first when there is none."""
    row = session.get(SongAnalysis, song.id)
    if row is None:
        raise Conflict(
            f"song {song.id} is not analyzed yet; POST /api/songs/{song.id}/analyze "
            "and wait for it before making sections"
        )
    return row.result


def song_duration(song: Song, analysis: dict[str, Any]) -> float:
    """The length of the decoded audio (what the video must match), not the container's
    figure, which for MP3 includes the encoder's padding."""
    return float(analysis.get("duration_s") or song.duration_s)


def sections_of(session: Session, song_id: str) -> list[VideoSection]:
    stmt = select(VideoSection).where(VideoSection.song_id == song_id)
    return list(session.scalars(stmt.order_by(VideoSection.index)))


def clips_of(session: Session, song_id: str) -> list[VideoClip]:
    return list(
        session.scalars(
            select(VideoClip).where(VideoClip.song_id == song_id).order_by(VideoClip.index)
        )
    )


def running_job(session: Session, job_id: str | None) -> Job | None:
    job = session.get(Job, job_id) if job_id else None
    return job if job is not None and job.state not in TERMINAL_STATES else None


def _check_editable(session: Session, video: MusicVideo | None, what: str) -> None:
    if video is None:
        return
    if video.is_finalized:
        raise Conflict(f"video {video.id} is finalized; it cannot be changed ({what})")
    job = running_job(session, video.job_id)
    if job is not None:
        raise Conflict(
            f"video {video.id} is being generated; wait for GET /api/jobs/{job.id} ({what})"
        )


# --- suggestions and sections ---------------------------------------------------------------


def suggestion(session: Session, settings: Settings, owner_id: str, song_id: str) -> dict:
    """The suggested video type, overall prompt and beat-aligned sections for a song."""
    from soundstage.media.visuals import TEMPLATES, suggest_template

    song = get_song(session, owner_id, song_id)
    analysis = analysis_of(session, song)
    mood, genre = analysis.get("mood_primary", "calm"), analysis.get("genre", "ambient")
    template = suggest_template(genre, mood, float(analysis.get("energy", 0.5)))
    tags = ", ".join(analysis.get("mood_tags", [])[:3]) or mood
    prompt = f"{tags} {genre} music video, {template} visuals"
    sections = [
        SectionIn(start=s["start"], end=s["end"], label=s["label"])
        for s in analysis.get("suggested_sections") or []
    ] or [SectionIn(start=0.0, end=song_duration(song, analysis), label="A")]
    return {
        "video_type": template,
        "video_types": dict(TEMPLATES),
        "prompt": prompt[:500],
        "sections": sections,
        "bpm": analysis.get("bpm", 0.0),
        "genre": genre,
        "mood": mood,
    }


def _check_song_length(settings: Settings, song: Song) -> None:
    limit = settings.video_max_song_duration_s
    if song.duration_s > limit + 1e-6:
        raise Unprocessable(
            f"the song is {song.duration_s:.0f} s long; music videos are made for songs up to "
            f"{limit:.0f} s (SOUNDSTAGE_VIDEO_MAX_SONG_DURATION_S)"
        )


def create_sections(
    session: Session,
    settings: Settings,
    owner_id: str,
    song_id: str,
    sections: list[SectionIn] | None,
) -> list[VideoSection]:
    """Replace the song's sections (and drop its clip plan); commits.

    Only before a video exists: once clips are generated, sections are changed by
    regenerating them.
    """
    song = get_song(session, owner_id, song_id)
    _check_song_length(settings, song)
    analysis = analysis_of(session, song)
    video = video_for_song(session, song.id)
    if video is not None:
        raise Conflict(
            f"song {song.id} already has video {video.id}; regenerate its sections, or "
            f"DELETE /api/videos/{video.id} to start over"
        )
    if sections is None:
        sections = suggestion(session, settings, owner_id, song_id)["sections"]
    drafts = [planning.SectionDraft(s.start, s.end, s.label, s.prompt_note) for s in sections]
    try:
        snapped = planning.validate_sections(
            drafts, duration_s=song_duration(song, analysis), beats=analysis.get("beats") or [],
            min_section_s=settings.video_clip_min_s, max_sections=settings.video_max_sections,
        )  # fmt: skip
    except planning.PlanError as error:
        raise Unprocessable(str(error)) from None
    session.execute(delete(VideoClip).where(VideoClip.song_id == song.id))
    session.execute(delete(VideoSection).where(VideoSection.song_id == song.id))
    rows = [
        VideoSection(
            song_id=song.id,
            owner_id=owner_id,
            index=i,
            label=s.label,
            start_s=s.start,
            end_s=s.end,
            prompt_note=s.note,
        )
        for i, s in enumerate(snapped)
    ]
    session.add_all(rows)
    session.commit()
    return rows


def update_section(
    session: Session,
    owner_id: str,
    song_id: str,
    section_id: str,
    label: str | None,
    note: str | None,
) -> VideoSection:
    """Change a section's label or prompt note (used by later generations); commits."""
    song = get_song(session, owner_id, song_id)
    section = session.get(VideoSection, section_id)
    if section is None or section.song_id != song.id:
        raise NotFound("section not found")
    _check_editable(session, video_for_song(session, song.id), "section edit")
    if label is not None:
        section.label = label.strip()
    if note is not None:
        section.prompt_note = note
    prompt = clip_prompt(base_prompt(session, song), section)  # one lookup, not one per clip
    for clip in session.scalars(select(VideoClip).where(VideoClip.section_id == section.id)):
        if clip.status != ClipStatus.COMPLETED:
            clip.prompt = prompt
    session.commit()
    return section


# --- clip plan ------------------------------------------------------------------------------


def base_prompt(session: Session, song: Song) -> str:
    video = video_for_song(session, song.id)
    return video.prompt if video is not None else ""


def clip_prompt(prompt: str, section: VideoSection) -> str:
    """Overall prompt + the section's label and note (the seed adds labels to prompts)."""
    parts = [prompt.strip(), f"{section.label} section", section.prompt_note.strip()]
    return ", ".join(p for p in parts if p)


def plan_clips(
    session: Session, settings: Settings, owner_id: str, song_id: str
) -> list[VideoClip]:
    """(Re)plan the clips of every section; commits. Only before a video exists."""
    song = get_song(session, owner_id, song_id)
    analysis = analysis_of(session, song)
    video = video_for_song(session, song.id)
    if video is not None:
        raise Conflict(f"song {song.id} already has video {video.id}; its clips are fixed")
    sections = sections_of(session, song.id)
    if not sections:
        raise Conflict(f"song {song.id} has no sections; POST /api/songs/{song.id}/sections first")
    _replace_plan(session, settings, song, analysis, sections, prompt="")
    session.commit()
    return clips_of(session, song.id)


def _replace_plan(
    session: Session,
    settings: Settings,
    song: Song,
    analysis: dict[str, Any],
    sections: list[VideoSection],
    prompt: str,
) -> None:
    fps = settings.video_fps
    drafts = [planning.SectionDraft(s.start_s, s.end_s, s.label) for s in sections]
    try:
        slots = planning.plan_clips(
            drafts, beats=analysis.get("beats") or [], downbeats=analysis.get("downbeats") or [],
            fps=fps, total_frames=round(song_duration(song, analysis) * fps),
            min_s=settings.video_clip_min_s, max_s=settings.video_clip_max_s,
        )  # fmt: skip
    except planning.PlanError as error:
        raise Unprocessable(str(error)) from None
    session.execute(delete(VideoClip).where(VideoClip.song_id == song.id))
    session.add_all(
        VideoClip(
            song_id=song.id,
            section_id=sections[slot.section_index].id,
            owner_id=song.owner_id,
            index=i,
            index_in_section=slot.index_in_section,
            start_frame=slot.start_frame,
            n_frames=slot.n_frames,
            fps=fps,
            status=ClipStatus.PLANNED,
            prompt=clip_prompt(prompt, sections[slot.section_index]),
        )
        for i, slot in enumerate(slots)
    )
    session.flush()


# --- generation -----------------------------------------------------------------------------


def check_quota(session: Session, settings: Settings, owner_id: str, song_id: str) -> None:
    """403 when a new video would pass the user's video count or storage quota."""
    others = select(MusicVideo).where(
        MusicVideo.owner_id == owner_id, MusicVideo.song_id != song_id
    )
    count = session.scalar(select(func.count()).select_from(others.subquery())) or 0
    if count >= settings.video_max_per_user:
        raise QuotaExceeded(
            f"you have {count} videos, the most allowed is {settings.video_max_per_user}; "
            "delete one (DELETE /api/videos/{id}) to make room"
        )
    used = storage_used(session, owner_id)
    if used >= settings.video_storage_quota_bytes:
        raise QuotaExceeded(
            f"your videos use {used / 1e6:.0f} MB of {settings.video_storage_quota_bytes / 1e6:.0f}"
            " MB; delete or finalize videos to free space"
        )


def storage_used(session: Session, owner_id: str) -> int:
    videos = session.scalar(
        select(func.coalesce(func.sum(MusicVideo.file_size_bytes), 0)).where(
            MusicVideo.owner_id == owner_id
        )
    )
    clips = session.scalar(
        select(func.coalesce(func.sum(VideoClip.size_bytes), 0)).where(
            VideoClip.owner_id == owner_id
        )
    )
    return int(videos or 0) + int(clips or 0)


def start_generation(
    session: Session, settings: Settings, owner_id: str, song_id: str, request: GenerateRequest
) -> tuple[MusicVideo, Job]:
    """Create the song's video and queue the job that generates every clip and composes.

    Plans clips first when there is no plan. 409 when the song already has a video
    (regenerate instead), 403 past a quota. The caller commits.
    """
    from soundstage.media.visuals import TEMPLATES
    from soundstage.media.visuals.spec import ASPECTS

    song = get_song(session, owner_id, song_id)
    _check_song_length(settings, song)
    analysis = analysis_of(session, song)
    existing = video_for_song(session, song.id)
    if existing is not None and existing.status == VideoStatus.FAILED:  # carry on from there
        return resume_generation(session, owner_id, song_id)
    if existing is not None:
        raise Conflict(
            f"song {song.id} already has video {existing.id} ({existing.status}); regenerate "
            f"a section or clip, or DELETE /api/videos/{existing.id} to start over"
        )
    sections = sections_of(session, song.id)
    if not sections:
        raise Conflict(f"song {song.id} has no sections; POST /api/songs/{song.id}/sections first")
    check_quota(session, settings, owner_id, song.id)
    hint = suggestion(session, settings, owner_id, song_id)
    video_type = request.video_type or hint["video_type"]
    if video_type not in TEMPLATES:
        raise Unprocessable(
            f"video_type {video_type!r} is not known; choose one of: {', '.join(TEMPLATES)}"
        )
    prompt = (request.prompt or "").strip() or hint["prompt"]
    width, height = ASPECTS[request.aspect]
    seed = request.seed if request.seed is not None else secrets.randbelow(2**31)
    video = MusicVideo(
        song_id=song.id, owner_id=owner_id, title=_title(song), video_type=video_type,
        aspect=request.aspect, width=width, height=height, fps=settings.video_fps,
        prompt=prompt, seed=seed, captions=request.captions, status=VideoStatus.GENERATING,
    )  # fmt: skip
    session.add(video)
    session.flush()
    _replace_plan(session, settings, song, analysis, sections, prompt)
    job = submit_job(session, GENERATE_JOB, owner_id, {"video_id": video.id, "compose": True})
    admit_job(  # content rules (422), cost estimate and budgets (402/429), moderation
        session, settings, job,
        {"prompt": prompt, "sections": "\n".join(f"{s.label}: {s.prompt_note}" for s in sections)},
        estimate_payload={"clip_seconds": [c.n_frames / c.fps for c in clips_of(session, song.id)]},
    )  # fmt: skip
    video.job_id = job.id
    return video, job


def _title(song: Song) -> str:
    tags = song.tags or {}
    title = tags.get("title") or song.filename.rsplit(".", 1)[0]
    artist = tags.get("artist")
    return f"{artist} – {title}"[:255] if artist else str(title)[:255]


def start_composition(session: Session, owner_id: str, song_id: str) -> tuple[MusicVideo, Job]:
    """Queue composition of the song's generated clips (e.g. after a failed composition)."""
    song = get_song(session, owner_id, song_id)
    video = video_for_song(session, song.id)
    if video is None:
        raise Conflict(
            f"song {song.id} has no generated clips; POST /api/songs/{song.id}/clips/generate"
        )
    _check_editable(session, video, "compose")
    clips = clips_of(session, song.id)
    missing = [c.index for c in clips if c.status != ClipStatus.COMPLETED]
    if missing:
        raise Conflict(
            f"clips {missing[:10]} are not generated; POST /api/songs/{song.id}/clips/generate"
        )
    job = submit_job(session, COMPOSE_JOB, owner_id, {"video_id": video.id})
    video.job_id, video.status, video.error = job.id, VideoStatus.COMPOSING, None
    return video, job


def resume_generation(session: Session, owner_id: str, song_id: str) -> tuple[MusicVideo, Job]:
    """Generate the clips still missing (after a failure) and compose."""
    song = get_song(session, owner_id, song_id)
    video = video_for_song(session, song.id)
    if video is None:
        raise NotFound("video not found")
    _check_editable(session, video, "generate")
    job = submit_job(session, GENERATE_JOB, owner_id, {"video_id": video.id, "compose": True})
    video.job_id, video.status, video.error = job.id, VideoStatus.GENERATING, None
    return video, job


def generation_status(session: Session, owner_id: str, song_id: str) -> dict[str, Any]:
    """Combined progress: clip generation 0–80 %, composition 80–100 % (seed 001)."""
    song = get_song(session, owner_id, song_id)
    video = video_for_song(session, song.id)
    clips = clips_of(session, song.id)
    job = session.get(Job, video.job_id) if video is not None and video.job_id else None
    counts = {s: sum(1 for c in clips if c.status == s) for s in ClipStatus}
    progress, stage, state = 0.0, "not started", "idle"
    if job is not None:
        state, stage = job.state, job.stage
        progress = job.progress if job.type == GENERATE_JOB else 80 + 0.2 * job.progress
        if job.state == "completed":
            progress = 100.0
    elif video is not None and video.status in (VideoStatus.READY, VideoStatus.FINALIZED):
        progress, stage, state = 100.0, "done", "completed"
    return {
        "song_id": song.id,
        "video_id": video.id if video else None,
        "job_id": job.id if job else None,
        "state": state,
        "stage": stage,
        "progress": round(progress, 1),
        "eta_s": job.eta_s if job is not None and job.state not in TERMINAL_STATES else None,
        "clips_total": len(clips),
        "clips_completed": counts[ClipStatus.COMPLETED],
        "clips_failed": counts[ClipStatus.FAILED],
        "video_status": video.status if video else None,
        "error": (video.error if video else None) or (job.error if job else None),
    }


def compose_job(session: Session, owner_id: str, song_id: str, job_id: str) -> Job:
    """A generate or compose job of this song's video."""
    song = get_song(session, owner_id, song_id)
    job = session.get(Job, job_id)
    video = video_for_song(session, song.id)
    if (
        job is None
        or job.owner_id != owner_id
        or job.type not in (GENERATE_JOB, COMPOSE_JOB)
        or video is None
        or (job.payload or {}).get("video_id") != video.id
    ):
        raise NotFound("composition job not found")
    return job


# --- regeneration ---------------------------------------------------------------------------


def regenerate_section(
    session: Session, settings: Settings, owner_id: str, video_id: str, section_id: str
) -> tuple[MusicVideo, Job]:
    """New clips for every clip of one section (once per section), then recompose."""
    video = get_video(session, owner_id, video_id)
    section = session.get(VideoSection, section_id)
    if section is None or section.song_id != video.song_id:
        raise NotFound("section not found")
    _check_regenerable(session, video)
    if section.regeneration_count >= settings.video_regenerations:
        raise Conflict(
            f"section {section.index} ({section.label}) was already regenerated "
            f"{section.regeneration_count} time(s); {settings.video_regenerations} allowed"
        )
    section.regeneration_count += 1
    clips = list(session.scalars(select(VideoClip).where(VideoClip.section_id == section.id)))
    for clip in clips:
        clip.prompt = clip_prompt(video.prompt, section)
    refund = {"section_id": section.id}
    return video, _queue_regeneration(session, video, [c.id for c in clips], refund)


def regenerate_clip(
    session: Session, settings: Settings, owner_id: str, video_id: str, clip_id: str
) -> tuple[MusicVideo, Job]:
    """A new take of one clip (once per clip), then recompose."""
    video = get_video(session, owner_id, video_id)
    clip = session.get(VideoClip, clip_id)
    if clip is None or clip.song_id != video.song_id:
        raise NotFound("clip not found")
    _check_regenerable(session, video)
    if clip.regeneration_count >= settings.video_regenerations:
        raise Conflict(
            f"clip {clip.index} was already regenerated {clip.regeneration_count} time(s); "
            f"{settings.video_regenerations} allowed"
        )
    clip.regeneration_count += 1
    return video, _queue_regeneration(session, video, [clip.id], {"clip_id": clip.id})


def _check_regenerable(session: Session, video: MusicVideo) -> None:
    _check_editable(session, video, "regenerate")
    if video.status != VideoStatus.READY:
        raise Conflict(f"video {video.id} is {video.status}; regenerate once it is ready")


def _queue_regeneration(
    session: Session, video: MusicVideo, clip_ids: list[str], refund: dict[str, str]
) -> Job:
    """Queue new takes of `clip_ids` and a recomposition; `refund` names what to give back
    if the job fails."""
    payload = {"video_id": video.id, "clip_ids": clip_ids, "compose": True, "refund": refund}
    job = submit_job(session, GENERATE_JOB, video.owner_id, payload)
    video.job_id, video.status, video.error = job.id, VideoStatus.GENERATING, None
    return job


def clip_seed(video_seed: int, clip: VideoClip, section: VideoSection) -> int:
    """A clip's seed: new for each regeneration of the clip or of its section."""
    text = f"{video_seed}:{clip.index}:{clip.regeneration_count}:{section.regeneration_count}"
    return zlib.crc32(text.encode())


# --- finalize, library, shares --------------------------------------------------------------


def finalize(session: Session, storage: Storage, owner_id: str, video_id: str) -> MusicVideo:
    """Delete the clip files and lock the video against edits; commits."""
    video = get_video(session, owner_id, video_id)
    if video.is_finalized:
        raise Conflict(f"video {video.id} is already finalized")
    _check_editable(session, video, "finalize")
    if video.status != VideoStatus.READY:
        raise Conflict(f"video {video.id} is {video.status}; finalize it once it is ready")
    for clip in clips_of(session, video.song_id):
        clip.file_key, clip.size_bytes = None, 0
    video.status, video.finalized_at = VideoStatus.FINALIZED, utcnow()
    session.commit()
    storage.delete_prefix(f"{video_prefix(video)}clips/")
    return video


def list_query(owner_id: str) -> Select:
    return (
        select(MusicVideo)
        .where(MusicVideo.owner_id == owner_id)
        .order_by(MusicVideo.created_at.desc(), MusicVideo.id)
    )


def delete_video(session: Session, storage: Storage, owner_id: str, video_id: str) -> int:
    """Delete a video and its files (freeing quota); the song's sections stay. Commits."""
    from soundstage.platform.jobs import cancel_job

    video = get_video(session, owner_id, video_id)
    prefix = video_prefix(video)
    job = running_job(session, video.job_id)
    if job is not None:
        cancel_job(session, job)
    for clip in clips_of(session, video.song_id):
        clip.status, clip.file_key, clip.size_bytes, clip.error = (
            ClipStatus.PLANNED,
            None,
            0,
            None,
        )
    session.delete(video)
    session.commit()
    return storage.delete_prefix(prefix)


def share(session: Session, owner_id: str, video_id: str) -> MusicVideo:
    """Give the video a public link (the same one if it already has one); commits."""
    video = get_video(session, owner_id, video_id)
    if video.video_key is None:
        raise Conflict(f"video {video.id} has not been composed yet; nothing to share")
    if video.share_token is None:
        video.share_token = secrets.token_urlsafe(24)
        session.commit()
    return video


def revoke_share(session: Session, owner_id: str, video_id: str) -> MusicVideo:
    video = get_video(session, owner_id, video_id)
    video.share_token = None
    session.commit()
    return video


def shared_video(session: Session, token: str) -> MusicVideo:
    video = session.scalar(select(MusicVideo).where(MusicVideo.share_token == token))
    if video is None or video.video_key is None or not token:
        raise NotFound("this share link does not exist or was revoked")
    return video
