"""Scale-out on real services: one API process and two Celery workers over Redis, PostgreSQL
and S3 (moto on loopback). Twenty mixed jobs all finish once; a music video's clips fan out
as jobs over both workers and are composed once they have all ended; a worker killed with -9
in the middle of a job loses nothing: the job finishes on the other worker, once.

The job table, the job history, the bucket and the credit ledger must all agree.
"""

from __future__ import annotations

import io
import socket
import time
import uuid
import wave
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import numpy as np
import pytest
from sqlalchemy import Engine, select

from soundstage.platform.billing.models import LedgerEntry, LedgerKind
from soundstage.platform.db import make_engine
from soundstage.platform.jobs.models import Job, JobEvent
from soundstage.workflows.ambient.models import Track
from soundstage.workflows.songs.models import Song
from tests.conftest import TEST_SECRET, _create_database, _pg_url, _postgres_admin
from tests.e2e.conftest import Server, Worker, login, redis_or_skip, redis_url
from tests.helpers import wait_job as wait_for
from tests.s3 import BUCKET

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

REDIS_DB = 14  # this test's own Redis database, flushed before and after
LEASE_S = 8  # small, so a killed worker's job comes back quickly (renewed every third)
TRIAL_CREDITS = 400  # billing's trial_credits default: every new account starts with it


@dataclass
class Cluster:
    server: Server
    workers: list[Worker]
    engine: Engine  # the shared PostgreSQL database, for checking the job table and ledger
    s3: object  # a boto3 client of the shared bucket
    prefix: str  # the deployment's key prefix in the bucket

    def keys(self, under: str) -> list[str]:
        """Every object key below `<prefix>/<under>` in the bucket, without the prefix."""
        root = f"{self.prefix}/{under}"
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=root)
        found = [obj["Key"] for page in pages for obj in page.get("Contents", [])]
        return sorted(key.removeprefix(f"{self.prefix}/") for key in found)

    def worker_names(self) -> dict[str, Worker]:
        """`host:pid` (the jobs table's `worker` value) of each worker process."""
        return {f"{socket.gethostname()}:{w.pid}": w for w in self.workers}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, s3_server) -> Iterator[Cluster]:
    """API server + two workers on a throwaway PostgreSQL database, Redis DB 14 and S3."""
    redis = redis_or_skip(REDIS_DB)
    admin = _postgres_admin()
    database = _create_database(admin)
    prefix = f"scaleout-{uuid.uuid4().hex[:12]}"
    overrides = s3_server.overrides(prefix, presigned_links=False)
    env = {f"SOUNDSTAGE_{name.upper()}": str(value) for name, value in overrides.items()}
    env |= {
        "SOUNDSTAGE_DATABASE_URL": _pg_url(database),
        "SOUNDSTAGE_BROKER_URL": redis_url(REDIS_DB),
        "SOUNDSTAGE_JOB_LEASE_S": str(LEASE_S),
        "SOUNDSTAGE_SECRET_KEY": TEST_SECRET,
        "SOUNDSTAGE_FREE_DAILY_TRACKS": "100",  # the free plan's 5 a day would refuse most
        "SOUNDSTAGE_RATE_LIMIT_ENABLED": "false",
        "SOUNDSTAGE_VIDEO_FPS": "12",  # short 1080p renders
    }
    root = tmp_path_factory.mktemp("scaleout")
    server = Server(root / "api", env=env)
    workers = [Worker(root / f"worker-{i}", env=env) for i in range(2)]
    engine = make_engine(_pg_url(database), pooled=False)
    try:
        server.start()  # migrates the database first, then the workers find it ready
        for worker in workers:
            worker.launch()
        for worker in workers:
            worker.wait_ready()
        yield Cluster(server, workers, engine, s3_server.client(), prefix)
    finally:
        for worker in workers:
            worker.stop()
        server.stop()
        engine.dispose()
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.close()
        redis.flushdb()
        redis.close()


def wav_bytes(seed: int, duration_s: float = 8.0, rate: int = 22050) -> bytes:
    """A short song-like WAV: a chord with a click on every beat (120 BPM)."""
    t = np.arange(int(duration_s * rate)) / rate
    base = 110.0 * 2 ** (seed % 12 / 12)
    chord = sum(np.sin(2 * np.pi * base * r * t) for r in (1.0, 1.25, 1.5)) / 6
    clicks = np.zeros_like(t)
    for beat in np.arange(0, duration_s, 0.5):
        start = int(beat * rate)
        clicks[start : start + 400] = np.hanning(800)[400:] * 0.6
    samples = np.clip(chord + clicks, -1, 1)
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes((samples * 32767).astype("<i2").tobytes())
    return out.getvalue()


class Api:
    """A logged-in user of the cluster's API server."""

    def __init__(self, url: str, email: str) -> None:
        self.url = url
        self.headers = login(url, email=email)
        self.user_id = self.get("/api/auth/me")["id"]

    def get(self, path: str) -> dict:
        r = httpx.get(self.url + path, headers=self.headers, timeout=30)
        assert r.status_code == 200, r.text
        return r.json()

    def post(self, path: str, expect: int, **kwargs) -> dict:
        r = httpx.post(self.url + path, headers=self.headers, timeout=60, **kwargs)
        assert r.status_code == expect, r.text
        return r.json()

    def wait(self, job_id: str, timeout_s: float = 600) -> dict:
        return wait_for(self.get, job_id, timeout_s)


