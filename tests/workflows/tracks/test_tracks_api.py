"""POST /api/tracks end to end: refusals that store nothing, a real short generation (files,
measured tempo and key, credits), publishing, visual versions, refunds on failure."""

from __future__ import annotations

import io
import zipfile

import pytest
from PIL import Image

from soundstage.media.audio.decode import probe_audio
from soundstage.workflows.ambient.models import Track
from soundstage.workflows.tracks.models import Series
from soundstage.workflows.tracks.pipeline import cover_png
from tests.workflows.tracks.conftest import (
    balance,
    counts,
    create_track,
    make_track,
    register,
    wait,
)

pytestmark = pytest.mark.timeout(600)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"duration_s": 4.9}, "duration_s"),
        ({"duration_s": 601}, "duration_s"),
        ({"bpm": 39}, "bpm"),
        ({"bpm": 221}, "bpm"),
        ({"key": "H"}, "key"),
        ({"key": "F#", "mode": "blues"}, "mode"),
        ({"genre": "rock"}, "genre"),
        ({"style_strength": 1.01}, "style_strength"),
        ({"style_strength": -0.1}, "style_strength"),
        ({"lyrics": "la " * 1700}, "lyrics"),
        ({"prompt": ""}, "prompt"),
        ({"seed": -1}, "seed"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_invalid_requests_are_422_naming_the_field_and_store_nothing(client, user, fields, field):
    r = create_track(client, user, **fields)
    assert r.status_code == 422, r.text
    assert r.json()["detail"].startswith(f"{field}:"), r.json()
    assert counts(client, user) == (0, 0)
    assert balance(client, user) == 400


def test_vocals_are_refused_honestly_and_nothing_is_stored(client, user):
    r = create_track(client, user, has_vocals=True, lyrics="city lights, carry me home")
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert "singing provider" in detail and "none is configured" in detail
    assert "has_vocals=false" in detail
    assert counts(client, user) == (0, 0)
    assert balance(client, user) == 400


@pytest.mark.parametrize(
    "fields",
    [{"prompt": "a ballad in the style of Taylor Swift"}, {"lyrics": "my number is 555-123-4567"}],
)
def test_content_policy_refuses_prompt_and_lyrics(client, user, fields):
    r = create_track(client, user, **fields)
    assert r.status_code == 422, r.text
    field = next(iter(fields))
    assert field in r.json()["detail"]
    assert counts(client, user) == (0, 0)
    assert balance(client, user) == 400


def test_insufficient_credits_is_402_and_stores_nothing(make_client):
    client = make_client(trial_credits=1, free_daily_tracks=100)
    poor = register(client, "poor@example.com")
    r = client.post("/api/tracks", json={"prompt": "slow piano", "duration_s": 45},
                    headers=poor.headers)  # fmt: skip
    assert r.status_code == 402, r.text
    assert "2" in r.json()["detail"]  # 45 s needs 2 credits
    assert counts(client, poor) == (0, 0)
    assert balance(client, poor) == 1


def test_free_plan_duration_cap_is_403(client, user):
    r = create_track(client, user, duration_s=90)
    assert r.status_code == 403, r.text
    assert counts(client, user) == (0, 0)


def test_unknown_series_and_reference_are_404(client, user):
    assert create_track(client, user, series_id="nope").status_code == 404
    assert create_track(client, user, reference_song_id="nope").status_code == 404
    assert counts(client, user) == (0, 0)


def test_full_generation_files_measurements_credits_and_unlock(client, user):
    r = create_track(
        client, user, prompt="late night city walk, warm keys", duration_s=8, genre="lofi",
        bpm=96, key="F#", mode="minor", seed=3, title="Night walk",
    )  # fmt: skip
    assert r.status_code == 201, r.text
    accepted = r.json()
    assert accepted["credits_required"] == 1
    assert set(accepted) == {"track_id", "job_id", "credits_required"}
    assert balance(client, user) == 399  # charged at once

    job = wait(client, user, accepted["job_id"])
    assert job["state"] == "completed", job
    track = client.get(f"/api/tracks/{accepted['track_id']}", headers=user.headers).json()
    assert track["status"] == "ready" and track["title"] == "Night walk"
    assert (track["kind"], track["genre"], track["credits_required"]) == ("song", "lofi", 1)
    assert (track["key"], track["mode"], track["bpm"]) == ("F#", "minor", 96.0)
    # The analysis hears what was asked.
    check = track["verification"]
    assert check["tempo_match"] and check["key_match"], check
    assert track["measured_bpm"] == pytest.approx(96, rel=0.04)
    assert (track["measured_key"], track["measured_mode"]) == ("F#", "minor")
    assert track["loudness_lufs"] == pytest.approx(-14, abs=1)

    files = {f["kind"]: f for f in track["files"]}
    assert set(files) == {"mp3", "wav", "preview", "stems", "cover", "midi"}
    got = {}
    for kind, entry in files.items():
        r = client.get(entry["url"], headers=user.headers)
        assert r.status_code == 200, (kind, r.text)
        assert len(r.content) == entry["size"]
        got[kind] = r.content
    assert got["mp3"][:3] == b"ID3"
    assert got["wav"][:4] == b"RIFF"
    assert got["midi"][:4] == b"MThd"
    with zipfile.ZipFile(io.BytesIO(got["stems"])) as archive:
        names = archive.namelist()
        assert names and all(n.endswith(".flac") for n in names) and archive.testzip() is None
    cover = Image.open(io.BytesIO(got["cover"]))
    assert cover.format == "PNG" and cover.size == (1024, 1024)

    storage = client.app.state.storage
    with client.app.state.db.session() as session:
        row = session.get(Track, track["id"])
        audio = probe_audio(storage.local_path(row.files["mp3"]["key"]))
        preview = probe_audio(storage.local_path(row.files["preview"]["key"]))
    assert audio.duration_s == pytest.approx(8, abs=0.1)
    assert 0 < preview.duration_s <= 8.1  # shorter than the 30 s preview: the whole track

    ledger = client.get("/api/credits/ledger", headers=user.headers).json()["items"]
    assert [e["kind"] for e in ledger if e["job_id"] == accepted["job_id"]] == ["DEDUCTION"]
    style = client.get("/api/style", headers=user.headers).json()
    assert style["completed_tracks"] == 1 and "waves" in style["unlocks"]


def test_publish_public_page_and_visual_versions(client, user, make_user):
    track = make_track(client, user, duration_s=5, genre="piano", seed=11)
    tid = track["id"]
    # Private: the public routes answer exactly like a missing track.
    assert client.get(f"/api/public/tracks/{tid}").status_code == 404
    assert client.get(f"/api/public/tracks/{tid}/files/mp3").status_code == 404

    r = client.post(f"/api/tracks/{tid}/publish", json={"public": True}, headers=user.headers)
    assert r.status_code == 200 and r.json()["public"] is True
    page = client.get(f"/api/public/tracks/{tid}")
    assert page.status_code == 200
    body = page.json()
    assert body["id"] == tid and "owner_id" not in body and user.email not in page.text
    assert {f["kind"] for f in body["files"]} == {"mp3", "preview", "cover"}
    for entry in body["files"]:
        assert client.get(entry["url"]).status_code == 200  # no login needed
    assert client.get(f"/api/public/tracks/{tid}/files/stems").status_code == 422
    other = make_user()
    assert client.get(f"/api/tracks/{tid}", headers=other.headers).status_code == 404

    # Visual versions: a new cover, the audio untouched, the same version the same bytes.
    audio_before = client.get(f"/api/tracks/{tid}/files/mp3", headers=user.headers).content
    cover_v1 = client.get(f"/api/tracks/{tid}/files/cover", headers=user.headers).content
    r = client.post(f"/api/tracks/{tid}/increment-visual-version", headers=user.headers)
    assert r.status_code == 200, r.text
    assert r.json()["visual_version"] == 2
    cover_v2 = client.get(f"/api/tracks/{tid}/files/cover", headers=user.headers).content
    assert cover_v2 != cover_v1
    assert client.get(f"/api/tracks/{tid}/files/mp3", headers=user.headers).content == audio_before
    with client.app.state.db.session() as session:
        series = session.get(Series, track["series_id"])
        size = client.app.state.settings.track_cover_size_px
        assert cover_png(series, tid, 1, size) == cover_v1
        assert cover_png(series, tid, 2, size) == cover_v2
        old = f"users/{user.id}/tracks/{tid}/cover-v1.png"
        assert not client.app.state.storage.exists(old)  # the replaced cover is gone

    r = client.post(f"/api/tracks/{tid}/publish", json={"public": False}, headers=user.headers)
    assert r.status_code == 200
    assert client.get(f"/api/public/tracks/{tid}").status_code == 404


def test_failed_job_refunds_its_credits(make_client, tmp_path):
    client = make_client(soundfont=tmp_path / "missing.sf2", free_daily_tracks=100)
    who = register(client, "a@example.com")
    r = client.post("/api/tracks", json={"prompt": "warm keys", "duration_s": 40,
                                         "genre": "lofi"}, headers=who.headers)  # fmt: skip
    assert r.status_code == 201, r.text
    # (No balance check here: the job may already have failed and been refunded.)
    job = wait(client, who, r.json()["job_id"])
    assert job["state"] == "failed"
    track = client.get(f"/api/tracks/{r.json()['track_id']}", headers=who.headers).json()
    assert track["status"] == "failed" and "SoundFont" in track["error"]
    assert balance(client, who) == 400
    ledger = client.get("/api/credits/ledger", headers=who.headers).json()["items"]
    moves = sorted((e["kind"], e["amount"]) for e in ledger if e["job_id"] == job["id"])
    assert moves == [("DEDUCTION", -2), ("REFUND", 2)]  # 40 s: 2 credits, charged then refunded


def test_delete_track_removes_files_and_refunds_an_unfinished_one(client, user):
    track = make_track(client, user, duration_s=5, seed=4)
    storage = client.app.state.storage
    prefix = f"users/{user.id}/tracks/{track['id']}/"
    assert storage.list_keys(prefix)
    assert client.delete(f"/api/tracks/{track['id']}", headers=user.headers).status_code == 204
    assert storage.list_keys(prefix) == []
    assert client.get(f"/api/tracks/{track['id']}", headers=user.headers).status_code == 404
    assert balance(client, user) == 399  # a delivered track is not refunded
