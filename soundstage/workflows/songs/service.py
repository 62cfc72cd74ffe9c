"""Song library rules: storing accepted uploads, listing, analysis requests, deletion."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, delete, or_, select
from sqlalchemy.orm import Session

from soundstage.platform.db import new_id
from soundstage.platform.errors import Conflict, NotFound
from soundstage.platform.jobs import TERMINAL_STATES, Job, cancel_job, submit_job
from soundstage.platform.ownership import get_owned
from soundstage.platform.storage import Storage
from soundstage.workflows.songs.models import Song, SongAnalysis, SongStatus
from soundstage.workflows.songs.pipeline import ANALYZE_JOB, song_prefix
from soundstage.workflows.songs.upload import AudioFacts, Upload


def create_song(
    session: Session,
    storage: Storage,
    owner_id: str,
    upload: Upload,
    facts: AudioFacts,
    lyrics: str | None,
) -> Song:
    """Store an accepted upload (moved out of its temporary path) and its cover; commit its row."""
    song_id = new_id()
    prefix = song_prefix(owner_id, song_id)
    original_key = f"{prefix}original.{facts.format}"
    cover_key = f"{prefix}cover.{facts.cover_ext}" if facts.cover else None
    try:
        storage.put_file(original_key, upload.path, move=True)
        if cover_key and facts.cover:
            storage.put_bytes(cover_key, facts.cover)
        song = Song(
            id=song_id, owner_id=owner_id, filename=upload.filename,
            content_type=facts.content_type, format=facts.format, codec=facts.codec,
            duration_s=facts.duration_s, sample_rate=facts.sample_rate, channels=facts.channels,
            bitrate_kbps=facts.bitrate_kbps, size_bytes=upload.size_bytes, tags=facts.tags,
            has_cover=cover_key is not None, original_key=original_key, cover_key=cover_key,
            lyrics=lyrics or None, status=SongStatus.UPLOADED,
        )  # fmt: skip
        session.add(song)
        session.commit()
    except BaseException:
        session.rollback()
        storage.delete_prefix(prefix)
        raise
    return song


def get_song(session: Session, owner_id: str, song_id: str) -> Song:
    return get_owned(session, Song, song_id, owner_id, "song")


def list_query(owner_id: str, *, status: str | None = None, q: str | None = None) -> Select:
    stmt = select(Song).where(Song.owner_id == owner_id)
    if status:
        stmt = stmt.where(Song.status == status)
    if q:
        stmt = stmt.where(
            or_(
                Song.filename.icontains(q, autoescape=True),
                Song.lyrics.icontains(q, autoescape=True),
            )
        )
    return stmt.order_by(Song.created_at.desc(), Song.id)


def _running_job(session: Session, song: Song) -> Job | None:
    job = session.get(Job, song.analysis_job_id) if song.analysis_job_id else None
    return job if job is not None and job.state not in TERMINAL_STATES else None


def request_analysis(
    session: Session, owner_id: str, song_id: str, *, notes: bool = False
) -> tuple[Song, Job]:
    """Queue a `songs.analyze` job (caller commits); 409 while one is unfinished.

    With `notes`, melody and bass are also transcribed to a MIDI file.
    """
    song = get_song(session, owner_id, song_id)
    running = _running_job(session, song)
    if running is not None:
        raise Conflict(
            f"song {song.id} is already being analyzed; follow GET /api/jobs/{running.id}"
        )
    job = submit_job(session, ANALYZE_JOB, owner_id, {"song_id": song.id, "notes": notes})
    song.analysis_job_id = job.id
    song.status, song.error = SongStatus.ANALYZING, None
    return song, job


def get_analysis(session: Session, owner_id: str, song_id: str) -> dict[str, Any]:
    song = get_song(session, owner_id, song_id)
    analysis = session.get(SongAnalysis, song.id)
    if analysis is not None:
        return analysis.result
    hint = f"POST /api/songs/{song.id}/analyze"
    if song.status == SongStatus.ANALYZING and song.analysis_job_id:
        raise NotFound(
            f"song {song.id} is being analyzed; follow GET /api/jobs/{song.analysis_job_id}"
        )
    if song.status == SongStatus.FAILED:
        raise NotFound(f"the analysis of song {song.id} failed ({song.error}); retry with {hint}")
    raise NotFound(f"song {song.id} is not analyzed yet; {hint}")


def delete_song(session: Session, storage: Storage, owner_id: str, song_id: str) -> int:
    """Cancel an unfinished analysis, delete the row and every file; returns bytes freed."""
    song = get_song(session, owner_id, song_id)
    running = _running_job(session, song)
    if running is not None:
        cancel_job(session, running)
    session.execute(delete(SongAnalysis).where(SongAnalysis.song_id == song.id))
    session.delete(song)
    session.commit()
    return storage.delete_prefix(song_prefix(owner_id, song_id))
