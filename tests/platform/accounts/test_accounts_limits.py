"""Rate limits (429 + Retry-After) per IP, per sign-in attempts and per user's job submissions,
and the per-user storage quota on uploads (413)."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from soundstage.platform.ratelimit import TokenBuckets
from soundstage.workflows.songs.models import Song

PASSWORD = "tidal organ at dusk"
SLOW = 0.001  # tokens per minute: nothing refills during a test


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_burst_then_steady_rate() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(per_minute=60, burst=3, clock=clock)  # one token a second
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(1.0)
    assert buckets.take("b") == 0.0  # keys are independent
    clock.now += 0.5
    assert buckets.take("a") == pytest.approx(0.5)
    clock.now += 0.5
    assert buckets.take("a") == 0.0
    clock.now += 100
    assert [buckets.take("a") for _ in range(4)][-1] > 0  # refills to the burst, not beyond


def test_idle_buckets_are_forgotten() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(per_minute=60, burst=2, clock=clock)
    for i in range(999):
        buckets.take(f"ip-{i}")
    assert len(buckets) == 999
    clock.now += 10  # every bucket is full again
    buckets.take("last")  # the 1000th take sweeps
    assert len(buckets) == 1


def login_headers(client, email: str) -> dict[str, str]:
    client.post("/api/auth/register", json={"email": email, "password": PASSWORD})
    r = client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def assert_429(r, words: str) -> int:
    assert r.status_code == 429, r.text
    retry_after = r.headers["retry-after"]
    assert retry_after.isdigit() and int(retry_after) >= 1
    assert words in r.json()["detail"]
    assert r.json()["retry_after_s"] == int(retry_after)
    return int(retry_after)


def test_per_ip_limit_on_api_requests(make_client) -> None:
    client = make_client(rate_limit_ip_burst=5, rate_limit_ip_per_minute=SLOW)
    headers = login_headers(client, "a@example.com")  # 2 requests
    for _ in range(3):
        assert client.get("/api/auth/me", headers=headers).status_code == 200
    wait = assert_429(client.get("/api/auth/me", headers=headers), "too many requests")
    assert wait > 3600  # at 0.001 a minute, the next token is far away
    # Outside /api/ nothing is limited: health checks, static files, pages.
    assert client.get("/healthz").status_code == 200
    assert client.get("/static/studio.css").status_code == 200
    assert client.get("/login").status_code == 200
    # Webhooks are exempt (the route may not exist: anything but 429).
    assert client.post("/api/webhooks/stripe", content=b"{}").status_code != 429


def test_sign_in_attempts_have_their_own_limit(make_client) -> None:
    client = make_client(rate_limit_auth_burst=3, rate_limit_auth_per_minute=SLOW)
    wrong = {"email": "nobody@example.com", "password": "wrong password"}
    for _ in range(3):
        assert client.post("/api/auth/login", json=wrong).status_code == 401
    assert_429(client.post("/api/auth/login", json=wrong), "sign-in attempts")
    # The web form shares the bucket.
    r = client.post("/login", data=wrong, headers={"origin": "http://testserver"})
    assert_429(r, "sign-in attempts")
    # Other API calls are not sign-in attempts.
    assert client.get("/api/auth/me").status_code == 401


def test_limits_can_be_turned_off(make_client) -> None:
    client = make_client(
        rate_limit_enabled=False, rate_limit_ip_burst=1, rate_limit_ip_per_minute=SLOW
    )
    assert all(client.get("/api/auth/me").status_code == 401 for _ in range(5))


def add_song(client, owner_id: str) -> str:
    """A song row whose file is not audio: its analysis job fails at once, cheaply."""
    storage = client.app.state.storage
    with client.app.state.db.session() as session:
        song = Song(owner_id=owner_id, filename="x.wav", content_type="audio/wav", format="wav",
                    codec="pcm_s16le", duration_s=1.0, sample_rate=8000, channels=1,
                    size_bytes=4, original_key="")  # fmt: skip
        session.add(song)
        session.flush()
        song.original_key = f"users/{owner_id}/songs/{song.id}/original.wav"
        storage.put_bytes(song.original_key, b"junk")
        session.commit()
        return song.id


def me(client, headers) -> str:
    return client.get("/api/auth/me", headers=headers).json()["id"]


def test_per_user_limit_on_job_submissions(make_client) -> None:
    client = make_client(rate_limit_jobs_burst=2, rate_limit_jobs_per_minute=SLOW)
    alice, bob = (
        login_headers(client, "alice@example.com"),
        login_headers(client, "bob@example.com"),
    )
    alice_songs = [add_song(client, me(client, alice)) for _ in range(3)]
    for song_id in alice_songs[:2]:
        assert client.post(f"/api/songs/{song_id}/analyze", headers=alice).status_code == 202
    r = client.post(f"/api/songs/{alice_songs[2]}/analyze", headers=alice)
    assert_429(r, "too many jobs submitted")
    # Nothing was stored by the refused request: the song is not being analyzed.
    with client.app.state.db.session() as session:
        song = session.get(Song, alice_songs[2])
        assert (song.status, song.analysis_job_id) == ("uploaded", None)
    # Reading is not submitting, and the limit is per user.
    assert client.get("/api/jobs", headers=alice).status_code == 200
    bob_song = add_song(client, me(client, bob))
    assert client.post(f"/api/songs/{bob_song}/analyze", headers=bob).status_code == 202


def wav_bytes(seconds: float = 1.0) -> bytes:
    buffer = io.BytesIO()
    tone = 0.2 * np.sin(2 * np.pi * 440 * np.arange(int(8000 * seconds)) / 8000)
    sf.write(buffer, tone, 8000, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def test_storage_quota_refuses_uploads_with_413(make_client) -> None:
    song = wav_bytes()
    client = make_client(user_storage_quota_bytes=len(song) + 1000)
    headers = login_headers(client, "a@example.com")
    files = {"file": ("tone.wav", song, "audio/wav")}
    first = client.post("/api/songs", files=files, headers=headers)
    assert first.status_code == 201, first.text
    usage = client.get("/api/account/storage", headers=headers).json()
    assert usage["used_bytes"] >= len(song)
    assert usage["quota_bytes"] == len(song) + 1000
    assert usage["free_bytes"] == usage["quota_bytes"] - usage["used_bytes"]

    r = client.post("/api/songs", files=files, headers=headers)
    assert r.status_code == 413
    assert r.json()["detail"].startswith("storage quota exceeded: your files use")
    assert "delete songs" in r.json()["detail"]
    listed = client.get("/api/songs", headers=headers).json()
    assert listed["total"] == 1  # the refused upload stored nothing
    assert client.get("/api/account/storage", headers=headers).json() == usage

    # Deleting frees the space.
    client.delete(f"/api/songs/{first.json()['id']}", headers=headers)
    assert client.post("/api/songs", files=files, headers=headers).status_code == 201


def test_storage_usage_is_per_user(make_client) -> None:
    client = make_client()
    alice, bob = (
        login_headers(client, "alice@example.com"),
        login_headers(client, "bob@example.com"),
    )
    client.post("/api/songs", files={"file": ("t.wav", wav_bytes(), "audio/wav")}, headers=alice)
    assert client.get("/api/account/storage", headers=alice).json()["used_bytes"] > 0
    assert client.get("/api/account/storage", headers=bob).json()["used_bytes"] == 0