def submit_mixed_jobs(api: Api) -> tuple[list[str], dict[str, int]]:
    """Twenty small jobs: 5 ambient generations (30 s), 7 paid tracks (5 s), 8 song analyses.
    Returns the job ids and the credits each track job was charged."""
    job_ids: list[str] = []
    charged: dict[str, int] = {}
    for i in range(8):
        if i < 5:
            body = {"prompt": f"calm ambient sketch {i}", "duration_s": 30, "seed": 100 + i}
            job_ids.append(api.post("/api/generate", 202, json=body)["job_id"])
        if i < 7:
            body = {"prompt": f"short piano idea {i}", "duration_s": 5, "genre": "piano", "seed": i}
            accepted = api.post("/api/tracks", 201, json=body)
            job_ids.append(accepted["job_id"])
            charged[accepted["job_id"]] = accepted["credits_required"]
        files = {"file": (f"song-{i}.wav", wav_bytes(i), "audio/wav")}
        song = api.post("/api/songs", 201, files=files)
        job_ids.append(api.post(f"/api/songs/{song['id']}/analyze", 202)["job_id"])
    assert len(job_ids) == 20
    return job_ids, charged


def transitions(engine: Engine, job_id: str) -> list[tuple[str | None, str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(JobEvent.from_state, JobEvent.to_state, JobEvent.message)
            .where(JobEvent.job_id == job_id)
            .order_by(JobEvent.at, JobEvent.id)
        ).all()
    return [tuple(row) for row in rows]


def ledger(engine: Engine, user_id: str) -> list[LedgerEntry]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(LedgerEntry).where(LedgerEntry.user_id == user_id).order_by(LedgerEntry.id)
            ).all()
        )


def expected_keys(engine: Engine, user_id: str) -> tuple[set[str], set[str]]:
    """Keys the database says exist: every track's files, every song's upload (and cover)."""
    with engine.connect() as conn:
        tracks = conn.execute(select(Track.files).where(Track.owner_id == user_id)).scalars()
        track_keys = {entry["key"] for files in tracks for entry in files.values()}
        songs = conn.execute(
            select(Song.original_key, Song.cover_key).where(Song.owner_id == user_id)
        ).all()
        song_keys = {key for row in songs for key in row if key}
    return track_keys, song_keys


def test_twenty_mixed_jobs_run_once_each_over_two_workers(cluster: Cluster):
    health = httpx.get(f"{cluster.server.url}/healthz").json()
    assert health["status"] == "ok" and health["checks"]["broker"]["ok"]
    api = Api(cluster.server.url, "mixed@example.com")

    job_ids, charged = submit_mixed_jobs(api)
    finished = {job_id: api.wait(job_id) for job_id in job_ids}

    assert {j["state"] for j in finished.values()} == {"completed"}, finished
    with cluster.engine.connect() as conn:
        jobs = conn.execute(select(Job).where(Job.id.in_(job_ids))).all()
    assert {job.attempts for job in jobs} == {1}
    assert {job.type for job in jobs} == {"ambient.generate", "tracks.generate", "songs.analyze"}

    # Each job ran exactly once: one claim and one completion in its history.
    names = cluster.worker_names()
    ran_on: dict[str, str] = {}
    for job in jobs:
        moves = transitions(cluster.engine, job.id)
        assert [(a, b) for a, b, _ in moves] == [
            (None, "queued"),
            ("queued", "running"),
            ("running", "completed"),
        ], moves
        claim = moves[1][2]
        assert claim.endswith(f" on {job.worker}"), claim
        ran_on[job.id] = job.worker
    assert set(ran_on.values()) == set(names), "both workers took jobs"

    # Files: every track's files and every upload are in the bucket, and nothing else is.
    track_keys, song_keys = expected_keys(cluster.engine, api.user_id)
    assert len(track_keys) > 12 and len(song_keys) == 8
    assert set(cluster.keys(f"users/{api.user_id}/")) == track_keys | song_keys

    # Credits: one deduction per paid track job, and the ledger adds up to the balance.
    entries = ledger(cluster.engine, api.user_id)
    deductions = [e for e in entries if e.kind == LedgerKind.DEDUCTION]
    assert sorted(e.job_id for e in deductions) == sorted(charged)
    assert {e.job_id: -e.amount for e in deductions} == charged
    assert not [e for e in entries if e.kind == LedgerKind.REFUND]
    balance = api.get("/api/credits")["balance"]
    assert balance == TRIAL_CREDITS - sum(charged.values())
    assert sum(e.amount for e in entries) == balance

    metrics = httpx.get(f"{cluster.server.url}/metrics").text
    assert 'soundstage_jobs{state="completed",type="tracks.generate"} 7.0' in metrics


