"""Track platform pages: /tracks/new (the create form with its live credit cost, a reference
upload analysed in place, your recent tracks), the public track page /t/{id}, /styles
(series editor with live cover previews, unlocks), and the publish / new-cover panel
that the studio's track page (/tracks/{id}, soundstage/web/ambient.py) includes.

Handlers parse forms into the API's request models and call the track service, so the
rules and messages are the API's. The pages' own routes live under /ui/track-platform/
and /ui/series/ (session cookie, same-origin check).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

import anyio
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select

from soundstage.media.music.theory import MODES
from soundstage.platform.billing.api import preview_cost
from soundstage.platform.deps import SessionDep, SettingsDep, StorageDep
from soundstage.platform.errors import AppError, NotFound
from soundstage.platform.http import validation_detail
from soundstage.platform.jobs import Job
from soundstage.web.auth import FormDep, OptionalPageUser, PageUser, same_origin
from soundstage.web.templating import render
from soundstage.workflows.ambient.models import Track
from soundstage.workflows.ambient.service import get_track
from soundstage.workflows.songs import api as songs_api
from soundstage.workflows.songs import service as songs_service
from soundstage.workflows.songs.models import Song, SongStatus
from soundstage.workflows.tracks import api as tracks_api
from soundstage.workflows.tracks import service
from soundstage.workflows.tracks.genres import DEFAULT_GENRE, GENRES
from soundstage.workflows.tracks.models import SONG_KIND, UNFINISHED
from soundstage.workflows.tracks.pipeline import GENERATE_JOB
from soundstage.workflows.tracks.schemas import (
    MAX_BPM,
    MAX_DURATION_S,
    MAX_LYRICS_CHARS,
    MIN_BPM,
    MIN_DURATION_S,
    SeriesCreate,
    SeriesUpdate,
    TrackCreate,
)
from soundstage.workflows.tracks.style import MOTIFS

router = APIRouter(tags=["web"], include_in_schema=False, dependencies=[Depends(same_origin)])

KEYS = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]
RECENT_TRACKS = 12
DEFAULT_DURATION_S = 30
# The pages' own routes; /ui/tracks/... belongs to the ambient studio's pages.
UI = "/ui/track-platform"


def _text(form, name: str) -> str | None:
    value = form.get(name)
    value = str(value).strip() if value is not None else ""
    return value or None


def _form_error(request: Request, target: str, message: str) -> Response:
    """The error next to a form (200, retargeted, so htmx swaps it in)."""
    return render(request, "tracks/_form_error.html", {"message": message},
                  headers={"HX-Retarget": target, "HX-Reswap": "innerHTML"})  # fmt: skip


def _jobs(session, tracks: list[Track]) -> dict[str, Job]:
    ids = [t.generate_job_id for t in tracks if t.generate_job_id and t.status in UNFINISHED]
    if not ids:
        return {}
    return {j.id: j for j in session.scalars(select(Job).where(Job.id.in_(ids)))}


def _cards(session, tracks: list[Track]) -> list[dict[str, Any]]:
    """Each track with its unfinished job, for the studio's track cards (live progress)."""
    jobs = _jobs(session, tracks)
    return [{"track": t, "job": jobs.get(t.generate_job_id or "")} for t in tracks]


def _analysed_songs(session, user_id: str) -> list[Song]:
    stmt = (
        select(Song)
        .where(Song.owner_id == user_id, Song.status == SongStatus.ANALYZED)
        .order_by(Song.created_at.desc())
        .limit(50)
    )
    return list(session.scalars(stmt))


def _cost(session, settings, user_id: str, duration_s: float | None) -> dict[str, Any]:
    """The credit cost preview, or a note saying what duration to enter."""
    if duration_s is None or not MIN_DURATION_S <= duration_s <= MAX_DURATION_S:
        return {"note": f"Enter a duration from {MIN_DURATION_S:g} to {MAX_DURATION_S:g} s."}
    return {"cost": preview_cost(session, settings, user_id, duration_s, GENERATE_JOB)}


