"""Ambient studio pages: create (one track or a batch), history, track detail, files.

Page handlers parse forms into the API's request models and call the ambient
service, so the rules (limits, seeds, what may be rendered or deleted) live in
one place. Fragments answer htmx requests; full pages answer the rest.
"""

from __future__ import annotations

import re
import secrets
import zipfile
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from starlette.background import BackgroundTask

from soundstage.media.music.style import MOODS
from soundstage.media.music.theory import MODES
from soundstage.platform.deps import SessionDep, SettingsDep, StorageDep
from soundstage.platform.errors import AppError, NotFound
from soundstage.platform.http import PageParams, paginate, validation_detail
from soundstage.platform.jobs import Job
from soundstage.platform.storage import file_response
from soundstage.web.auth import FormDep, PageUser, is_htmx, same_origin
from soundstage.web.templating import render
from soundstage.workflows.ambient import service
from soundstage.workflows.ambient.api import MEDIA_TYPES
from soundstage.workflows.ambient.models import Track, TrackStatus, VideoStatus
from soundstage.workflows.ambient.schemas import BatchRequest, GenerateRequest

router = APIRouter(tags=["web"], include_in_schema=False, dependencies=[Depends(same_origin)])

KEYS = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]
HISTORY_PAGE_SIZE = 20
RECENT_TRACKS = 12
MAX_BATCH_COPIES = 20


def form_options(settings) -> dict[str, Any]:
    return {
        "keys": KEYS, "modes": ["major", "minor", *MODES], "moods": sorted(MOODS),
        "min_duration": settings.ambient_min_duration_s,
        "max_duration": settings.ambient_max_duration_s,
        "batch_max": settings.batch_max_items, "max_copies": MAX_BATCH_COPIES,
    }  # fmt: skip


def _text(form, name: str) -> str | None:
    value = form.get(name)
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def _common_fields(form) -> dict[str, Any]:
    """The fields shared by the single and the batch forms, as GenerateRequest wants them."""
    data: dict[str, Any] = {
        "duration_s": _text(form, "duration_s") or 180,
        "seed": _text(form, "seed"),
        "key": _text(form, "key"),
        "mode": _text(form, "mode"),
        "bpm": _text(form, "bpm"),
        "mood": _text(form, "mood"),
        "title": _text(form, "title"),
        "render_video": form.get("render_video") == "on",
        "stems": form.get("stems") == "on",
        "formats": [f for f in form.getlist("formats") if f in ("wav", "flac")],
    }
    return {k: v for k, v in data.items() if v is not None}


def _form_error(request: Request, target: str, message: str) -> Response:
    """The error shown next to the form (200, retargeted, so htmx swaps it)."""
    return render(
        request,
        "ambient/_form_error.html",
        {"message": message},
        headers={"HX-Retarget": target, "HX-Reswap": "innerHTML"},
    )


def _track_context(session, track: Track) -> dict[str, Any]:
    return {"track": track, "job": session.get(Job, track.generate_job_id or "")}


def _cards(session, tracks) -> list[dict[str, Any]]:
    """Each track with its generation job (to follow it while it is not ready)."""
    ids = [t.generate_job_id for t in tracks if t.generate_job_id]
    jobs = {j.id: j for j in session.scalars(select(Job).where(Job.id.in_(ids)))} if ids else {}
    return [{"track": t, "job": jobs.get(t.generate_job_id or "")} for t in tracks]


# -- create -----------------------------------------------------------------


@router.get("/")
def create_page(request: Request, user: PageUser, session: SessionDep, settings: SettingsDep):
    stmt = service.history_query(user.id).limit(RECENT_TRACKS)
    recent = _cards(session, session.scalars(stmt).all())
    return render(request, "ambient/create.html",
                  {"user": user, "recent": recent, **form_options(settings)})  # fmt: skip


@router.post("/ui/generate")
def generate(
    request: Request, user: PageUser, session: SessionDep, settings: SettingsDep, form: FormDep
):
    try:
        body = GenerateRequest.model_validate({"prompt": form.get("prompt", ""), **_common_fields(form)})  # fmt: skip
        track, _ = service.create_generation(session, user.id, body, settings)
        session.commit()
    except ValidationError as exc:
        return _form_error(request, "#generate-errors", validation_detail(exc.errors())[0])
    except AppError as exc:
        return _form_error(request, "#generate-errors", exc.message)
    return render(request, "ambient/_created.html", {"items": _cards(session, [track])})


