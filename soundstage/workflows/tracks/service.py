"""Track platform rules: creating tracks (checks, credits, job), listing, publishing, visual
versions; series and the style profile.

Tracks are rows of the ambient studio's `tracks` table: reading and deleting one is the
ambient service's (`soundstage.workflows.ambient.service`); publishing and new covers
apply to every track. Functions take a Session and flush; callers commit (so a track,
its job and its charge are stored together or not at all).
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from soundstage.config import Settings
from soundstage.platform import billing
from soundstage.platform.errors import AppError, Conflict, Forbidden, NotFound
from soundstage.platform.jobs import Job, submit_job
from soundstage.platform.ownership import get_owned
from soundstage.platform.policy import admit_job
from soundstage.platform.storage import Storage
from soundstage.workflows.ambient.models import Track, TrackStatus, VideoStatus
from soundstage.workflows.ambient.pipeline import title_from_prompt
from soundstage.workflows.ambient.service import get_track
from soundstage.workflows.songs.models import Song, SongAnalysis, SongStatus
from soundstage.workflows.tracks import style as styles
from soundstage.workflows.tracks.genres import (
    Reference,
    mode_family,
    reference_from_features,
    resolve_spec,
)
from soundstage.workflows.tracks.models import SONG_KIND, Series, StyleProfile
from soundstage.workflows.tracks.pipeline import GENERATE_JOB, store_cover
from soundstage.workflows.tracks.schemas import SeriesCreate, SeriesUpdate, TrackCreate

VOCALS_REFUSAL = (
    "has_vocals: vocals need a singing provider; none is configured on this server (the "
    "embedded engine composes instrumental music and does not sing); send has_vocals=false "
    "for an instrumental"
)
DEFAULT_SERIES_NAME = "Default"


# -- style profile and series -------------------------------------------------------------


def _insert_once(session: Session, row: Any) -> bool:
    """Insert `row` in a savepoint; False when a concurrent request inserted it first."""
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
        return True
    except IntegrityError:
        return False


def get_profile(session: Session, user_id: str) -> StyleProfile:
    """The user's style profile, created on first use with the seed of their id."""
    profile = session.get(StyleProfile, user_id)
    if profile is None:
        new = StyleProfile(user_id=user_id, style_seed=styles.style_seed_for(user_id), unlocks=[])
        if not _insert_once(session, new):
            return session.get(StyleProfile, user_id, populate_existing=True)  # type: ignore[return-value]
        profile = new
    return profile


def completed_tracks(session: Session, user_id: str) -> int:
    stmt = select(func.count()).where(Track.owner_id == user_id, Track.status == TrackStatus.READY)
    return int(session.scalar(stmt) or 0)


def refresh_unlocks(session: Session, user_id: str) -> StyleProfile:
    """Add the motifs earned by the completed track count; an unlock, once earned, stays."""
    profile = get_profile(session, user_id)
    earned = styles.unlocked_motifs(completed_tracks(session, user_id))
    merged = [m for m in styles.MOTIF_NAMES if m in set(profile.unlocks) | set(earned)]
    if merged != list(profile.unlocks):
        profile.unlocks = merged
        session.flush()
    return profile


def style_summary(session: Session, user_id: str) -> dict[str, Any]:
    profile = refresh_unlocks(session, user_id)
    done = completed_tracks(session, user_id)
    motifs = [
        {"name": m.name, "threshold": m.threshold, "description": m.description,
         "unlocked": m.name in profile.unlocks}
        for m in styles.MOTIFS
    ]  # fmt: skip
    upcoming = next((m for m in motifs if not m["unlocked"]), None)
    return {
        "style_seed": profile.style_seed, "completed_tracks": done,
        "unlocks": list(profile.unlocks), "motifs": motifs, "next_unlock": upcoming,
        "tracks_to_next_unlock": max(0, upcoming["threshold"] - done) if upcoming else None,
    }  # fmt: skip


def ensure_default_series(session: Session, user_id: str) -> Series:
    """The user's default series, created from their style seed the first time it is needed."""
    stmt = select(Series).where(Series.owner_id == user_id, Series.is_default.is_(True))
    found = session.scalars(stmt).first()
    if found is not None:
        return found
    seed = get_profile(session, user_id).style_seed
    series = Series(
        owner_id=user_id, name=DEFAULT_SERIES_NAME, is_default=True, motif=styles.DEFAULT_MOTIF,
        palette=styles.derive_palette(seed), geometry=styles.derive_geometry(seed),
    )  # fmt: skip
    if not _insert_once(session, series):
        return session.scalars(stmt).one()
    return series


def list_series(session: Session, user_id: str) -> list[tuple[Series, int]]:
    """Every series of the user (the default first) with how many tracks each holds."""
    ensure_default_series(session, user_id)
    counts = dict(
        session.execute(
            select(Track.series_id, func.count())
            .where(Track.owner_id == user_id)
            .group_by(Track.series_id)
        ).all()
    )
    rows = session.scalars(
        select(Series)
        .where(Series.owner_id == user_id)
        .order_by(Series.is_default.desc(), Series.created_at, Series.id)
    ).all()
    return [(s, int(counts.get(s.id, 0))) for s in rows]