def test_music_video_clips_fan_out_as_jobs_and_compose_once(cluster: Cluster):
    api = Api(cluster.server.url, "video@example.com")
    files = {"file": ("song.wav", wav_bytes(3, duration_s=24.0), "audio/wav")}
    song = api.post("/api/songs", 201, files=files)
    assert api.wait(api.post(f"/api/songs/{song['id']}/analyze", 202)["job_id"])["state"] == (
        "completed"
    )
    api.post(f"/api/songs/{song['id']}/sections", 201, json={})
    accepted = api.post(f"/api/songs/{song['id']}/clips/generate", 202, json={"seed": 3})
    done = api.wait(accepted["job_id"])
    assert done["state"] == "completed" and done["attempts"] == 1, done

    moves = [(a, b) for a, b, _ in transitions(cluster.engine, accepted["job_id"])]
    assert moves == [
        (None, "queued"), ("queued", "running"), ("running", "waiting"),
        ("waiting", "queued"), ("queued", "running"), ("running", "completed"),
    ]  # fmt: skip
    with cluster.engine.connect() as conn:
        clip_jobs = conn.execute(select(Job).where(Job.parent_id == accepted["job_id"])).all()
    clips = api.get(f"/api/videos/{accepted['video_id']}")["clips"]
    assert len(clip_jobs) == len(clips) >= 3
    for job in clip_jobs:  # each clip rendered once, by one of the workers
        assert job.state == "completed" and job.attempts == 1
        assert [(a, b) for a, b, _ in transitions(cluster.engine, job.id)] == [
            (None, "queued"), ("queued", "running"), ("running", "completed"),
        ]  # fmt: skip
        assert job.worker in cluster.worker_names()

    folder = f"users/{api.user_id}/songs/{song['id']}/videos/{accepted['video_id']}/"
    stored = cluster.keys(folder)
    assert len([k for k in stored if "/clips/" in k]) == len(clips)  # one file per clip
    assert {k.removeprefix(folder) for k in stored if "/clips/" not in k} == {
        "video.mp4",
        "poster.jpg",
    }
    video = api.get(f"/api/videos/{accepted['video_id']}")
    assert video["status"] == "ready" and video["version"] == 1


def wait_until_running(api: Api, job_id: str, timeout_s: float = 300) -> dict:
    """Poll until the job's handler is under way (running, with progress reported)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = api.get(f"/api/jobs/{job_id}")
        if job["state"] == "running" and job["progress"] > 0:
            return job
        assert job["state"] in ("queued", "running"), job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not start running: {job}")


def test_kill_9_worker_mid_job_the_other_worker_finishes_it_once(cluster: Cluster):
    api = Api(cluster.server.url, "fault@example.com")
    body = {"prompt": "slow cinematic swell", "duration_s": 30, "genre": "cinematic"}
    accepted = api.post("/api/tracks", 201, json={**body, "seed": 7})
    job_id, track_id = accepted["job_id"], accepted["track_id"]
    wait_until_running(api, job_id)

    with cluster.engine.connect() as conn:
        first_worker = conn.execute(select(Job.worker).where(Job.id == job_id)).scalar_one()
    victim = cluster.worker_names()[first_worker]
    victim.kill()
    with cluster.engine.connect() as conn:
        state = conn.execute(select(Job.state).where(Job.id == job_id)).scalar_one()
    assert state == "running", "the worker was killed in the middle of the job"
    survivor = next(w for w in cluster.workers if w is not victim)

    done = api.wait(job_id)
    assert done["state"] == "completed", done
    assert done["attempts"] == 2
    moves = transitions(cluster.engine, job_id)
    assert [(a, b) for a, b, _ in moves] == [
        (None, "queued"),
        ("queued", "running"),
        ("running", "queued"),
        ("queued", "running"),
        ("running", "completed"),
    ], moves
    assert moves[1][2].endswith(f" on {first_worker}")
    assert moves[2][2] == f"worker {first_worker} stopped; re-queued"
    survivor_name = next(n for n, w in cluster.worker_names().items() if w is survivor)
    assert moves[3][2] == f"attempt 2 of {done['max_attempts']} on {survivor_name}"

    # The files exist once: the track's own files, no leftovers of the killed attempt.
    track_keys, _ = expected_keys(cluster.engine, api.user_id)
    stored = cluster.keys(f"users/{api.user_id}/tracks/{track_id}/")
    assert sorted(track_keys) == stored and len(stored) == len(set(stored))
    kinds = {f["kind"] for f in api.get(f"/api/tracks/{track_id}")["files"]}
    assert {"mp3", "wav", "preview", "stems", "cover", "midi"} <= kinds

    # Charged once, not refunded, not charged again for the second attempt.
    entries = ledger(cluster.engine, api.user_id)
    assert [(e.kind, e.job_id) for e in entries] == [
        (LedgerKind.TRIAL, None),
        (LedgerKind.DEDUCTION, job_id),
    ]
    assert -entries[1].amount == accepted["credits_required"]
    balance = api.get("/api/credits")["balance"]
    assert balance == TRIAL_CREDITS - accepted["credits_required"] == sum(e.amount for e in entries)
