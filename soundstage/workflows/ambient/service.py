"""Ambient studio rules: creating tracks and their jobs, history, stats, deletion, batches."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from soundstage.config import Settings
from soundstage.media.audio.peaks import waveform_peaks
from soundstage.platform.errors import AppError, Conflict
from soundstage.platform.jobs import TERMINAL_STATES, Job, cancel_job, submit_job
from soundstage.platform.ownership import get_owned
from soundstage.platform.policy import admit_job
from soundstage.platform.storage import Storage
from soundstage.workflows.ambient.models import Batch, BatchItem, Track, TrackStatus, VideoStatus
from soundstage.workflows.ambient.pipeline import (
    GENERATE_JOB,
    RENDER_JOB,
    AmbientSpec,
    track_prefix,
)
from soundstage.workflows.ambient.schemas import BatchRequest, GenerateRequest


def check_limits(request: GenerateRequest, settings: Settings) -> None:
    low, high = settings.ambient_min_duration_s, settings.ambient_max_duration_s
    if not low <= request.duration_s <= high:
        raise AppError(f"duration_s: must be between {low:g} and {high:g} seconds", 422)


def spec_for(request: GenerateRequest) -> AmbientSpec:
    seed = request.seed if request.seed is not None else secrets.randbelow(2**31 - 1)
    data = request.model_dump(exclude={"seed"})
    return AmbientSpec.from_dict({**data, "seed": seed})


def create_generation(
    session: Session,
    owner_id: str,
    request: GenerateRequest,
    settings: Settings,
    batch_id: str | None = None,
) -> tuple[Track, Job]:
    """A queued track and its generation job, added to the session (caller commits)."""
    check_limits(request, settings)
    spec = spec_for(request)
    track = Track(
        owner_id=owner_id,
        title=spec.display_title,
        prompt=spec.prompt,
        duration_s=spec.duration_s,
        seed=spec.seed,
        request={**request.model_dump(), "seed": spec.seed},
        batch_id=batch_id,
        video_status=VideoStatus.QUEUED if spec.render_video else VideoStatus.NONE,
    )
    session.add(track)
    session.flush()
    job = submit_job(session, GENERATE_JOB, owner_id, {"track_id": track.id, "spec": spec.__dict__})
    admit_job(session, settings, job, {"prompt": spec.prompt, "title": spec.title})  # 422/402/429
    track.generate_job_id = job.id
    return track, job


def get_track(session: Session, owner_id: str, track_id: str) -> Track:
    return get_owned(session, Track, track_id, owner_id, "track")


def request_render(session: Session, owner_id: str, track_id: str) -> tuple[Track, Job]:
    track = get_track(session, owner_id, track_id)
    if track.status != TrackStatus.READY:
        raise Conflict(f"track is {track.status}; a video can be rendered once it is ready")
    if track.video_status in (VideoStatus.QUEUED, VideoStatus.RENDERING):
        raise Conflict("a video for this track is already being rendered")
    job = submit_job(session, RENDER_JOB, owner_id, {"track_id": track.id})
    track.render_job_id = job.id
    track.video_status = VideoStatus.QUEUED
    return track, job


def history_query(
    owner_id: str,
    *,
    status: str | None = None,
    q: str | None = None,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
) -> Select:
    stmt = select(Track).where(Track.owner_id == owner_id)
    if status:
        stmt = stmt.where(Track.status == status)
    if q:
        text = or_(
            Track.prompt.icontains(q, autoescape=True), Track.title.icontains(q, autoescape=True)
        )
        stmt = stmt.where(text)
    if date_from:
        stmt = stmt.where(Track.created_at >= date_from)
    if date_to:
        stmt = stmt.where(Track.created_at <= date_to)
    return stmt.order_by(Track.created_at.desc(), Track.id)


def delete_track(session: Session, storage: Storage, owner_id: str, track_id: str) -> int:
    """Cancel the track's unfinished jobs, delete its files and its row; returns bytes freed."""
    track = get_track(session, owner_id, track_id)
    for job_id in (track.generate_job_id, track.render_job_id):
        job = session.get(Job, job_id) if job_id else None
        if job is not None and job.state not in TERMINAL_STATES:
            cancel_job(session, job)
    session.delete(track)
    session.commit()
    return storage.delete_prefix(track_prefix(owner_id, track_id))


WAVEFORM_POINTS = 2000
PEAK_SOURCES = ("mp3", "flac", "wav", "m4a")


def track_peaks(storage: Storage, track: Track, points: int = WAVEFORM_POINTS) -> list[float]:
    """Waveform peaks of a ready track, computed once and cached next to its files.

    Players draw these instead of decoding the audio, so a track of any length
    gets a waveform at the cost of one small JSON download.
    """
    source = next((track.files[k] for k in PEAK_SOURCES if k in track.files), None)
    if source is None:
        raise Conflict("this track has no audio yet")
    key = f"{track_prefix(track.owner_id, track.id)}waveform-{points}.json"
    if storage.exists(key):
        with storage.open_read(key) as cached:
            return json.load(cached)
    peaks = waveform_peaks(storage.local_path(source["key"]), track.duration_s, points)
    values = [round(float(v), 4) for v in peaks]
    storage.put_bytes(key, json.dumps(values).encode())
    return values


