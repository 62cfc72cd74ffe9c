"""Music video routes (seed 001): sections, clips, generation, composition, regeneration,
finalize, the video library and public share links."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status
from sqlalchemy.orm import Session

from soundstage.config import Settings
from soundstage.platform.deps import CurrentUser, SessionDep, SettingsDep, StorageDep
from soundstage.platform.errors import NotFound
from soundstage.platform.http import Page, PageDep, paginate
from soundstage.platform.policy.service import check_content
from soundstage.platform.storage import Storage, file_response
from soundstage.workflows.music_video import service
from soundstage.workflows.music_video.models import MusicVideo, VideoClip, VideoSection
from soundstage.workflows.music_video.schemas import (
    Accepted,
    ClipOut,
    ComposeResult,
    ComposeStatus,
    GenerateRequest,
    GenerationStatus,
    SectionOut,
    SectionPatch,
    SectionsCreate,
    SharedVideo,
    ShareOut,
    Suggestion,
    VideoOut,
)

router = APIRouter(tags=["music video"])


def section_out(section: VideoSection, settings: Settings) -> SectionOut:
    return SectionOut(
        id=section.id, index=section.index, label=section.label, start=section.start_s,
        end=section.end_s, prompt_note=section.prompt_note,
        regeneration_count=section.regeneration_count,
        regenerations_left=max(0, settings.video_regenerations - section.regeneration_count),
    )  # fmt: skip


def clip_out(clip: VideoClip, settings: Settings) -> ClipOut:
    return ClipOut(
        id=clip.id, section_id=clip.section_id, index=clip.index,
        index_in_section=clip.index_in_section, start=round(clip.start_s, 4),
        end=round(clip.end_s, 4), start_frame=clip.start_frame, n_frames=clip.n_frames,
        fps=clip.fps, prompt=clip.prompt, status=clip.status, provider=clip.provider,
        cost_usd=clip.cost_usd, compute_s=clip.compute_s,
        regeneration_count=clip.regeneration_count,
        regenerations_left=max(0, settings.video_regenerations - clip.regeneration_count),
        error=clip.error,
    )  # fmt: skip


def share_url(video: MusicVideo) -> str | None:
    return f"/v/{video.share_token}" if video.share_token else None


def video_out(
    video: MusicVideo, session: Session | None = None, settings: Settings | None = None
) -> VideoOut:
    """A video; with `session` and `settings`, also its sections and clips."""
    base = f"/api/videos/{video.id}"
    data: dict[str, Any] = {
        name: getattr(video, name) for name in VideoOut.model_fields if hasattr(video, name)
    }
    data.update(
        video_url=f"{base}/file" if video.video_key else None,
        poster_url=f"{base}/poster" if video.poster_key else None,
        captions_url=f"{base}/lyrics.vtt" if video.captions_key else None,
        share_url=share_url(video), sections=[], clips=[],
    )  # fmt: skip
    if session is not None and settings is not None:
        data["sections"] = [
            section_out(s, settings) for s in service.sections_of(session, video.song_id)
        ]
        data["clips"] = [clip_out(c, settings) for c in service.clips_of(session, video.song_id)]
    return VideoOut(**data)


def _accepted(video: MusicVideo, job_id: str) -> Accepted:
    return Accepted(
        song_id=video.song_id, video_id=video.id, job_id=job_id,
        status_url=f"/api/songs/{video.song_id}/generation/status",
    )  # fmt: skip


# --- sections and clips ---------------------------------------------------------------------


@router.get("/api/songs/{song_id}/video/suggestion", response_model=Suggestion)
def get_suggestion(song_id: str, user: CurrentUser, session: SessionDep, settings: SettingsDep):
    """Suggested video type, overall prompt and beat-aligned sections, from the analysis."""
    return service.suggestion(session, settings, user.id, song_id)


@router.post(
    "/api/songs/{song_id}/sections",
    status_code=status.HTTP_201_CREATED,
    response_model=list[SectionOut],
    responses={409: {"description": "Not analysed yet, or a video exists"}},
)
def create_sections(
    song_id: str,
    body: SectionsCreate,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
):
    """Set the song's sections (after analysis): they must cover the whole song in order,
    without gaps or overlaps; inner edges snap to the nearest beat. Omit `sections` to
    take the suggested ones. Replaces earlier sections and clip plans."""
    check_content(settings, {f"sections[{i}]": f"{s.label}\n{s.prompt_note or ''}"
                             for i, s in enumerate(body.sections or [])})  # fmt: skip
    rows = service.create_sections(session, settings, user.id, song_id, body.sections)
    return [section_out(s, settings) for s in rows]


@router.get("/api/songs/{song_id}/sections", response_model=list[SectionOut])
def list_sections(song_id: str, user: CurrentUser, session: SessionDep, settings: SettingsDep):
    song = service.get_song(session, user.id, song_id)
    return [section_out(s, settings) for s in service.sections_of(session, song.id)]


@router.patch("/api/songs/{song_id}/sections/{section_id}", response_model=SectionOut)
def patch_section(
    song_id: str,
    section_id: str,
    body: SectionPatch,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
):
    """Change a section's label or prompt note (not its start or end)."""
    check_content(settings, {"label": body.label, "prompt_note": body.prompt_note})
    section = service.update_section(
        session, user.id, song_id, section_id, body.label, body.prompt_note
    )
    return section_out(section, settings)


