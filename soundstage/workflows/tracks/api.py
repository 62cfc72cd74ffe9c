"""Track platform routes (seed 004): create and list tracks, publish, new covers, public
tracks, series and style.

A track is a row of the ambient studio's `tracks` table, so GET and DELETE
/api/tracks/{track_id} and its files (/api/tracks/{track_id}/files/{kind}) are the ambient
routes, for every kind of track; a track made here adds the files `preview` (MP3) and
`stems` (ZIP) and the seed-004 fields to what they answer.
"""

from __future__ import annotations

import io
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from PIL import Image
from pydantic import ValidationError

from soundstage.platform.deps import CurrentUser, SessionDep, SettingsDep, StorageDep
from soundstage.platform.errors import AppError, NotFound
from soundstage.platform.http import Page, PageDep, paginate, validation_detail
from soundstage.platform.storage import file_response
from soundstage.workflows.ambient.api import MEDIA_TYPES, track_out
from soundstage.workflows.ambient.models import Track, TrackStatus
from soundstage.workflows.ambient.schemas import TrackOut, TrackSummary
from soundstage.workflows.tracks import service
from soundstage.workflows.tracks.cover import render_cover
from soundstage.workflows.tracks.genres import GENRES
from soundstage.workflows.tracks.models import Series
from soundstage.workflows.tracks.schemas import (
    FileOut,
    GenreName,
    GenreOut,
    Geometry,
    MotifName,
    Palette,
    PublicFileKind,
    PublicTrackOut,
    PublishRequest,
    SeriesCreate,
    SeriesOut,
    SeriesUpdate,
    StyleOut,
    TrackAccepted,
    TrackCreate,
)
from soundstage.workflows.tracks.style import stable_seed

router = APIRouter(tags=["tracks"])

PUBLIC_KINDS = ("mp3", "preview", "cover")
PREVIEW_SIZE_PX = 512


def public_out(track: Track) -> PublicTrackOut:
    data = {n: getattr(track, n) for n in PublicTrackOut.model_fields if n != "files"}
    base = f"/api/public/tracks/{track.id}/files"
    files = [
        FileOut(kind=kind, name=entry["name"], size=entry["size"], url=f"{base}/{kind}")
        for kind, entry in sorted(track.files.items())
        if kind in PUBLIC_KINDS
    ]
    return PublicTrackOut(**data, files=files)


def series_out(series: Series, track_count: int) -> SeriesOut:
    return SeriesOut.model_validate(series).model_copy(
        update={"track_count": track_count, "preview_url": f"/api/series/{series.id}/preview.png"}
    )


# -- tracks ---------------------------------------------------------------------------------


@router.post(
    "/api/tracks",
    status_code=status.HTTP_201_CREATED,
    response_model=TrackAccepted,
    responses={
        402: {"description": "Not enough credits, or over a cost budget"},
        403: {"description": "Over the free plan's duration cap"},
        404: {"description": "Series or reference song not found"},
        409: {"description": "Reference song not analysed yet"},
        422: {"description": "Invalid request, vocals asked, or refused by the content policy"},
        429: {"description": "Free plan's daily limit, or the daily budget, reached"},
    },
)
def create_track(body: TrackCreate, user: CurrentUser, session: SessionDep, settings: SettingsDep):
    """Queue a track: its credits are charged now and refunded if the job fails or is
    cancelled. Follow the job at /api/jobs/{job_id}; the track is at /api/tracks/{track_id}."""
    track, job = service.create_track(session, settings, user.id, body)
    session.commit()
    return TrackAccepted(track_id=track.id, job_id=job.id, credits_required=track.credits_required)


@router.get("/api/tracks", response_model=Page[TrackSummary])
def list_tracks(
    user: CurrentUser,
    session: SessionDep,
    page: PageDep,
    kind: Annotated[
        str | None, Query(max_length=16, description="ambient or song (made here)")
    ] = None,
    status: Annotated[TrackStatus | None, Query(description="Only tracks in this status")] = None,
    genre: Annotated[GenreName | None, Query(description="Only tracks of this genre")] = None,
    series_id: Annotated[
        str | None, Query(max_length=64, description="Only tracks of this series")
    ] = None,
    public: Annotated[bool | None, Query(description="Only public (or private) tracks")] = None,
    q: Annotated[
        str | None, Query(max_length=200, description="Text in the prompt or title")
    ] = None,
):
    """Your tracks of every kind, newest first."""
    stmt = service.list_query(
        user.id, kind=kind, status=status, genre=genre, series_id=series_id, public=public, q=q
    )
    return paginate(session, stmt, page, TrackSummary.model_validate)


@router.get("/api/genres", response_model=list[GenreOut])
def list_genres(user: CurrentUser):
    """The genres the embedded engine plays: each is a mood, a band, textures and a tempo range."""
    return [
        GenreOut(name=g.name, description=g.description, mood=g.mood,
                 instruments=list(g.instruments), textures=list(g.textures), bpm_range=g.bpm)
        for g in GENRES.values()
    ]  # fmt: skip


@router.post("/api/tracks/{track_id}/publish", response_model=TrackOut)
def publish_track(track_id: str, body: PublishRequest, user: CurrentUser, session: SessionDep):
    """Make a ready track public (its page at /t/{track_id}) or private again."""
    track = service.publish(session, user.id, track_id, body.public)
    session.commit()
    return track_out(track)


