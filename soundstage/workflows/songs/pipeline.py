"""Song library pipeline: the `songs.analyze` job, running the analysis engine on a stored song.

The engine (`soundstage.media.analysis`) pulls in librosa and friends, so it is
imported when a job runs, never when the server starts.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from soundstage.config import Settings
from soundstage.platform.db import utcnow
from soundstage.platform.jobs import JobCancelled, JobContext, JobInterrupted, register_job_type
from soundstage.workflows.songs.models import Song, SongAnalysis, SongStatus

ANALYZE_JOB = "songs.analyze"


def configured_transcriber(settings: Settings):
    """The configured lyrics transcription provider, or None (then lyrics come only from the user)."""
    from soundstage import providers

    if not providers.available("transcription", settings):
        return None
    return providers.get("transcription", settings)


def song_prefix(owner_id: str, song_id: str) -> str:
    return f"users/{owner_id}/songs/{song_id}/"


def transcribe_to_midi(audio: Path, midi: Path, bpm: float) -> tuple[int, int]:
    """Melody and bass of `audio` as a two-track MIDI file: (melody notes, bass notes).

    Raises NoteTranscriptionUnavailable when the shipped model cannot run here.
    """
    from soundstage.media.analysis.analyze import decode_mono
    from soundstage.media.analysis.features import SR
    from soundstage.media.analysis.notes import split_melody_bass, transcribe_notes, write_midi
    from soundstage.media.audio.decode import probe_audio

    y = decode_mono(audio, probe_audio(audio).channels)
    melody, bass = split_melody_bass(transcribe_notes(y, SR))
    write_midi(midi, melody, bass, bpm)
    return len(melody), len(bass)


def register_jobs() -> None:
    register_job_type(ANALYZE_JOB, run_analyze_job)


def run_analyze_job(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    song_id = payload["song_id"]
    with ctx.session() as session:
        song = session.get(Song, song_id)
        if song is None:
            raise JobCancelled("the song was deleted")
        song.status, song.error = SongStatus.ANALYZING, None
        key, fmt, lyrics = song.original_key, song.format, song.lyrics
        session.commit()
    work = ctx.work_dir()
    try:
        ctx.progress(1, "loading")
        source = ctx.fetch(key, work / f"original.{fmt}")
        from soundstage.media.analysis.analyze import analyze_file

        started = time.perf_counter()
        transcriber = None if lyrics else configured_transcriber(ctx.settings)
        if transcriber is not None:
            transcriber = ctx.watch_costs(transcriber, step="lyrics")
        with_notes = bool(payload.get("notes"))
        result = analyze_file(
            source, lyrics=lyrics, transcriber=transcriber,
            on_progress=ctx.reporter(2, 80 if with_notes else 98),
        )  # fmt: skip
        data = result.to_dict()
        if with_notes:
            ctx.progress(80, "transcribing notes")
            data["notes"] = _notes(ctx, source, work, song_id, data["bpm"], data["warnings"])
        elapsed = time.perf_counter() - started
        ctx.progress(99, "saving")
        _save(ctx, song_id, data, elapsed)
        return {"song_id": song_id, "bpm": data.get("bpm"), "key": data.get("key"),
                "mode": data.get("mode"), "analysis_s": round(elapsed, 3)}  # fmt: skip
    except BaseException as error:
        _record_failure(ctx, song_id, error)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _notes(
    ctx: JobContext, source: Path, work: Path, song_id: str, bpm: float, warnings: list[str]
) -> dict[str, Any] | None:
    """Melody and bass to `notes.mid` in the song's folder; None (with a warning) when the
    transcription model cannot run here."""
    from soundstage.media.analysis.notes import NoteTranscriptionUnavailable

    midi = work / "notes.mid"
    try:
        melody, bass = transcribe_to_midi(source, midi, bpm)
    except NoteTranscriptionUnavailable as error:
        warnings.append(f"notes not transcribed: {error}")
        return None
    with ctx.session() as session:
        song = session.get(Song, song_id)
        if song is None:
            raise JobCancelled("the song was deleted")
        key = f"{song_prefix(song.owner_id, song_id)}notes.mid"
    ctx.storage.put_file(key, midi, move=True)
    return {"melody": melody, "bass": bass, "midi_url": f"/api/songs/{song_id}/notes.mid"}


def _save(ctx: JobContext, song_id: str, data: dict[str, Any], elapsed: float) -> None:
    with ctx.session() as session:
        song = session.get(Song, song_id)
        if song is None:
            raise JobCancelled("the song was deleted")
        analysis = session.get(SongAnalysis, song_id)
        if analysis is None:
            session.add(SongAnalysis(song_id=song_id, result=data, analysis_s=elapsed))
        else:
            analysis.result, analysis.analysis_s, analysis.created_at = data, elapsed, utcnow()
        song.bpm, song.key, song.mode = data.get("bpm"), data.get("key"), data.get("mode")
        song.status, song.error, song.analyzed_at = SongStatus.ANALYZED, None, utcnow()
        session.commit()


def _record_failure(ctx: JobContext, song_id: str, error: BaseException) -> None:
    if isinstance(error, JobInterrupted):  # back to the queue: still being analysed
        return
    with ctx.session() as session:
        song = session.get(Song, song_id)
        if song is None:
            return
        if isinstance(error, JobCancelled):  # back to where it was before this job
            analysed = session.get(SongAnalysis, song_id) is not None
            song.status = SongStatus.ANALYZED if analysed else SongStatus.UPLOADED
            song.error = None
        else:
            song.status = SongStatus.FAILED
            song.error = str(error) or type(error).__name__
        session.commit()
