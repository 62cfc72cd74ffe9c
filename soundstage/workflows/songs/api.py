"""Song library routes: upload, list, get, delete, stream, analyze, analysis, reference."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Query, Request, Response, status
from sqlalchemy.orm import Session

from soundstage.config import Settings
from soundstage.platform.deps import CurrentUser, SessionDep, SettingsDep, StorageDep
from soundstage.platform.errors import NotFound
from soundstage.platform.http import Page, PageDep, paginate
from soundstage.platform.quotas import check_storage_quota
from soundstage.platform.storage import Storage, file_response
from soundstage.workflows.songs import service
from soundstage.workflows.songs.models import Song, SongStatus
from soundstage.workflows.songs.schemas import (
    MAX_LYRICS_CHARS,
    AnalyzeAccepted,
    AnalyzeRequest,
    ReferenceOut,
    SongOut,
    SongSummary,
)
from soundstage.workflows.songs.upload import (
    ACCEPTED,
    Unprocessable,
    Upload,
    inspect_audio,
    receive_upload,
)

router = APIRouter(tags=["songs"])


def _multipart(with_lyrics: bool) -> dict[str, Any]:
    """OpenAPI for a body read by hand (streamed to disk, never buffered)."""
    properties: dict[str, Any] = {
        "file": {"type": "string", "format": "binary", "description": f"{ACCEPTED} audio"}
    }
    if with_lyrics:
        properties["lyrics"] = {
            "type": "string", "maxLength": MAX_LYRICS_CHARS,
            "description": "Optional lyrics, one line per sung line, to align during analysis",
        }  # fmt: skip
    schema = {"type": "object", "required": ["file"], "properties": properties}
    return {
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}
    }


async def _end_transaction(session: Session) -> None:
    """End the transaction the login check opened, so no lock is held while a body streams in.

    (On SQLite every transaction is BEGIN IMMEDIATE: it would block every writer.)
    """
    await anyio.to_thread.run_sync(session.commit)


def _summary(song: Song) -> dict[str, Any]:
    data = {name: getattr(song, name) for name in SongSummary.model_fields if hasattr(song, name)}
    base = f"/api/songs/{song.id}"
    data.update(
        has_lyrics=bool(song.lyrics), file_url=f"{base}/file", analysis_url=f"{base}/analysis",
        cover_url=f"{base}/cover" if song.cover_key else None,
    )  # fmt: skip
    return data


def song_out(song: Song) -> SongOut:
    return SongOut(**_summary(song), lyrics=song.lyrics)


def _accept(
    session: Session, storage: Storage, settings: Settings, owner_id: str, upload: Upload
) -> SongOut:
    """Check the received file, then store it (runs in a worker thread)."""
    check_storage_quota(storage, settings, owner_id, upload.size_bytes)  # 413 past the quota
    lyrics = (upload.fields.get("lyrics") or "").strip() or None
    facts = inspect_audio(upload.path, upload.filename, settings.song_max_duration_s)
    return song_out(service.create_song(session, storage, owner_id, upload, facts, lyrics))


@router.post(
    "/api/songs",
    status_code=status.HTTP_201_CREATED,
    response_model=SongOut,
    openapi_extra=_multipart(with_lyrics=True),
    responses={413: {"description": "Over song_max_upload_bytes"}, 422: {"description": "Refused"}},
)
async def upload_song(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    storage: StorageDep,
):
    """Upload a song (multipart `file`, optional `lyrics`): MP3, WAV, M4A, FLAC or OGG.

    Refused with 413 past `song_max_upload_bytes`, and with 422 when it is not
    readable audio, is empty, is longer than `song_max_duration_s`, or its
    extension does not match its content. A refused upload stores nothing.
    """
    await _end_transaction(session)
    async with receive_upload(
        request, settings.tmp_dir / "uploads", settings.song_max_upload_bytes,
        text_fields={"lyrics": MAX_LYRICS_CHARS},
    ) as upload:  # fmt: skip
        return await anyio.to_thread.run_sync(
            partial(_accept, session, storage, settings, user.id, upload)
        )


@router.get("/api/songs", response_model=Page[SongSummary])
def list_songs(
    user: CurrentUser,
    session: SessionDep,
    page: PageDep,
    status: Annotated[SongStatus | None, Query(description="Only songs in this status")] = None,
    q: Annotated[
        str | None, Query(max_length=200, description="Text in the file name or lyrics")
    ] = None,
):
    """Your songs, newest first."""
    return paginate(session, service.list_query(user.id, status=status, q=q), page, _summary)


@router.get("/api/songs/{song_id}", response_model=SongOut)
def get_song(song_id: str, user: CurrentUser, session: SessionDep):
    return song_out(service.get_song(session, user.id, song_id))


@router.delete("/api/songs/{song_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_song(song_id: str, user: CurrentUser, session: SessionDep, storage: StorageDep):
    """Delete a song, its analysis and its files; an unfinished analysis is cancelled."""
    service.delete_song(session, storage, user.id, song_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/api/songs/{song_id}/file")
def song_file(
    song_id: str,
    user: CurrentUser,
    session: SessionDep,
    storage: StorageDep,
    inline: bool = Query(True, description="Play in the browser instead of downloading"),
):
    """The original upload, streamed with HTTP Range support."""
    song = service.get_song(session, user.id, song_id)
    return file_response(
        storage, song.original_key, song.filename, song.content_type, inline=inline
    )


@router.get("/api/songs/{song_id}/cover")
def song_cover(song_id: str, user: CurrentUser, session: SessionDep, storage: StorageDep):
    """The cover image embedded in the upload's tags, if it had one."""
    song = service.get_song(session, user.id, song_id)
    if not song.cover_key:
        raise NotFound("this song has no embedded cover")
    ext = song.cover_key.rsplit(".", 1)[-1]
    media = "image/png" if ext == "png" else "image/jpeg"
    return file_response(storage, song.cover_key, f"cover.{ext}", media, inline=True)