@router.post("/api/songs/{song_id}/clips/plan", response_model=list[ClipOut])
def plan_clips(song_id: str, user: CurrentUser, session: SessionDep, settings: SettingsDep):
    """Plan clips of `video_clip_min_s`–`video_clip_max_s` tiling each section, cut on beats."""
    return [clip_out(c, settings) for c in service.plan_clips(session, settings, user.id, song_id)]


@router.get("/api/songs/{song_id}/clips", response_model=list[ClipOut])
def list_clips(song_id: str, user: CurrentUser, session: SessionDep, settings: SettingsDep):
    song = service.get_song(session, user.id, song_id)
    return [clip_out(c, settings) for c in service.clips_of(session, song.id)]


# --- generation and composition -------------------------------------------------------------


@router.post(
    "/api/songs/{song_id}/clips/generate",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    responses={403: {"description": "Quota"}, 409: {"description": "No sections, or a video"}},
)
def generate_clips(
    song_id: str,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    body: GenerateRequest | None = None,
):
    """Create the video: generate every clip (in parallel, rate limited), then compose.
    Follow GET /api/songs/{song_id}/generation/status. After a failure, calling this
    again carries on with the clips still missing."""
    video, job = service.start_generation(
        session, settings, user.id, song_id, body or GenerateRequest()
    )
    session.commit()
    return _accepted(video, job.id)


@router.get("/api/songs/{song_id}/generation/status", response_model=GenerationStatus)
def generation_status(song_id: str, user: CurrentUser, session: SessionDep):
    """Combined progress: clips 0–80 %, composition 80–100 % (80, 90, 95, 100 milestones)."""
    return service.generation_status(session, user.id, song_id)


@router.get("/api/songs/{song_id}/video", response_model=VideoOut)
def song_video(song_id: str, user: CurrentUser, session: SessionDep, settings: SettingsDep):
    """The song's video with its sections and clips (and regenerations left)."""
    song = service.get_song(session, user.id, song_id)
    video = service.video_for_song(session, song.id)
    if video is None:
        raise NotFound(f"song {song.id} has no video yet")
    return video_out(video, session, settings)


@router.post(
    "/api/songs/{song_id}/compose", status_code=status.HTTP_202_ACCEPTED, response_model=Accepted
)
def compose(song_id: str, user: CurrentUser, session: SessionDep):
    """Compose the generated clips again (normally done right after generation)."""
    video, job = service.start_composition(session, user.id, song_id)
    session.commit()
    return _accepted(video, job.id)


@router.get("/api/songs/{song_id}/compose/{job_id}/status", response_model=ComposeStatus)
def compose_status(song_id: str, job_id: str, user: CurrentUser, session: SessionDep):
    job = service.compose_job(session, user.id, song_id, job_id)
    return ComposeStatus(
        job_id=job.id, state=job.state, stage=job.stage, progress=job.progress, error=job.error
    )


@router.get("/api/songs/{song_id}/compose/{job_id}/result", response_model=ComposeResult)
def compose_result(song_id: str, job_id: str, user: CurrentUser, session: SessionDep):
    """The video URL once the composition job has succeeded (409 before)."""
    from soundstage.platform.errors import Conflict

    job = service.compose_job(session, user.id, song_id, job_id)
    video = service.video_for_song(session, song_id)
    if job.state != "completed" or video is None or not video.video_key:
        raise Conflict(f"composition job {job.id} is {job.state}; no result yet")
    return ComposeResult(
        job_id=job.id, video_id=video.id, video_url=f"/api/videos/{video.id}/file",
        poster_url=f"/api/videos/{video.id}/poster" if video.poster_key else None,
        duration_s=video.duration_s, file_size_bytes=video.file_size_bytes,
    )  # fmt: skip


# --- videos ---------------------------------------------------------------------------------


@router.post(
    "/api/videos/{video_id}/regenerate/section/{section_id}",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
)
def regenerate_section(
    video_id: str, section_id: str, user: CurrentUser, session: SessionDep, settings: SettingsDep
):
    """New clips for a whole section (once per section), then the video is recomposed."""
    video, job = service.regenerate_section(session, settings, user.id, video_id, section_id)
    session.commit()
    return _accepted(video, job.id)