def _batch_request(form) -> BatchRequest:
    prompts = [line.strip() for line in str(form.get("prompts", "")).splitlines() if line.strip()]
    if not prompts:
        raise AppError("prompts: write at least one prompt, one per line", 422)
    try:
        copies = int(form.get("count") or 1)
    except ValueError:
        raise AppError("count: must be a whole number", 422) from None
    if not 1 <= copies <= MAX_BATCH_COPIES:
        raise AppError(f"count: must be between 1 and {MAX_BATCH_COPIES}", 422)
    common = _common_fields(form)
    if len(prompts) == 1:
        return BatchRequest.model_validate(
            {"template": {"prompt": prompts[0], **common}, "count": copies}
        )
    items = [{"prompt": p, **common} for p in prompts for _ in range(copies)]
    return BatchRequest.model_validate({"items": items})


@router.post("/ui/batch")
def batch(
    request: Request, user: PageUser, session: SessionDep, settings: SettingsDep, form: FormDep
):
    try:
        created = service.create_batch(session, user.id, _batch_request(form), settings)
        session.commit()
    except ValidationError as exc:
        return _form_error(request, "#batch-errors", validation_detail(exc.errors())[0])
    except AppError as exc:
        return _form_error(request, "#batch-errors", exc.message)
    return render(request, "ambient/_created.html",
                  {"batch": created, "items": _cards(session, _batch_tracks(session, created))})  # fmt: skip


def _batch_tracks(session, batch) -> list[Track]:
    tracks = [session.get(Track, item.track_id) for item in batch.items if item.track_id]
    return [t for t in tracks if t is not None]


@router.get("/batches/{batch_id}")
def batch_page(batch_id: str, request: Request, user: PageUser, session: SessionDep):
    try:
        found = service.get_batch(session, user.id, batch_id)
    except NotFound:
        return not_found(request, user, "batch")
    status = service.batch_status(session, found)
    return render(request, "ambient/batch.html",
                  {"user": user, "batch": status,
                   "items": _cards(session, _batch_tracks(session, found))})  # fmt: skip


@router.get("/ui/batches/{batch_id}/summary")
def batch_summary(batch_id: str, request: Request, user: PageUser, session: SessionDep):
    """The batch's live counts (the page polls this until every item is finished)."""
    status = service.batch_status(session, service.get_batch(session, user.id, batch_id))
    return render(request, "ambient/_batch_summary.html", {"batch": status})


@router.get("/ui/tracks/{track_id}/card")
def track_card(track_id: str, request: Request, user: PageUser, session: SessionDep):
    track = service.get_track(session, user.id, track_id)
    return render(request, "ambient/_track_card.html", _track_context(session, track))


# -- history ------------------------------------------------------------------


