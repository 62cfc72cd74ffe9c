"""A short song from our own engine, uploaded and analysed, for the music video tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import make_settings
from tests.helpers import generate_song, wait_job

LYRICS = "light on the water\nslowly drifting home\nwe follow the river\nall the way down"


@pytest.fixture(scope="session")
def song_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 30 s MP3 rendered by our music engine (a steady arpeggio pulse)."""
    return generate_song(tmp_path_factory.mktemp("song"), "warm guitar", seed=3, bpm=100)


@pytest.fixture
def settings(tmp_path: Path):
    """12 fps keeps the 1080p renders of these tests short; everything else is the default."""
    return make_settings(tmp_path / "data", video_fps=12)


def upload(client, user, path: Path, *, lyrics: str | None = LYRICS, analyze: bool = True) -> dict:
    """Upload (and analyse) a song through the API; returns the song JSON."""
    files = {"file": (path.name, path.read_bytes(), "audio/mpeg")}
    data = {"lyrics": lyrics} if lyrics else None
    song = client.post("/api/songs", files=files, data=data, headers=user.headers)
    assert song.status_code == 201, song.text
    song = song.json()
    if analyze:
        accepted = client.post(f"/api/songs/{song['id']}/analyze", headers=user.headers)
        job = wait_job(
            lambda p: client.get(p, headers=user.headers).json(), accepted.json()["job_id"]
        )
        assert job["state"] == "completed", job["error"]
    return song
