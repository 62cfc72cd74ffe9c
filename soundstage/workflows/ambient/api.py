"""Ambient studio routes (names from seed 000): generate, render, history, tracks, stats, batch."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from soundstage.platform.deps import CurrentUser, SessionDep, SettingsDep, StorageDep
from soundstage.platform.errors import NotFound
from soundstage.platform.http import Page, PageDep, paginate
from soundstage.platform.storage import file_response
from soundstage.workflows.ambient import service
from soundstage.workflows.ambient.models import Track, TrackStatus
from soundstage.workflows.ambient.schemas import (
    BatchOut,
    BatchRequest,
    GenerateAccepted,
    GenerateRequest,
    LinkOut,
    RenderRequest,
    StatsOut,
    TrackOut,
    TrackSummary,
)

router = APIRouter(tags=["ambient"])

MEDIA_TYPES = {
    "mp3": "audio/mpeg", "m4a": "audio/mp4", "wav": "audio/wav", "flac": "audio/flac",
    "midi": "audio/midi", "cover": "image/png", "video": "video/mp4",
    "preview": "audio/mpeg", "stems": "application/zip",  # track platform (docs/tracks.md)
}  # fmt: skip


def _file_kind(kind: str) -> str:
    return "stem" if kind.startswith("stem:") else kind


def _files_out(track: Track) -> list[dict[str, Any]]:
    return [
        {"kind": kind, "name": entry["name"], "size": entry["size"],
         "url": f"/api/tracks/{track.id}/files/{kind}"}
        for kind, entry in sorted(track.files.items())
    ]  # fmt: skip


def track_out(track: Track) -> TrackOut:
    data = {name: getattr(track, name) for name in TrackOut.model_fields if name != "files"}
    return TrackOut(**data, files=_files_out(track))


@router.post("/api/generate", status_code=status.HTTP_202_ACCEPTED, response_model=GenerateAccepted)
def generate(
    request: GenerateRequest, user: CurrentUser, session: SessionDep, settings: SettingsDep
):
    """Queue an ambient track; follow it at /api/jobs/{job_id} or its /events stream."""
    track, job = service.create_generation(session, user.id, request, settings)
    session.commit()
    return GenerateAccepted(track_id=track.id, job_id=job.id)


@router.post("/api/render", status_code=status.HTTP_202_ACCEPTED, response_model=GenerateAccepted)
def render(request: RenderRequest, user: CurrentUser, session: SessionDep):
    """Queue a 1080p30 MP4 of a ready track (its cover held over its audio)."""
    track, job = service.request_render(session, user.id, request.track_id)
    session.commit()
    return GenerateAccepted(track_id=track.id, job_id=job.id)


@router.get("/api/history", response_model=Page[TrackSummary])
def history(
    user: CurrentUser,
    session: SessionDep,
    page: PageDep,
    status: Annotated[TrackStatus | None, Query(description="Only tracks in this status")] = None,
    q: Annotated[
        str | None, Query(max_length=200, description="Text in the prompt or title")
    ] = None,
    date_from: Annotated[
        datetime | None, Query(description="Created at or after (ISO 8601)")
    ] = None,
    date_to: Annotated[
        datetime | None, Query(description="Created at or before (ISO 8601)")
    ] = None,
):
    """Your tracks, newest first."""
    stmt = service.history_query(user.id, status=status, q=q, date_from=date_from, date_to=date_to)
    return paginate(session, stmt, page, TrackSummary.model_validate)


@router.get("/api/tracks/{track_id}", response_model=TrackOut)
def get_track(track_id: str, user: CurrentUser, session: SessionDep):
    return track_out(service.get_track(session, user.id, track_id))


@router.delete("/api/tracks/{track_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_track(track_id: str, user: CurrentUser, session: SessionDep, storage: StorageDep):
    """Delete a track and every file it has; unfinished jobs are cancelled."""
    service.delete_track(session, storage, user.id, track_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _stored_file(track: Track, kind: str) -> dict[str, Any]:
    entry = track.files.get(kind)
    if entry is None:
        raise NotFound(
            f"this track has no {kind!r} file; it has: {', '.join(sorted(track.files)) or 'none yet'}"
        )
    return entry


@router.get("/api/tracks/{track_id}/files/{kind}")
def download(
    track_id: str,
    kind: str,
    user: CurrentUser,
    session: SessionDep,
    storage: StorageDep,
    inline: bool = Query(True, description="Play in the browser instead of downloading"),
):
    """Stream or download a file of the track (HTTP Range supported): mp3, m4a, wav, flac,
    midi, cover, video, or stem:<layer>; track-platform tracks add preview and stems (ZIP)."""
    entry = _stored_file(service.get_track(session, user.id, track_id), kind)
    name = entry["name"].split("/")[-1]
    media = MEDIA_TYPES.get(_file_kind(kind), "audio/flac")
    return file_response(storage, entry["key"], name, media, inline=inline)


@router.get("/api/tracks/{track_id}/peaks")
def peaks(track_id: str, user: CurrentUser, session: SessionDep, storage: StorageDep) -> dict:
    """Waveform peaks (2000 points, 0..1) for drawing a track of any length without decoding it."""
    track = service.get_track(session, user.id, track_id)
    return {"duration_s": track.duration_s, "peaks": service.track_peaks(storage, track)}


@router.get("/api/tracks/{track_id}/files/{kind}/link", response_model=LinkOut)
def download_link(track_id: str, kind: str, user: CurrentUser, session: SessionDep, storage: StorageDep,
                  settings: SettingsDep):  # fmt: skip
    """A signed link that downloads the file without logging in, until it expires."""
    entry = _stored_file(service.get_track(session, user.id, track_id), kind)
    ttl = settings.signed_link_ttl_s
    url = storage.download_url(entry["key"], ttl, filename=entry["name"].split("/")[-1])
    return LinkOut(url=url, expires_in_s=ttl)


@router.get("/api/stats", response_model=StatsOut)
def stats(user: CurrentUser, session: SessionDep):
    """Counts, minutes of music, storage used and mean generation and render times."""
    return service.stats(session, user.id)


@router.post("/api/batch/generate", status_code=status.HTTP_202_ACCEPTED, response_model=BatchOut)
def batch_generate(
    request: BatchRequest, user: CurrentUser, session: SessionDep, settings: SettingsDep
):
    """Queue many tracks at once: a list of items, or a template repeated `count` times."""
    batch = service.create_batch(session, user.id, request, settings)
    session.commit()
    return service.batch_status(session, batch)


@router.get("/api/batch/{batch_id}", response_model=BatchOut)
def batch_status(batch_id: str, user: CurrentUser, session: SessionDep):
    """Progress of every item of a batch."""
    return service.batch_status(session, service.get_batch(session, user.id, batch_id))