def _parse_day(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


@router.get("/history")
def history_page(
    request: Request,
    user: PageUser,
    session: SessionDep,
    q: Annotated[str, Query(max_length=200)] = "",
    status: str = "",
    date_from: str = "",
    date_to: str = "",
    page: Annotated[int, Query(ge=1)] = 1,
):
    statuses = [s.value for s in TrackStatus]
    filters = {"q": q.strip(), "status": status if status in statuses else "",
               "date_from": date_from, "date_to": date_to}  # fmt: skip
    day_from, day_to = _parse_day(date_from), _parse_day(date_to)
    notes = [f"{name}: not a date" for name, value, day in
             (("From", date_from, day_from), ("To", date_to, day_to)) if value and day is None]  # fmt: skip
    stmt = service.history_query(
        user.id,
        status=filters["status"] or None,
        q=filters["q"] or None,
        date_from=datetime.combine(day_from, time.min, UTC) if day_from else None,
        date_to=datetime.combine(day_to + timedelta(days=1), time.min, UTC)
        - timedelta(microseconds=1)
        if day_to
        else None,
    )
    results = paginate(session, stmt, PageParams(page=page, page_size=HISTORY_PAGE_SIZE))
    pages = max(1, -(-results["total"] // HISTORY_PAGE_SIZE))
    context = {"user": user, "filters": filters, "statuses": statuses, "results": results,
               "pages": pages, "notes": notes}  # fmt: skip
    if is_htmx(request) and request.headers.get("hx-target") == "history-results":
        return render(request, "ambient/_history_results.html", context)
    context["stats"] = service.stats(session, user.id)
    context["activity"] = service.activity(session, user.id, days=30)
    return render(request, "ambient/history.html", context)


# -- track ----------------------------------------------------------------------


def not_found(request: Request, user, what: str) -> Response:
    return render(request, "error.html",
                  {"user": user, "title": f"No such {what}",
                   "message": f"This {what} does not exist, or it is not yours."},
                  status_code=404)  # fmt: skip


def _assets_context(session, track: Track, error: str | None = None) -> dict[str, Any]:
    render_job = session.get(Job, track.render_job_id or "")
    stems = [kind for kind in track.files if kind.startswith("stem:")]
    return {"track": track, "render_job": render_job, "render_error": error, "stems": stems,
            "video_busy": track.video_status in (VideoStatus.QUEUED, VideoStatus.RENDERING)}  # fmt: skip


@router.get("/tracks/{track_id}")
def track_page(track_id: str, request: Request, user: PageUser, session: SessionDep):
    try:
        track = service.get_track(session, user.id, track_id)
    except NotFound:
        return not_found(request, user, "track")
    context = {"user": user, **_track_context(session, track), **_assets_context(session, track)}
    return render(request, "ambient/track.html", context)


@router.get("/ui/tracks/{track_id}/assets")
def track_assets(track_id: str, request: Request, user: PageUser, session: SessionDep):
    track = service.get_track(session, user.id, track_id)
    return render(request, "ambient/_assets.html", _assets_context(session, track))


@router.post("/ui/tracks/{track_id}/render")
def render_video(track_id: str, request: Request, user: PageUser, session: SessionDep):
    error = None
    try:
        track, _ = service.request_render(session, user.id, track_id)
        session.commit()
    except NotFound:
        raise
    except AppError as exc:
        session.rollback()
        error = exc.message
        track = service.get_track(session, user.id, track_id)
    return render(request, "ambient/_assets.html", _assets_context(session, track, error))


@router.delete("/ui/tracks/{track_id}")
def delete_track(
    track_id: str, request: Request, user: PageUser, session: SessionDep, storage: StorageDep
):
    service.delete_track(session, storage, user.id, track_id)
    return Response(status_code=200, headers={"HX-Redirect": "/history?deleted=1"})


def _stored(track: Track, kind: str) -> dict[str, Any]:
    entry = track.files.get(kind)
    if entry is None:
        raise NotFound(f"this track has no {kind!r} file")
    return entry


@router.get("/tracks/{track_id}/files/{kind}")
def track_file(
    track_id: str,
    kind: str,
    user: PageUser,
    session: SessionDep,
    storage: StorageDep,
    download: bool = False,
):
    """A file of the track for players (inline, HTTP Range) or as a download."""
    entry = _stored(service.get_track(session, user.id, track_id), kind)
    media = MEDIA_TYPES.get("stem" if kind.startswith("stem:") else kind, "audio/flac")
    return file_response(storage, entry["key"], entry["name"].split("/")[-1], media,
                         inline=not download)  # fmt: skip


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "track"


@router.get("/tracks/{track_id}/peaks.json")
def track_peaks(track_id: str, user: PageUser, session: SessionDep, storage: StorageDep):
    """The player's waveform, drawn from server-side peaks for a track of any length."""
    track = service.get_track(session, user.id, track_id)
    return {"duration_s": track.duration_s, "peaks": service.track_peaks(storage, track)}


@router.get("/tracks/{track_id}/stems.zip")
def stems_zip(
    track_id: str, user: PageUser, session: SessionDep, storage: StorageDep, settings: SettingsDep
):
    """Every stem of the track in one ZIP (stored, not recompressed: FLAC is compressed)."""
    track = service.get_track(session, user.id, track_id)
    stems = sorted((k, e) for k, e in track.files.items() if k.startswith("stem:"))
    if not stems:
        raise NotFound("this track has no stems")
    work = settings.tmp_dir / "web"
    work.mkdir(parents=True, exist_ok=True)
    path = work / f"stems-{secrets.token_hex(8)}.zip"
    try:
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
            for _, entry in stems:
                zf.write(storage.local_path(entry["key"]), arcname=entry["name"].split("/")[-1])
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return FileResponse(path, media_type="application/zip",
                        filename=f"{slug(track.title)}-stems.zip",
                        background=BackgroundTask(path.unlink, missing_ok=True))  # fmt: skip