def stats(session: Session, owner_id: str) -> dict[str, Any]:
    mine = Track.owner_id == owner_id
    by_status = dict(
        session.execute(select(Track.status, func.count()).where(mine).group_by(Track.status)).all()
    )
    ready = (Track.status == TrackStatus.READY) & mine
    total_s, storage_bytes, mean_gen, mean_render = session.execute(
        select(
            func.coalesce(func.sum(Track.duration_s), 0.0),
            func.coalesce(func.sum(Track.storage_bytes), 0),
            func.avg(Track.generation_s),
            func.avg(Track.render_s),
        ).where(ready)
    ).one()
    realtime = session.execute(
        select(func.avg(Track.duration_s / Track.generation_s)).where(ready, Track.generation_s > 0)
    ).scalar()
    videos = session.execute(
        select(func.count()).where(mine, Track.video_status == VideoStatus.READY)
    ).scalar_one()
    return {
        "tracks": sum(by_status.values()),
        "by_status": by_status,
        "videos": videos,
        "total_minutes": round(float(total_s) / 60, 2),
        "storage_bytes": int(storage_bytes),
        "mean_generation_s": _round(mean_gen),
        "mean_render_s": _round(mean_render),
        "mean_realtime_factor": _round(realtime),
    }


def activity(
    session: Session, owner_id: str, days: int = 30, today: datetime | None = None
) -> list[dict[str, Any]]:
    """Tracks created and minutes of music asked for, per UTC day, oldest first (zeros kept)."""
    end = (today or datetime.now(UTC)).astimezone(UTC).date()
    start = end - timedelta(days=days - 1)
    since = datetime(start.year, start.month, start.day, tzinfo=UTC)
    rows = session.execute(
        select(Track.created_at, Track.duration_s).where(
            Track.owner_id == owner_id, Track.created_at >= since
        )
    ).all()
    per_day = {start + timedelta(days=i): [0, 0.0] for i in range(days)}
    for created_at, duration_s in rows:
        stamp = created_at if created_at.tzinfo else created_at.replace(tzinfo=UTC)
        day = per_day.get(stamp.astimezone(UTC).date())
        if day is not None:
            day[0] += 1
            day[1] += duration_s / 60
    return [
        {"date": day.isoformat(), "tracks": count, "minutes": round(minutes, 2)}
        for day, (count, minutes) in per_day.items()
    ]


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 3)


def batch_requests(request: BatchRequest, settings: Settings) -> list[GenerateRequest]:
    if request.items and (request.template or request.count):
        raise AppError("give either items, or template with count, not both", 422)
    if request.items:
        items = request.items
    elif request.template and request.count:
        base = (
            request.template.seed
            if request.template.seed is not None
            else secrets.randbelow(2**31 - 1000)
        )
        items = [
            request.template.model_copy(update={"seed": base + i}) for i in range(request.count)
        ]
    else:
        raise AppError("items: give a list of tracks, or a template and a count", 422)
    if len(items) > settings.batch_max_items:
        raise AppError(f"items: at most {settings.batch_max_items} tracks per batch", 422)
    for item in items:
        check_limits(item, settings)
    return items


def create_batch(
    session: Session, owner_id: str, request: BatchRequest, settings: Settings
) -> Batch:
    items = batch_requests(request, settings)
    batch = Batch(owner_id=owner_id)
    session.add(batch)
    session.flush()
    for position, item in enumerate(items):
        track, job = create_generation(session, owner_id, item, settings, batch_id=batch.id)
        batch.items.append(
            BatchItem(position=position, prompt=item.prompt, track_id=track.id, job_id=job.id)
        )
    return batch


def get_batch(session: Session, owner_id: str, batch_id: str) -> Batch:
    return get_owned(session, Batch, batch_id, owner_id, "batch")


def batch_status(session: Session, batch: Batch) -> dict[str, Any]:
    job_ids = [item.job_id for item in batch.items if item.job_id]
    jobs = {j.id: j for j in session.scalars(select(Job).where(Job.id.in_(job_ids)))}
    items = []
    for item in batch.items:
        job = jobs.get(item.job_id or "")
        items.append({
            "position": item.position, "prompt": item.prompt, "track_id": item.track_id,
            "job_id": item.job_id, "state": job.state if job else "deleted",
            "progress": job.progress if job else 0.0, "stage": job.stage if job else "",
            "error": job.error if job else None,
        })  # fmt: skip
    counts: dict[str, int] = {}
    for item in items:
        counts[item["state"]] = counts.get(item["state"], 0) + 1
    finished = all(i["state"] in {*TERMINAL_STATES, "deleted"} for i in items)
    state = (
        ("completed" if counts.get("completed") == len(items) else "finished")
        if finished
        else "running"
    )
    progress = sum(100.0 if i["state"] == "completed" else i["progress"] for i in items) / max(
        1, len(items)
    )
    return {"id": batch.id, "created_at": batch.created_at, "state": state,
            "progress": round(progress, 2), "counts": counts, "items": items}  # fmt: skip
