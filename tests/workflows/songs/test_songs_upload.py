"""Uploading songs: accepted formats, refusals that store nothing, library routes, ownership."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from soundstage.platform.errors import Conflict
from soundstage.workflows.songs import service
from soundstage.workflows.songs.models import Song
from tests.conftest import stored_files

pytestmark = pytest.mark.timeout(120)


def upload(client, headers, path: Path, name: str | None = None, **data):
    files = {"file": (name or path.name, path.read_bytes(), "application/octet-stream")}
    return client.post("/api/songs", files=files, data=data or None, headers=headers)


def register(client) -> dict[str, str]:
    email = f"u-{uuid.uuid4().hex[:8]}@example.com"
    body = {"email": email, "password": "password-123"}
    assert client.post("/api/auth/register", json=body).status_code == 201
    token = client.post("/api/auth/login", json=body).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def assert_nothing_stored(client, headers) -> None:
    settings = client.app.state.settings
    assert stored_files(client.app.state.storage) == []
    uploads = settings.tmp_dir / "uploads"
    assert not uploads.exists() or list(uploads.iterdir()) == []
    assert client.get("/api/songs", headers=headers).json()["total"] == 0
    with client.app.state.db.session() as session:
        assert session.query(Song).count() == 0


@pytest.mark.parametrize(
    ("kind", "fmt", "rate", "channels"),
    [
        ("mp3", "mp3", 44100, 2),
        ("flac", "flac", 44100, 2),
        ("m4a", "m4a", 44100, 1),
        ("ogg", "ogg", 44100, 1),
        ("wav", "wav", 44100, 2),
        ("wav_mono_8k", "wav", 8000, 1),
        ("wav_96k", "wav", 96000, 2),
    ],
)
def test_accepted_formats_are_stored_and_streamed(client, user, audio, kind, fmt, rate, channels):
    path = audio[kind]
    response = upload(client, user.headers, path)
    assert response.status_code == 201, response.text
    song = response.json()
    assert (song["format"], song["sample_rate"], song["channels"]) == (fmt, rate, channels)
    assert song["status"] == "uploaded" and song["filename"] == path.name
    assert song["size_bytes"] == path.stat().st_size
    assert abs(song["duration_s"] - 3) < 0.1
    assert not song["has_cover"] and song["cover_url"] is None

    stored = client.get(song["file_url"], headers=user.headers)
    assert stored.status_code == 200 and stored.content == path.read_bytes()
    assert stored.headers["content-type"].startswith(song["content_type"])
    ranged = client.get(song["file_url"], headers={**user.headers, "Range": "bytes=0-9"})
    assert ranged.status_code == 206 and ranged.content == path.read_bytes()[:10]
    settings = client.app.state.settings
    assert list((settings.tmp_dir / "uploads").iterdir()) == []


def test_tags_cover_and_lyrics_are_kept(client, user, track):
    response = upload(client, user.headers, track, "My Song.mp3", lyrics="la la la\nlo lo lo\n")
    assert response.status_code == 201, response.text
    song = response.json()
    assert song["tags"]["title"] == "Calm piano" and song["tags"]["artist"] == "Soundstage"
    assert song["has_cover"] and song["has_lyrics"]
    assert song["lyrics"] == "la la la\nlo lo lo"
    cover = client.get(song["cover_url"], headers=user.headers)
    assert cover.status_code == 200 and cover.content.startswith(b"\x89PNG")
    assert cover.headers["content-type"] == "image/png"
    assert song["bitrate_kbps"] > 300 and song["codec"] == "mp3"


def test_lyrics_can_come_as_a_text_file(client, user, audio):
    files = {"file": ("tone.mp3", audio["mp3"].read_bytes()), "lyrics": ("l.txt", b"one\ntwo\n")}
    response = client.post("/api/songs", files=files, headers=user.headers)
    assert response.status_code == 201, response.text
    assert response.json()["lyrics"] == "one\ntwo"


@pytest.mark.parametrize(
    ("kind", "name", "status", "message"),
    [
        ("flac", "song.mp3", 422, "song.mp3 is really FLAC audio"),
        ("mp3", "song.wav", 422, "song.wav is really MP3 audio"),
        ("wav", "song.flac", 422, "song.flac is really WAV audio"),
        ("mp3", "song.txt", 422, "unsupported file type"),
        ("mp3", "song", 422, "unsupported file type"),
        ("noise", "noise.mp3", 422, "noise.mp3 is not a readable audio file"),
        ("text", "notes.wav", 422, "notes.wav is not a readable audio file"),
        ("empty", "empty.mp3", 422, "empty.mp3 is empty"),
        ("zero", "zero.wav", 422, "zero.wav holds no audio"),
    ],
)
def test_bad_uploads_are_refused_and_store_nothing(
    client, user, audio, kind, name, status, message
):
    response = upload(client, user.headers, audio[kind], name)
    assert response.status_code == status, response.text
    assert message in response.json()["detail"]
    assert_nothing_stored(client, user.headers)


def test_malformed_requests_are_refused(client, user, audio):
    no_file = client.post("/api/songs", data={"lyrics": "hi"}, files={"other": ("x", b"1")},
                          headers=user.headers)  # fmt: skip
    assert no_file.status_code == 422 and "file: an audio file is required" in no_file.text
    not_multipart = client.post("/api/songs", json={"file": "x"}, headers=user.headers)
    assert not_multipart.status_code == 415 and "multipart/form-data" in not_multipart.text
    long_lyrics = upload(client, user.headers, audio["mp3"], lyrics="x" * 20_001)
    assert long_lyrics.status_code == 422 and "lyrics: at most 20000" in long_lyrics.text
    two = client.post(
        "/api/songs",
        files=[("file", ("a.mp3", audio["mp3"].read_bytes())), ("file", ("b.mp3", b"12"))],
        headers=user.headers,
    )
    assert two.status_code == 422 and "one file per upload" in two.text
    anonymous = upload(client, {}, audio["mp3"])
    assert anonymous.status_code == 401
    assert_nothing_stored(client, user.headers)


def test_too_long_is_refused(make_client, audio):
    client = make_client(song_max_duration_s=5)
    headers = register(client)
    response = upload(client, headers, audio["long"])
    assert response.status_code == 422
    assert response.json()["detail"] == "long.mp3 is 0:10 long; songs can be at most 5 s (0:05)"
    assert upload(client, headers, audio["mp3"]).status_code == 201  # 3 s is fine


def test_too_big_is_refused_while_streaming(make_client, audio):
    client = make_client(song_max_upload_bytes=1000)
    headers = register(client)
    response = upload(client, headers, audio["mp3"])
    assert response.status_code == 413
    assert response.json()["detail"] == "file: tone.mp3 is over the 1000 bytes upload limit"
    assert_nothing_stored(client, headers)
    huge = client.post(
        "/api/songs",
        content=b"--x--\r\n",
        headers={**headers, "content-type": "multipart/form-data; boundary=x",
                 "content-length": str(10 << 20)},
    )  # fmt: skip
    assert huge.status_code == 413 and "over the 1000 bytes limit" in huge.text


def test_list_get_delete_and_other_users(client, make_user, audio):
    owner, other = make_user(), make_user()
    ids = [upload(client, owner.headers, audio[k]).json()["id"] for k in ("mp3", "flac", "ogg")]
    page = client.get("/api/songs?page_size=2", headers=owner.headers).json()
    assert page["total"] == 3 and [s["id"] for s in page["items"]] == ids[::-1][:2]
    assert client.get("/api/songs?status=analyzed", headers=owner.headers).json()["total"] == 0
    assert client.get("/api/songs?q=tone.fl", headers=owner.headers).json()["total"] == 1

    song_id = ids[0]
    assert client.get("/api/songs", headers=other.headers).json()["total"] == 0
    for method, path in [
        ("get", ""), ("get", "/file"), ("get", "/cover"), ("get", "/analysis"),
        ("post", "/analyze"), ("delete", ""),
    ]:  # fmt: skip
        response = client.request(method, f"/api/songs/{song_id}{path}", headers=other.headers)
        assert response.status_code == 404, (method, path)
        assert response.json()["detail"] == "song not found"

    missing = client.get(f"/api/songs/{song_id}/analysis", headers=owner.headers)
    assert missing.status_code == 404
    assert missing.json()["detail"] == (
        f"song {song_id} is not analyzed yet; POST /api/songs/{song_id}/analyze"
    )
    no_cover = client.get(f"/api/songs/{song_id}/cover", headers=owner.headers)
    assert no_cover.status_code == 404 and "no embedded cover" in no_cover.text

    storage = client.app.state.storage
    song_folder = f"users/{owner.id}/songs/{song_id}"
    assert storage.exists(f"{song_folder}/original.mp3")
    assert client.delete(f"/api/songs/{song_id}", headers=owner.headers).status_code == 204
    assert storage.list_keys(song_folder) == []
    assert client.get(f"/api/songs/{song_id}", headers=owner.headers).status_code == 404
    assert client.get("/api/songs", headers=owner.headers).json()["total"] == 2


def test_second_analysis_request_conflicts_while_one_is_unfinished(client, user, audio):
    song_id = upload(client, user.headers, audio["mp3"]).json()["id"]
    with client.app.state.db.session() as session:  # never committed: the runner never sees it
        song, job = service.request_analysis(session, user.id, song_id)
        assert song.status == "analyzing" and song.analysis_job_id == job.id
        with pytest.raises(
            Conflict, match=f"already being analyzed; follow GET /api/jobs/{job.id}"
        ):
            service.request_analysis(session, user.id, song_id)
        session.rollback()