# -- the create page ----------------------------------------------------------------------------


@router.get("/tracks")
def tracks_root() -> Response:
    return RedirectResponse("/tracks/new", status_code=303)


@router.get("/tracks/new")
def new_track_page(request: Request, user: PageUser, session: SessionDep, settings: SettingsDep):
    recent = session.scalars(service.list_query(user.id, kind=SONG_KIND).limit(RECENT_TRACKS)).all()
    series = [s for s, _ in service.list_series(session, user.id)]
    context = {
        "user": user, "nav": "tracks", "cards": _cards(session, list(recent)), "series": series,
        "genres": list(GENRES.values()), "default_genre": DEFAULT_GENRE, "keys": KEYS,
        "modes": ["major", "minor", *[m for m in MODES if m not in ("ionian", "aeolian")]],
        "songs": _analysed_songs(session, user.id), "selected_song": None,
        "limits": {"min_duration": MIN_DURATION_S, "max_duration": MAX_DURATION_S,
                   "min_bpm": MIN_BPM, "max_bpm": MAX_BPM, "lyrics": MAX_LYRICS_CHARS},
        "duration": DEFAULT_DURATION_S,
        **_cost(session, settings, user.id, DEFAULT_DURATION_S),
    }  # fmt: skip
    session.commit()  # the default series and the credit account, made on first visit
    return render(request, "tracks/new.html", context)


def _create_body(form) -> TrackCreate:
    data = {
        "prompt": form.get("prompt", ""), "title": _text(form, "title"),
        "duration_s": _text(form, "duration_s"), "genre": _text(form, "genre"),
        "key": _text(form, "key"), "mode": _text(form, "mode"), "bpm": _text(form, "bpm"),
        "seed": _text(form, "seed"), "style_strength": _text(form, "style_strength"),
        "lyrics": _text(form, "lyrics"), "has_vocals": form.get("has_vocals") == "on",
        "reference_song_id": _text(form, "reference_song_id"),
        "series_id": _text(form, "series_id"),
    }  # fmt: skip
    return TrackCreate.model_validate({k: v for k, v in data.items() if v is not None})


@router.post(f"{UI}/tracks")
def create_track(
    request: Request,
    user: PageUser,
    session: SessionDep,
    settings: SettingsDep,
    form: FormDep,
):
    try:
        track, _job = service.create_track(session, settings, user.id, _create_body(form))
        session.commit()
    except ValidationError as exc:
        return _form_error(request, "#track-errors", validation_detail(exc.errors())[0])
    except AppError as exc:
        session.rollback()
        return _form_error(request, "#track-errors", exc.message)
    context = {"cards": _cards(session, [track]),
               **_cost(session, settings, user.id, track.duration_s)}  # fmt: skip
    session.commit()
    return render(request, "tracks/_created.html", context)


@router.get(f"{UI}/cost-preview")
def cost_preview(
    request: Request,
    user: PageUser,
    session: SessionDep,
    settings: SettingsDep,
    duration_s: str = "",
):
    try:
        seconds: float | None = float(duration_s)
    except ValueError:
        seconds = None
    context = _cost(session, settings, user.id, seconds)
    session.commit()
    return render(request, "tracks/_cost.html", context)


# -- reference upload ------------------------------------------------------------------------


def _reference_slot(request: Request, session, user_id: str, **extra: Any) -> Response:
    context = {"songs": _analysed_songs(session, user_id), "selected_song": None, **extra}
    return render(request, "tracks/_reference.html", context)