def get_series(session: Session, user_id: str, series_id: str) -> Series:
    return get_owned(session, Series, series_id, user_id, "series")


def series_track_count(session: Session, series_id: str) -> int:
    stmt = select(func.count()).where(Track.series_id == series_id)
    return int(session.scalar(stmt) or 0)


def check_motif(session: Session, user_id: str, motif: str) -> None:
    """Forbidden (403) when the user has not unlocked `motif` yet; says how far they are."""
    profile = refresh_unlocks(session, user_id)
    if motif in profile.unlocks:
        return
    needed = styles.motif(motif).threshold
    done = completed_tracks(session, user_id)
    raise Forbidden(
        f"motif: the {motif!r} style unlocks after {needed} completed tracks; you have {done}. "
        f"Unlocked: {', '.join(profile.unlocks)}"
    )


def _check_name_free(session: Session, user_id: str, name: str, except_id: str | None) -> None:
    stmt = select(Series.id).where(Series.owner_id == user_id, Series.name == name)
    clash = session.scalars(stmt).first()
    if clash is not None and clash != except_id:
        raise Conflict(f"name: you already have a series named {name!r}")


def create_series(session: Session, settings: Settings, user_id: str, body: SeriesCreate) -> Series:
    ensure_default_series(session, user_id)
    count = session.scalar(select(func.count()).where(Series.owner_id == user_id)) or 0
    if count >= settings.track_series_max:
        raise Conflict(
            f"you have {count} series, the most allowed; delete one before creating another"
        )
    _check_name_free(session, user_id, body.name, None)
    motif = body.motif or styles.DEFAULT_MOTIF
    check_motif(session, user_id, motif)
    seed = styles.series_seed(get_profile(session, user_id).style_seed, body.name)
    series = Series(
        owner_id=user_id, name=body.name, is_default=False, motif=motif,
        palette=body.palette.model_dump() if body.palette else styles.derive_palette(seed),
        geometry=body.geometry.model_dump() if body.geometry else styles.derive_geometry(seed),
    )  # fmt: skip
    session.add(series)
    session.flush()
    return series


def update_series(session: Session, user_id: str, series_id: str, body: SeriesUpdate) -> Series:
    """Change name, motif, or some palette/geometry fields (the others keep their values)."""
    series = get_series(session, user_id, series_id)
    if body.name is not None and body.name != series.name:
        _check_name_free(session, user_id, body.name, series.id)
        series.name = body.name
    if body.motif is not None and body.motif != series.motif:
        check_motif(session, user_id, body.motif)
        series.motif = body.motif
    if body.palette is not None:
        series.palette = {**series.palette, **body.palette.model_dump(exclude_none=True)}
    if body.geometry is not None:
        series.geometry = {**series.geometry, **body.geometry.model_dump(exclude_none=True)}
    session.flush()
    return series


def delete_series(session: Session, user_id: str, series_id: str) -> Series:
    """Delete a series; its tracks move to the default series (which cannot be deleted)."""
    series = get_series(session, user_id, series_id)
    if series.is_default:
        raise Conflict("the default series cannot be deleted; rename or restyle it instead")
    default = ensure_default_series(session, user_id)
    for track in session.scalars(select(Track).where(Track.series_id == series.id)):
        track.series_id = default.id
    session.delete(series)
    session.flush()
    return default


# -- creating tracks ----------------------------------------------------------------------


def reference_for(session: Session, owner_id: str, song_id: str) -> Reference:
    """The features of the user's analysed song: 404 when not theirs, 409 when not analysed.

    A tempo or key the analysis was unsure of is left out (`reference_from_features`).
    """
    song = get_owned(session, Song, song_id, owner_id, "song")
    analysis = session.get(SongAnalysis, song.id)
    if song.status != SongStatus.ANALYZED or analysis is None:
        raise Conflict(
            f"reference_song_id: song {song.id} is {song.status}, not analysed yet; "
            f"POST /api/songs/{song.id}/analyze and wait for its job to complete"
        )
    return reference_from_features(song.id, analysis.result)


def _reference_snapshot(reference: Reference, used: tuple[str, ...]) -> dict[str, Any]:
    return {
        "song_id": reference.song_id, "bpm": reference.bpm, "key": reference.key,
        "mode": reference.mode, "energy": reference.energy,
        "loudness_lufs": reference.loudness_lufs, "used": list(used),
    }  # fmt: skip