@router.post(
    "/api/songs/{song_id}/analyze",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=AnalyzeAccepted,
    responses={409: {"description": "Already being analyzed"}},
)
def analyze_song(
    song_id: str, user: CurrentUser, session: SessionDep, body: AnalyzeRequest | None = None
):
    """Queue the analysis (tempo, beats, key, loudness, sections, mood, lyrics alignment;
    with `{"notes": true}` also melody and bass to MIDI); follow it at /api/jobs/{job_id},
    then read /api/songs/{song_id}/analysis."""
    notes = body.notes if body is not None else False
    song, job = service.request_analysis(session, user.id, song_id, notes=notes)
    session.commit()
    return AnalyzeAccepted(song_id=song.id, job_id=job.id)


@router.get("/api/songs/{song_id}/notes.mid")
def song_notes(song_id: str, user: CurrentUser, session: SessionDep, storage: StorageDep):
    """Melody and bass as a two-track MIDI file, after an analysis asked with notes."""
    song = service.get_song(session, user.id, song_id)
    key = f"{song.original_key.rsplit('/', 1)[0]}/notes.mid"
    if not storage.exists(key):
        raise NotFound(
            f'song {song.id} has no notes; POST /api/songs/{song.id}/analyze with {{"notes": true}}'
        )
    return file_response(storage, key, "notes.mid", "audio/midi")


@router.get("/api/songs/{song_id}/analysis")
def song_analysis(song_id: str, user: CurrentUser, session: SessionDep) -> dict[str, Any]:
    """The latest analysis as JSON (the shape of `soundstage analyze --json`)."""
    return service.get_analysis(session, user.id, song_id)


def _reference(upload: Upload, settings: Settings) -> ReferenceOut:
    from soundstage.media.analysis.analyze import AnalysisError, reference_features
    from soundstage.media.audio.errors import AudioDecodeError

    facts = inspect_audio(
        upload.path, upload.filename, settings.song_max_duration_s, with_cover=False
    )
    try:
        features = reference_features(upload.path)
    except (AnalysisError, AudioDecodeError) as error:
        raise Unprocessable(f"{upload.filename}: {error}") from None
    return ReferenceOut(
        bpm=features.get("bpm"), bpm_confidence=features.get("bpm_confidence"),
        key=features.get("key"), mode=features.get("mode"),
        key_confidence=features.get("key_confidence"),
        energy=features.get("energy"), loudness_lufs=features.get("loudness_lufs"),
        duration_s=features.get("duration_s") or facts.duration_s,
    )  # fmt: skip


@router.post(
    "/api/analyze/reference",
    response_model=ReferenceOut,
    openapi_extra=_multipart(with_lyrics=False),
    responses={413: {"description": "Over song_max_upload_bytes"}, 422: {"description": "Refused"}},
)
async def analyze_reference(
    request: Request, user: CurrentUser, session: SessionDep, settings: SettingsDep
):
    """Tempo, key, energy and loudness of a reference track (multipart `file`); stores nothing."""
    await _end_transaction(session)
    async with receive_upload(
        request, settings.tmp_dir / "uploads", settings.song_max_upload_bytes
    ) as upload:
        return await anyio.to_thread.run_sync(partial(_reference, upload, settings))