@router.post("/api/tracks/{track_id}/increment-visual-version", response_model=TrackOut)
def increment_visual_version(
    track_id: str, user: CurrentUser, session: SessionDep, settings: SettingsDep,
    storage: StorageDep,
):  # fmt: skip
    """A new cover from the series' current style and the next visual version; the audio is
    untouched. The same version always gives the same cover."""
    return track_out(
        service.increment_visual_version(session, storage, settings, user.id, track_id)
    )


# -- public tracks ----------------------------------------------------------------------------


def stored_file(track: Track, kind: str) -> dict[str, Any]:
    entry = track.files.get(kind)
    if entry is None:
        raise NotFound(f"this track has no {kind!r} file")
    return entry


@router.get("/api/public/tracks/{track_id}", response_model=PublicTrackOut)
def public_track(track_id: str, session: SessionDep):
    """A published track, for anyone (no login); a private or unknown id is 404."""
    return public_out(service.public_track(session, track_id))


@router.get("/api/public/tracks/{track_id}/files/{kind}")
def public_track_file(
    track_id: str, kind: PublicFileKind, session: SessionDep, storage: StorageDep
):
    """The MP3, preview or cover of a published track (no login; HTTP Range supported)."""
    entry = stored_file(service.public_track(session, track_id), kind)
    return file_response(storage, entry["key"], entry["name"], MEDIA_TYPES[kind], inline=True)


# -- series and style -------------------------------------------------------------------------


@router.get("/api/series", response_model=list[SeriesOut])
def list_series(user: CurrentUser, session: SessionDep):
    """Your series, the default one first (it is created the first time it is needed)."""
    rows = service.list_series(session, user.id)
    session.commit()
    return [series_out(series, count) for series, count in rows]


@router.post("/api/series", status_code=status.HTTP_201_CREATED, response_model=SeriesOut)
def create_series(
    body: SeriesCreate, user: CurrentUser, session: SessionDep, settings: SettingsDep
):
    """A new series; palette and geometry not given are derived from your style seed and the
    series name. The motif must be one you have unlocked (403 otherwise)."""
    series = service.create_series(session, settings, user.id, body)
    session.commit()
    return series_out(series, 0)


@router.get("/api/series/{series_id}", response_model=SeriesOut)
def get_series(series_id: str, user: CurrentUser, session: SessionDep):
    series = service.get_series(session, user.id, series_id)
    return series_out(series, service.series_track_count(session, series.id))


@router.patch("/api/series/{series_id}", response_model=SeriesOut)
def update_series(series_id: str, body: SeriesUpdate, user: CurrentUser, session: SessionDep):
    """Rename or restyle a series; palette and geometry fields left out keep their values.
    Existing covers change when their track gets a new visual version."""
    series = service.update_series(session, user.id, series_id, body)
    session.commit()
    return series_out(series, service.series_track_count(session, series.id))


@router.delete("/api/series/{series_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_series(series_id: str, user: CurrentUser, session: SessionDep):
    """Delete a series (not the default one: 409); its tracks move to the default series."""
    service.delete_series(session, user.id, series_id)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _hues(text: str | None) -> list[float] | None:
    if text is None:
        return None
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise AppError("hues: give numbers between 0 and 360 separated by commas", 422) from None


def preview_style(
    series: Series, overrides: dict[str, Any], motif: str | None
) -> tuple[dict[str, Any], dict[str, Any], str]:
    """The series' style with query overrides applied and validated (422 naming the field)."""
    palette = {**series.palette, **{k: v for k, v in overrides.items()
                                    if k in Palette.model_fields and v is not None}}  # fmt: skip
    geometry = {**series.geometry, **{k: v for k, v in overrides.items()
                                      if k in Geometry.model_fields and v is not None}}  # fmt: skip
    try:
        palette = Palette.model_validate(palette).model_dump()
        geometry = Geometry.model_validate(geometry).model_dump()
    except ValidationError as error:
        raise AppError(validation_detail(error.errors())[0], 422) from None
    return palette, geometry, motif or series.motif


@router.get(
    "/api/series/{series_id}/preview.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
)
def series_preview(
    series_id: str,
    user: CurrentUser,
    session: SessionDep,
    motif: MotifName | None = None,
    hues: Annotated[str | None, Query(max_length=100, description="e.g. 210,250,30")] = None,
    luminance: float | None = None,
    saturation: float | None = None,
    stroke_width: float | None = None,
    rotation: float | None = None,
    gradient_angle: float | None = None,
    shape_count: int | None = None,
    version: Annotated[int, Query(ge=1, le=10_000, description="Which variation")] = 1,
    size: Annotated[int, Query(ge=64, le=1024)] = PREVIEW_SIZE_PX,
):
    """A cover in this series' style, for the editor; query values preview changes unsaved.
    (Any motif previews; saving one needs it unlocked.)"""
    series = service.get_series(session, user.id, series_id)
    overrides = {"hues": _hues(hues), "luminance": luminance, "saturation": saturation,
                 "stroke_width": stroke_width, "rotation": rotation,
                 "gradient_angle": gradient_angle, "shape_count": shape_count}  # fmt: skip
    palette, geometry, chosen = preview_style(series, overrides, motif)
    image = render_cover(palette, geometry, chosen, stable_seed("series-preview", series.id,
                                                                 version), size)  # fmt: skip
    return _png(image)


def _png(image: Image.Image) -> Response:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return Response(buffer.getvalue(), media_type="image/png",
                    headers={"Cache-Control": "no-store"})  # fmt: skip


@router.get("/api/style", response_model=StyleOut)
def get_style(user: CurrentUser, session: SessionDep):
    """Your style seed, the motifs you have unlocked and what the next unlock needs."""
    summary = service.style_summary(session, user.id)
    session.commit()
    return summary