def create_track(
    session: Session, settings: Settings, owner_id: str, body: TrackCreate
) -> tuple[Track, Job]:
    """Check, create the track and its job, and charge its credits (caller commits once).

    Any refusal (422 vocals or content, 404/409 series or reference, 403/429 free
    tier, 402/429 budget, 402 credits) raises before the caller commits, so nothing
    is stored.
    """
    if body.has_vocals:
        raise AppError(VOCALS_REFUSAL, 422)
    series = (
        get_series(session, owner_id, body.series_id)
        if body.series_id
        else ensure_default_series(session, owner_id)
    )
    reference = reference_for(session, owner_id, body.reference_song_id) if body.reference_song_id else None  # fmt: skip
    billing.check_free_tier(session, settings, owner_id, body.duration_s)
    seed = body.seed if body.seed is not None else secrets.randbelow(2**31 - 1)
    spec = resolve_spec(
        prompt=body.prompt, duration_s=body.duration_s, seed=seed, genre_name=body.genre,
        style_strength=body.style_strength, bpm=body.bpm, key=body.key, mode=body.mode,
        reference=reference,
    )  # fmt: skip
    credits = billing.credits_for_duration(body.duration_s)
    track = Track(
        owner_id=owner_id, kind=SONG_KIND, title=body.title or title_from_prompt(body.prompt),
        prompt=body.prompt, status=TrackStatus.QUEUED, video_status=VideoStatus.NONE,
        duration_s=body.duration_s, seed=seed, request={**body.model_dump(), "seed": seed},
        key=spec.key, mode=mode_family(spec.mode), bpm=spec.bpm, files={}, storage_bytes=0,
        genre=body.genre, style_strength=body.style_strength, lyrics=body.lyrics,
        has_vocals=False, reference_song_id=reference.song_id if reference else None,
        reference=_reference_snapshot(reference, spec.steered_by_reference) if reference else None,
        series_id=series.id, visual_version=1, public=False, credits_required=credits,
        spec=spec.to_dict(),
    )  # fmt: skip
    session.add(track)
    session.flush()
    job = submit_job(session, GENERATE_JOB, owner_id, {"track_id": track.id})
    track.generate_job_id = job.id
    texts = {"prompt": body.prompt, "lyrics": body.lyrics, "title": body.title}
    admit_job(session, settings, job, texts, estimate_payload={"duration_s": body.duration_s})
    billing.charge_job(
        session, settings, owner_id, credits, job_id=job.id,
        description=f"track {track.id}, {body.duration_s:g} s ({body.genre})",
    )  # fmt: skip
    session.flush()
    return track, job


# -- listing, publishing, covers ---------------------------------------------------------------


def list_query(
    owner_id: str,
    *,
    kind: str | None = None,
    status: str | None = None,
    genre: str | None = None,
    series_id: str | None = None,
    public: bool | None = None,
    q: str | None = None,
) -> Select[tuple[Track]]:
    """The user's tracks (every kind unless asked), newest first, filtered as given."""
    stmt = select(Track).where(Track.owner_id == owner_id)
    for column, value in ((Track.kind, kind), (Track.status, status), (Track.genre, genre),
                          (Track.series_id, series_id)):  # fmt: skip
        if value:
            stmt = stmt.where(column == value)
    if public is not None:
        stmt = stmt.where(Track.public.is_(public))
    if q:
        stmt = stmt.where(
            or_(
                Track.prompt.icontains(q, autoescape=True),
                Track.title.icontains(q, autoescape=True),
            )
        )
    return stmt.order_by(Track.created_at.desc(), Track.id)


def publish(session: Session, owner_id: str, track_id: str, public: bool) -> Track:
    """Make a ready track public (anyone with its link) or private again."""
    track = get_track(session, owner_id, track_id)
    if public and track.status != TrackStatus.READY:
        raise Conflict(f"track is {track.status}; only a ready track can be published")
    track.public = public
    session.flush()
    return track


def public_track(session: Session, track_id: str) -> Track:
    """A published, ready track; NotFound for anything else (private looks like missing)."""
    track = session.get(Track, track_id)
    if track is None or not track.public or track.status != TrackStatus.READY:
        raise NotFound("track not found")
    return track


def increment_visual_version(
    session: Session, storage: Storage, settings: Settings, owner_id: str, track_id: str
) -> Track:
    """Next visual version: a new cover from the series style and the new version; the audio
    is untouched. Commits, then deletes the previous cover file."""
    get_track(session, owner_id, track_id)
    track = session.get(Track, track_id, with_for_update=True, populate_existing=True)
    assert track is not None
    if track.status != TrackStatus.READY:
        raise Conflict(f"track is {track.status}; a new cover can be made once it is ready")
    series = (
        session.get(Series, track.series_id) if track.series_id else None
    ) or ensure_default_series(session, owner_id)
    previous = (track.files.get("cover") or {}).get("key")
    track.visual_version += 1
    entry = store_cover(storage, settings, track, series)
    track.files = {**track.files, "cover": entry}
    track.storage_bytes = sum(int(f["size"]) for f in track.files.values())
    session.commit()
    if previous and previous != entry["key"]:
        storage.delete(previous)
    return track