@router.post(f"{UI}/reference")
async def upload_reference(
    request: Request, user: PageUser, session: SessionDep, settings: SettingsDep,
    storage: StorageDep,
):  # fmt: skip
    """Store the uploaded song (the songs API's own upload) and queue its analysis.

    Only the upload is read on the event loop; database work runs in a thread.
    """
    try:
        song = await songs_api.upload_song(request, user, session, settings, storage)
    except (AppError, HTTPException) as exc:  # 413 (too large) and 400s from the reader
        message = exc.message if isinstance(exc, AppError) else str(exc.detail)
        return await anyio.to_thread.run_sync(
            _refused_reference, request, session, user.id, message
        )
    return await anyio.to_thread.run_sync(_analyse_reference, request, session, user.id, song.id)


def _refused_reference(request: Request, session, user_id: str, message: str) -> Response:
    session.rollback()
    return _reference_slot(request, session, user_id, error=message)


def _analyse_reference(request: Request, session, user_id: str, song_id: str) -> Response:
    try:
        song, job = songs_service.request_analysis(session, user_id, song_id)
        session.commit()
    except AppError as exc:
        return _refused_reference(request, session, user_id, exc.message)
    return _reference_slot(request, session, user_id, analysing=song, job=job)


@router.get(f"{UI}/reference")
def reference_slot(
    request: Request, user: PageUser, session: SessionDep, selected: str | None = None
):
    """The reference picker; `selected` (a song just analysed) comes pre-selected."""
    return _reference_slot(request, session, user.id, selected_song=selected)


# -- the panel of the track page -----------------------------------------------------------------


@router.post(UI + "/tracks/{track_id}/publish")
def publish(track_id: str, request: Request, user: PageUser, session: SessionDep, form: FormDep):
    error = None
    try:
        track = service.publish(session, user.id, track_id, form.get("public") == "1")
        session.commit()
    except NotFound:
        raise
    except AppError as exc:
        session.rollback()
        error, track = exc.message, get_track(session, user.id, track_id)
    return render(request, "tracks/_publish.html", {"track": track, "publish_error": error})


@router.post(UI + "/tracks/{track_id}/visual-version")
def new_visual_version(
    track_id: str, request: Request, user: PageUser, session: SessionDep, settings: SettingsDep,
    storage: StorageDep,
):  # fmt: skip
    error = None
    try:
        track = service.increment_visual_version(session, storage, settings, user.id, track_id)
    except NotFound:
        raise
    except AppError as exc:
        session.rollback()
        error, track = exc.message, get_track(session, user.id, track_id)
    return render(request, "tracks/_cover.html", {"track": track, "cover_error": error})


# -- the public page ---------------------------------------------------------------------------


@router.get("/t/{track_id}")
def public_page(track_id: str, request: Request, session: SessionDep, user: OptionalPageUser):
    try:
        track = service.public_track(session, track_id)
    except NotFound:
        return render(request, "error.html",
                      {"user": user, "title": "No such track",
                       "message": "This track does not exist, or it is not public."},
                      status_code=404)  # fmt: skip
    files = f"/api/public/tracks/{track.id}/files"
    return render(request, "tracks/public.html", {"user": user, "track": track, "files": files})


# -- styles: series editor and unlocks ------------------------------------------------------------


def _styles_context(session, user_id: str, **extra: Any) -> dict[str, Any]:
    rows = service.list_series(session, user_id)
    summary = service.style_summary(session, user_id)
    return {"series_rows": rows, "style": summary, "motifs": MOTIFS,
            "unlocked": set(summary["unlocks"]), **extra}  # fmt: skip


@router.get("/styles")
def styles_page(request: Request, user: PageUser, session: SessionDep):
    context = {"user": user, "nav": "tracks", **_styles_context(session, user.id)}
    session.commit()
    return render(request, "tracks/styles.html", context)


def _series_fields(form) -> dict[str, Any]:
    hues = [_text(form, f"hue_{i}") for i in range(5)]
    palette = {"hues": [h for h in hues if h is not None] or None,
               "luminance": _text(form, "luminance"), "saturation": _text(form, "saturation")}  # fmt: skip
    geometry = {name: _text(form, name)
                for name in ("stroke_width", "rotation", "gradient_angle", "shape_count")}  # fmt: skip
    return {
        "name": _text(form, "name"), "motif": _text(form, "motif"),
        "palette": {k: v for k, v in palette.items() if v is not None} or None,
        "geometry": {k: v for k, v in geometry.items() if v is not None} or None,
    }  # fmt: skip


