"""Music video pages: songs (upload, analysis), the section editor, generation, the player
and the video library.

Pages read through the songs and music video services, exactly as the JSON API does.
What the pages' scripts send (uploads, sections, generation, regeneration, finalize,
share links, deletes) goes to `/ui/api/...`: the JSON API's own route functions, under
the same paths, authenticated by the page's session cookie instead of a Bearer token
(as /ui/jobs mirrors /api/jobs). So the rules, the snapping of section edges and the
error messages are the API's; templates and static/video.js only display them.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.responses import Response
from sqlalchemy import select

from soundstage.platform.deps import SessionDep, SettingsDep, StorageDep
from soundstage.platform.errors import NotFound
from soundstage.platform.http import PageParams, paginate
from soundstage.platform.jobs import TERMINAL_STATES, Job
from soundstage.web.auth import PageUser, same_origin
from soundstage.web.templating import render
from soundstage.workflows.music_video import api as video_api
from soundstage.workflows.music_video import service as video_service
from soundstage.workflows.music_video.models import MusicVideo
from soundstage.workflows.music_video.planning import MAX_NOTE_CHARS
from soundstage.workflows.music_video.schemas import (
    Accepted,
    GenerateRequest,
    SectionOut,
    SectionPatch,
    SectionsCreate,
    ShareOut,
    VideoOut,
)
from soundstage.workflows.songs import api as songs_api
from soundstage.workflows.songs import service as songs_service
from soundstage.workflows.songs.models import Song, SongStatus
from soundstage.workflows.songs.schemas import AnalyzeAccepted, SongOut
from soundstage.workflows.songs.upload import ACCEPTED

router = APIRouter(tags=["web"], include_in_schema=False, dependencies=[Depends(same_origin)])

PAGE_SIZE = 20
ENERGY_POINTS = 600  # the energy chart's resolution (the curve itself can be 10 points/s)
DESCRIPTORS = ("energy", "danceability", "valence", "acousticness", "instrumentalness",
               "speechiness", "liveness")  # fmt: skip


def not_found(request: Request, user, what: str) -> Response:
    return render(request, "error.html",
                  {"user": user, "title": f"No such {what}",
                   "message": f"This {what} does not exist, or it is not yours."},
                  status_code=404)  # fmt: skip


def _jobs(session, ids: list[str | None]) -> dict[str, Job]:
    wanted = [i for i in ids if i]
    if not wanted:
        return {}
    return {j.id: j for j in session.scalars(select(Job).where(Job.id.in_(wanted)))}


def _song_cards(session, songs: list[Song]) -> list[dict[str, Any]]:
    """Each song with its unfinished analysis job (to follow it) and its video, if any."""
    jobs = _jobs(session, [s.analysis_job_id for s in songs])
    ids = [s.id for s in songs]
    videos = {}
    if ids:
        stmt = select(MusicVideo).where(MusicVideo.song_id.in_(ids))
        videos = {v.song_id: v for v in session.scalars(stmt)}
    cards = []
    for song in songs:
        job = jobs.get(song.analysis_job_id or "")
        live = job if job is not None and job.state not in TERMINAL_STATES else None
        cards.append({"song": song, "job": live, "video": videos.get(song.id)})
    return cards


def _live_job(session, job_id: str | None) -> Job | None:
    return video_service.running_job(session, job_id)


# -- pages ----------------------------------------------------------------------------------


@router.get("/songs")
def songs_page(
    request: Request,
    user: PageUser,
    session: SessionDep,
    settings: SettingsDep,
    page: Annotated[int, Query(ge=1)] = 1,
):
    results = paginate(session, songs_service.list_query(user.id),
                       PageParams(page=page, page_size=PAGE_SIZE))  # fmt: skip
    pages = max(1, -(-results["total"] // PAGE_SIZE))
    context = {
        "user": user, "nav": "songs", "cards": _song_cards(session, results["items"]),
        "results": results, "pages": pages, "accepted": ACCEPTED,
        "max_upload_mb": settings.song_max_upload_bytes / 1e6,
        "max_duration": settings.video_max_song_duration_s,
    }  # fmt: skip
    return render(request, "video/songs.html", context)


@router.get("/ui/songs/{song_id}/card")
def song_card(song_id: str, request: Request, user: PageUser, session: SessionDep):
    song = songs_service.get_song(session, user.id, song_id)
    return render(request, "video/_song_card.html", {"card": _song_cards(session, [song])[0]})


def _analysis(session, user_id: str, song: Song) -> dict[str, Any] | None:
    if song.status != SongStatus.ANALYZED:
        return None
    try:
        return songs_service.get_analysis(session, user_id, song.id)
    except NotFound:
        return None


def _energy_points(analysis: dict[str, Any]) -> list[list[float]]:
    """The energy curve as [time, value] pairs, thinned to at most ENERGY_POINTS."""
    curve = analysis.get("energy_curve") or []
    hz = float(analysis.get("energy_curve_hz") or 1.0)
    step = max(1, -(-len(curve) // ENERGY_POINTS))
    return [[round(i / hz, 2), round(float(curve[i]), 3)] for i in range(0, len(curve), step)]


def _editor_data(song: Song, analysis: dict[str, Any], suggestion: dict[str, Any],
                 sections: list[SectionOut], settings, video) -> dict[str, Any]:  # fmt: skip
    """What the section editor and the energy chart draw (embedded as JSON in the page)."""
    suggested = [s.model_dump() for s in suggestion["sections"]]
    return {
        "song_id": song.id,
        "duration": video_service.song_duration(song, analysis),
        "beats": analysis.get("beats") or [],
        "downbeats": analysis.get("downbeats") or [],
        "energy": _energy_points(analysis),
        "sections": [s.model_dump() for s in sections] or suggested,
        "saved": bool(sections),
        "suggested": suggested,
        "min_section_s": settings.video_clip_min_s,
        "max_note": MAX_NOTE_CHARS,
        # A video fixes the edges; labels and notes stay editable until it is finalized.
        "locked": video is not None,
        "finalized": bool(video and video.is_finalized),
    }


@router.get("/songs/{song_id}")
def song_page(
    song_id: str, request: Request, user: PageUser, session: SessionDep, settings: SettingsDep
):
    try:
        song = songs_service.get_song(session, user.id, song_id)
    except NotFound:
        return not_found(request, user, "song")
    context: dict[str, Any] = {"user": user, "nav": "songs", "song": song,
                               "job": _live_job(session, song.analysis_job_id)}  # fmt: skip
    analysis = _analysis(session, user.id, song)
    if analysis is not None:
        suggestion = video_service.suggestion(session, settings, user.id, song.id)
        sections = video_api.list_sections(song.id, user, session, settings)
        video = video_service.video_for_song(session, song.id)
        context.update(
            analysis=analysis, suggestion=suggestion, video=video,
            video_job=_live_job(session, video.job_id) if video else None,
            descriptors=[(n, analysis[n]) for n in DESCRIPTORS if analysis.get(n) is not None],
            editor=_editor_data(song, analysis, suggestion, sections, settings, video),
            too_long=song.duration_s > settings.video_max_song_duration_s + 1e-6,
            max_duration=settings.video_max_song_duration_s,
        )  # fmt: skip
    return render(request, "video/song.html", context)


@router.get("/videos")
def videos_page(
    request: Request,
    user: PageUser,
    session: SessionDep,
    page: Annotated[int, Query(ge=1)] = 1,
):
    results = video_api.list_videos(user, session, PageParams(page=page, page_size=PAGE_SIZE))
    pages = max(1, -(-results["total"] // PAGE_SIZE))
    return render(request, "video/library.html",
                  {"user": user, "nav": "videos", "results": results, "pages": pages})  # fmt: skip


@router.get("/videos/{video_id}")
def video_page(
    video_id: str, request: Request, user: PageUser, session: SessionDep, settings: SettingsDep
):
    try:
        video = video_api.get_video(video_id, user, session, settings)
    except NotFound:
        return not_found(request, user, "video")
    row = session.get(MusicVideo, video.id)
    job = _live_job(session, row.job_id if row else None)
    labels = {s.id: s.label for s in video.sections}
    context = {"user": user, "nav": "videos", "video": video, "job": job, "labels": labels,
               "editable": video.status == "ready" and job is None}  # fmt: skip
    return render(request, "video/player.html", context)


# -- the JSON API for the pages' scripts (the API's route functions, by session cookie) --------


@router.post("/ui/api/songs", status_code=status.HTTP_201_CREATED, response_model=SongOut)
async def upload_song(
    request: Request, user: PageUser, session: SessionDep, settings: SettingsDep,
    storage: StorageDep,
):  # fmt: skip
    return await songs_api.upload_song(request, user, session, settings, storage)


@router.post("/ui/api/songs/{song_id}/analyze", status_code=202, response_model=AnalyzeAccepted)
def analyze_song(song_id: str, user: PageUser, session: SessionDep):
    return songs_api.analyze_song(song_id, user, session)


@router.delete("/ui/api/songs/{song_id}", status_code=204)
def delete_song(song_id: str, user: PageUser, session: SessionDep, storage: StorageDep):
    return songs_api.delete_song(song_id, user, session, storage)


@router.get("/ui/api/songs/{song_id}/file")
def song_file(song_id: str, user: PageUser, session: SessionDep, storage: StorageDep):
    return songs_api.song_file(song_id, user, session, storage, inline=True)


@router.get("/ui/api/songs/{song_id}/analysis")
def song_analysis(song_id: str, user: PageUser, session: SessionDep) -> dict[str, Any]:
    return songs_api.song_analysis(song_id, user, session)


@router.get("/ui/api/songs/{song_id}/video/suggestion")
def suggestion(song_id: str, user: PageUser, session: SessionDep, settings: SettingsDep):
    return video_api.get_suggestion(song_id, user, session, settings)


@router.get("/ui/api/songs/{song_id}/sections", response_model=list[SectionOut])
def list_sections(song_id: str, user: PageUser, session: SessionDep, settings: SettingsDep):
    return video_api.list_sections(song_id, user, session, settings)


@router.post("/ui/api/songs/{song_id}/sections", status_code=201,
             response_model=list[SectionOut])  # fmt: skip
def create_sections(
    song_id: str, body: SectionsCreate, user: PageUser, session: SessionDep, settings: SettingsDep
):
    return video_api.create_sections(song_id, body, user, session, settings)


@router.patch("/ui/api/songs/{song_id}/sections/{section_id}", response_model=SectionOut)
def patch_section(
    song_id: str,
    section_id: str,
    body: SectionPatch,
    user: PageUser,
    session: SessionDep,
    settings: SettingsDep,
):
    return video_api.patch_section(song_id, section_id, body, user, session, settings)


@router.post("/ui/api/songs/{song_id}/clips/generate", status_code=202, response_model=Accepted)
def generate_clips(
    song_id: str,
    user: PageUser,
    session: SessionDep,
    settings: SettingsDep,
    body: GenerateRequest | None = None,
):
    return video_api.generate_clips(song_id, user, session, settings, body)


@router.get("/ui/api/songs/{song_id}/generation/status")
def generation_status(song_id: str, user: PageUser, session: SessionDep):
    return video_api.generation_status(song_id, user, session)


@router.get("/ui/api/videos/{video_id}", response_model=VideoOut)
def get_video(video_id: str, user: PageUser, session: SessionDep, settings: SettingsDep):
    return video_api.get_video(video_id, user, session, settings)


@router.delete("/ui/api/videos/{video_id}", status_code=204)
def delete_video(video_id: str, user: PageUser, session: SessionDep, storage: StorageDep):
    return video_api.delete_video(video_id, user, session, storage)


@router.post("/ui/api/videos/{video_id}/regenerate/section/{section_id}", status_code=202,
             response_model=Accepted)  # fmt: skip
def regenerate_section(
    video_id: str, section_id: str, user: PageUser, session: SessionDep, settings: SettingsDep
):
    return video_api.regenerate_section(video_id, section_id, user, session, settings)


@router.post("/ui/api/videos/{video_id}/regenerate/clip/{clip_id}", status_code=202,
             response_model=Accepted)  # fmt: skip
def regenerate_clip(
    video_id: str, clip_id: str, user: PageUser, session: SessionDep, settings: SettingsDep
):
    return video_api.regenerate_clip(video_id, clip_id, user, session, settings)


@router.post("/ui/api/videos/{video_id}/finalize", response_model=VideoOut)
def finalize(video_id: str, user: PageUser, session: SessionDep, storage: StorageDep):
    return video_api.finalize(video_id, user, session, storage)


@router.post("/ui/api/videos/{video_id}/share", response_model=ShareOut)
def share_video(video_id: str, user: PageUser, session: SessionDep):
    return video_api.share_video(video_id, user, session)


@router.delete("/ui/api/videos/{video_id}/share", status_code=204)
def revoke_share(video_id: str, user: PageUser, session: SessionDep):
    return video_api.revoke_share(video_id, user, session)


@router.get("/ui/api/videos/{video_id}/file")
def video_file(video_id: str, user: PageUser, session: SessionDep, storage: StorageDep):
    return video_api.video_file(video_id, user, session, storage)


@router.get("/ui/api/videos/{video_id}/poster")
def video_poster(video_id: str, user: PageUser, session: SessionDep, storage: StorageDep):
    return video_api.video_poster(video_id, user, session, storage)


@router.get("/ui/api/videos/{video_id}/lyrics.vtt")
def video_lyrics(video_id: str, user: PageUser, session: SessionDep, storage: StorageDep):
    return video_api.video_lyrics(video_id, user, session, storage)