@router.post(
    "/api/videos/{video_id}/regenerate/clip/{clip_id}",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
)
def regenerate_clip(
    video_id: str, clip_id: str, user: CurrentUser, session: SessionDep, settings: SettingsDep
):
    """A new take of one clip (once per clip), then the video is recomposed."""
    video, job = service.regenerate_clip(session, settings, user.id, video_id, clip_id)
    session.commit()
    return _accepted(video, job.id)


@router.post("/api/videos/{video_id}/finalize", response_model=VideoOut)
def finalize(video_id: str, user: CurrentUser, session: SessionDep, storage: StorageDep):
    """Delete the intermediate clips and lock the video: no more edits or regenerations."""
    return video_out(service.finalize(session, storage, user.id, video_id))


@router.get("/api/videos", response_model=Page[VideoOut])
def list_videos(user: CurrentUser, session: SessionDep, page: PageDep):
    """Your videos, newest first, with share links."""
    return paginate(session, service.list_query(user.id), page, video_out)


@router.get("/api/videos/{video_id}", response_model=VideoOut)
def get_video(video_id: str, user: CurrentUser, session: SessionDep, settings: SettingsDep):
    return video_out(service.get_video(session, user.id, video_id), session, settings)


@router.delete("/api/videos/{video_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_video(video_id: str, user: CurrentUser, session: SessionDep, storage: StorageDep):
    """Delete a video and its files, freeing its place in your quota; sections stay."""
    service.delete_video(session, storage, user.id, video_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _video_file(storage: Storage, video: MusicVideo, which: str):
    key = {"file": video.video_key, "poster": video.poster_key, "lyrics": video.captions_key}[which]
    if not key:
        raise NotFound(f"video {video.id} has no {which} yet")
    name, media = {
        "file": ("video.mp4", "video/mp4"),
        "poster": ("poster.jpg", "image/jpeg"),
        "lyrics": ("lyrics.vtt", "text/vtt"),
    }[which]
    return file_response(storage, key, name, media, inline=True)


@router.get("/api/videos/{video_id}/file")
def video_file(video_id: str, user: CurrentUser, session: SessionDep, storage: StorageDep):
    """The MP4, streamed with HTTP Range support."""
    return _video_file(storage, service.get_video(session, user.id, video_id), "file")


@router.get("/api/videos/{video_id}/poster")
def video_poster(video_id: str, user: CurrentUser, session: SessionDep, storage: StorageDep):
    return _video_file(storage, service.get_video(session, user.id, video_id), "poster")


@router.get("/api/videos/{video_id}/lyrics.vtt")
def video_lyrics(video_id: str, user: CurrentUser, session: SessionDep, storage: StorageDep):
    """Timed lyrics as WebVTT, for players that highlight the sung line."""
    return _video_file(storage, service.get_video(session, user.id, video_id), "lyrics")


@router.post("/api/videos/{video_id}/share", response_model=ShareOut)
def share_video(video_id: str, user: CurrentUser, session: SessionDep):
    """A public link that plays the video without logging in (until revoked)."""
    video = service.share(session, user.id, video_id)
    return ShareOut(video_id=video.id, share_url=share_url(video) or "", token=video.share_token)


@router.delete("/api/videos/{video_id}/share", status_code=status.HTTP_204_NO_CONTENT)
def revoke_share(video_id: str, user: CurrentUser, session: SessionDep):
    """Revoke the public link; it answers 404 from now on."""
    service.revoke_share(session, user.id, video_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- public share links (no login) -------------------------------------------------------


@router.get("/api/share/{token}", response_model=SharedVideo)
def shared_video(token: str, session: SessionDep):
    """What a share link shows: title and file URLs (the page itself is /v/{token})."""
    video = service.shared_video(session, token)
    base = f"/api/share/{token}"
    return SharedVideo(
        title=video.title, width=video.width, height=video.height,
        duration_s=video.duration_s, video_url=f"{base}/video.mp4",
        poster_url=f"{base}/poster.jpg" if video.poster_key else None,
        captions_url=f"{base}/lyrics.vtt" if video.captions_key else None,
    )  # fmt: skip


@router.get("/api/share/{token}/video.mp4")
def shared_file(token: str, session: SessionDep, storage: StorageDep):
    return _video_file(storage, service.shared_video(session, token), "file")


@router.get("/api/share/{token}/poster.jpg")
def shared_poster(token: str, session: SessionDep, storage: StorageDep):
    return _video_file(storage, service.shared_video(session, token), "poster")


@router.get("/api/share/{token}/lyrics.vtt")
def shared_lyrics(token: str, session: SessionDep, storage: StorageDep):
    return _video_file(storage, service.shared_video(session, token), "lyrics")