@router.post("/ui/series")
def create_series(
    request: Request,
    user: PageUser,
    session: SessionDep,
    settings: SettingsDep,
    form: FormDep,
):
    try:
        body = SeriesCreate.model_validate({"name": form.get("name", ""),
                                            "motif": _text(form, "motif")})  # fmt: skip
        service.create_series(session, settings, user.id, body)
        session.commit()
    except ValidationError as exc:
        return _form_error(request, "#series-errors", validation_detail(exc.errors())[0])
    except AppError as exc:
        session.rollback()
        return _form_error(request, "#series-errors", exc.message)
    return render(request, "tracks/_series_list.html", _styles_context(session, user.id, oob=True))


@router.post("/ui/series/{series_id}")
def save_series(
    series_id: str, request: Request, user: PageUser, session: SessionDep, form: FormDep
):
    message, error = None, None
    try:
        fields = {k: v for k, v in _series_fields(form).items() if v is not None}
        service.update_series(session, user.id, series_id, SeriesUpdate.model_validate(fields))
        session.commit()
        message = "Saved."
    except ValidationError as exc:
        error = validation_detail(exc.errors())[0]
    except NotFound:
        raise
    except AppError as exc:
        session.rollback()
        error = exc.message
    series = service.get_series(session, user.id, series_id)
    context = _styles_context(session, user.id)
    context.update(series=series, count=service.series_track_count(session, series.id),
                   saved=message, series_error=error)  # fmt: skip
    return render(request, "tracks/_series_card.html", context)


@router.post("/ui/series/{series_id}/delete")
def delete_series(series_id: str, request: Request, user: PageUser, session: SessionDep):
    try:
        service.delete_series(session, user.id, series_id)
        session.commit()
    except NotFound:
        raise
    except AppError as exc:
        session.rollback()
        return _form_error(request, "#series-errors", exc.message)
    return render(request, "tracks/_series_list.html", _styles_context(session, user.id, oob=True))


_PREVIEW_FIELDS = ("motif", "luminance", "saturation", "stroke_width", "rotation",
                   "gradient_angle", "shape_count")  # fmt: skip


@router.get("/ui/series/{series_id}/preview")
def series_preview_fragment(series_id: str, request: Request, user: PageUser, session: SessionDep):
    """The editor's live preview: an <img> of the form's unsaved values."""
    series = service.get_series(session, user.id, series_id)
    params = {name: request.query_params.get(name) for name in _PREVIEW_FIELDS}
    hues = [request.query_params.get(f"hue_{i}") for i in range(5)]
    params["hues"] = ",".join(h for h in hues if h) or None
    query = urlencode({k: v for k, v in params.items() if v})
    return render(request, "tracks/_preview.html",
                  {"series": series, "src": f"/ui/series/{series.id}/preview.png?{query}"})  # fmt: skip


@router.get("/ui/series/{series_id}/preview.png")
def series_preview_png(
    series_id: str,
    request: Request,
    user: PageUser,
    session: SessionDep,
    hues: Annotated[str | None, Query(max_length=100)] = None,
    motif: str | None = None,
    luminance: float | None = None,
    saturation: float | None = None,
    stroke_width: float | None = None,
    rotation: float | None = None,
    gradient_angle: float | None = None,
    shape_count: int | None = None,
    size: Annotated[int, Query(ge=64, le=1024)] = 384,
):
    """The API's preview by session cookie (unknown motifs fall back to the saved one)."""
    chosen = motif if motif in {m.name for m in MOTIFS} else None
    return tracks_api.series_preview(
        series_id, user, session, chosen, hues, luminance, saturation, stroke_width, rotation,
        gradient_angle, shape_count, 1, size,
    )  # fmt: skip
