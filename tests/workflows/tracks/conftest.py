"""Fixtures of the track platform tests: an app whose free plan allows many tracks a day,
helpers to create tracks and wait for them, and a reference WAV rendered by our engine."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests.conftest import make_settings
from tests.helpers import wait_job

TERMINAL = {"completed", "failed", "cancelled"}


@pytest.fixture
def settings(tmp_path: Path):
    """The test app's settings: 100 free tracks a day so the daily limit stays out of the way."""
    return make_settings(tmp_path / "data", free_daily_tracks=100)


def create_track(client, user, **fields: Any):
    body = {"prompt": "late night city walk, warm keys", "duration_s": 5, **fields}
    return client.post("/api/tracks", json=body, headers=user.headers)


def wait(client, user, job_id: str, timeout_s: float = 300) -> dict:
    def get_json(path: str) -> dict:
        r = client.get(path, headers=user.headers)
        assert r.status_code == 200, r.text
        return r.json()

    return wait_job(get_json, job_id, timeout_s)


def make_track(client, user, **fields: Any) -> dict:
    """Create a track, wait for its job, and return the track's JSON (it must complete)."""
    r = create_track(client, user, **fields)
    assert r.status_code == 201, r.text
    job = wait(client, user, r.json()["job_id"])
    assert job["state"] == "completed", job
    track = client.get(f"/api/tracks/{r.json()['track_id']}", headers=user.headers)
    assert track.status_code == 200, track.text
    return track.json()


def register(client, email: str, password: str = "a long password 1") -> SimpleNamespace:
    """A user of an app made with `make_client` (the `user` fixture serves `client` only)."""
    r = client.post("/api/auth/register", json={"email": email, "password": password})
    assert r.status_code == 201, r.text
    tokens = client.post("/api/auth/login", json={"email": email, "password": password}).json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    return SimpleNamespace(id=r.json()["id"], email=email, headers=headers)


def balance(client, user) -> int:
    r = client.get("/api/credits", headers=user.headers)
    assert r.status_code == 200, r.text
    return r.json()["balance"]


def counts(client, user) -> tuple[int, int]:
    """(tracks, jobs) the user has: both must stay 0 after a refused request."""
    tracks = client.get("/api/tracks", headers=user.headers).json()["total"]
    jobs = client.get("/api/jobs", headers=user.headers).json()["total"]
    return tracks, jobs


@pytest.fixture(scope="session")
def reference_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 s at 96 BPM in F# minor, rendered by the engine: a reference with a clear pulse."""
    from soundstage.config import Settings
    from soundstage.media.music.engine import MusicOutputs, MusicRequest, render_music

    out = tmp_path_factory.mktemp("reference")
    request = MusicRequest("lofi beat", 12.0, 3, "F#", "minor", 96.0)
    result = render_music(
        request, out, soundfont=Settings(_env_file=None).resolved_soundfont(),
        work_dir=out / "tmp", outputs=MusicOutputs(formats=("wav",), stems=False, midi=False),
    )  # fmt: skip
    return result.files["wav"]


@pytest.fixture
def upload_song(client) -> Callable[..., dict]:
    def _upload(user, path: Path, *, analyse: bool = True) -> dict:
        with path.open("rb") as fh:
            r = client.post(
                "/api/songs", files={"file": (path.name, fh, "audio/wav")}, headers=user.headers
            )
        assert r.status_code == 201, r.text
        song = r.json()
        if analyse:
            job = client.post(f"/api/songs/{song['id']}/analyze", headers=user.headers)
            assert job.status_code == 202, job.text
            assert wait(client, user, job.json()["job_id"])["state"] == "completed"
        return song

    return _upload
