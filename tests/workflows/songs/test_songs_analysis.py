"""Analysing songs through the API (job, stored JSON) and reference tracks (nothing stored)."""

from __future__ import annotations

import pytest

from tests.conftest import stored_files
from tests.helpers import wait_job

pytestmark = pytest.mark.timeout(180)

DOCUMENTED_KEYS = {
    "duration_s", "sample_rate", "channels", "bpm", "bpm_confidence", "beats", "downbeats",
    "meter", "key", "mode", "key_confidence", "loudness_lufs", "true_peak_dbtp",
    "loudness_range_lu", "energy_curve", "energy_curve_hz", "genre", "genre_probabilities",
    "mood_primary", "mood_tags", "mood_vector", "mood_confidence", "sections",
    "suggested_sections", "vocal_regions", "lyrics", "lyrics_source", "warnings",
}  # fmt: skip


def test_upload_analyze_read_and_delete(client, user, track, settings):
    files = {"file": ("calm.mp3", track.read_bytes(), "audio/mpeg")}
    data = {"lyrics": "soft light on the water\nslowly drifting home"}
    song = client.post("/api/songs", files=files, data=data, headers=user.headers).json()

    accepted = client.post(f"/api/songs/{song['id']}/analyze", headers=user.headers)
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["song_id"] == song["id"]
    job = wait_job(lambda p: client.get(p, headers=user.headers).json(), accepted.json()["job_id"])
    assert job["state"] == "completed", job["error"]
    assert job["progress"] == 100

    analysis = client.get(f"/api/songs/{song['id']}/analysis", headers=user.headers)
    assert analysis.status_code == 200, analysis.text
    result = analysis.json()
    assert DOCUMENTED_KEYS - set(result) == set()
    assert abs(result["duration_s"] - 30) < 0.5
    assert result["bpm"] > 0 and result["beats"] == sorted(result["beats"])  # accuracy: media tests
    assert result["key"] and result["mode"] in ("major", "minor")
    assert result["loudness_lufs"] is not None and abs(result["loudness_lufs"] + 14) < 2
    assert result["sections"] and all(s["end"] > s["start"] for s in result["sections"])

    stored = client.get(f"/api/songs/{song['id']}", headers=user.headers).json()
    assert stored["status"] == "analyzed" and stored["analyzed_at"]
    assert (stored["bpm"], stored["key"], stored["mode"]) == (
        result["bpm"],
        result["key"],
        result["mode"],
    )
    assert list((settings.tmp_dir).glob("job-*")) == []  # the work folder is cleaned up

    assert client.delete(f"/api/songs/{song['id']}", headers=user.headers).status_code == 204
    assert client.get(f"/api/songs/{song['id']}/analysis", headers=user.headers).status_code == 404
    assert client.app.state.storage.list_keys("users") == []


def test_analysis_of_a_broken_stored_file_fails_cleanly(client, user, audio, settings):
    song = client.post(
        "/api/songs", files={"file": ("tone.wav", audio["wav"].read_bytes())}, headers=user.headers
    ).json()
    original = f"users/{user.id}/songs/{song['id']}/original.wav"
    assert client.app.state.storage.exists(original)
    client.app.state.storage.put_bytes(original, b"RIFF\x00\x00\x00\x00WAVEjunk")  # damaged
    accepted = client.post(f"/api/songs/{song['id']}/analyze", headers=user.headers).json()
    job = wait_job(lambda p: client.get(p, headers=user.headers).json(), accepted["job_id"])
    assert job["state"] == "failed" and job["error"]
    stored = client.get(f"/api/songs/{song['id']}", headers=user.headers).json()
    assert stored["status"] == "failed" and stored["error"]
    missing = client.get(f"/api/songs/{song['id']}/analysis", headers=user.headers)
    assert missing.status_code == 404 and "failed" in missing.json()["detail"]


def test_reference_features_store_nothing(client, user, track, audio, settings):
    files = {"file": ("reference.mp3", track.read_bytes())}
    response = client.post("/api/analyze/reference", files=files, headers=user.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert {"bpm", "key", "mode", "energy", "loudness_lufs", "duration_s"} - set(body) == set()
    assert body["bpm"] > 0 and body["mode"] in ("major", "minor")
    assert abs(body["duration_s"] - 30) < 0.5

    bad = client.post(
        "/api/analyze/reference",
        files={"file": ("ref.mp3", audio["flac"].read_bytes())},
        headers=user.headers,
    )
    assert bad.status_code == 422 and "ref.mp3 is really FLAC audio" in bad.json()["detail"]
    assert stored_files(client.app.state.storage) == []
    assert list((settings.tmp_dir / "uploads").iterdir()) == []
    assert client.get("/api/songs", headers=user.headers).json()["total"] == 0


def test_notes_to_midi_on_request(client, user, track):
    files = {"file": ("calm.mp3", track.read_bytes(), "audio/mpeg")}
    song = client.post("/api/songs", files=files, headers=user.headers).json()
    base = f"/api/songs/{song['id']}"
    assert client.get(f"{base}/notes.mid", headers=user.headers).status_code == 404
    bad = client.post(f"{base}/analyze", json={"notes": "please"}, headers=user.headers)
    assert bad.status_code == 422 and "notes" in bad.json()["detail"]

    accepted = client.post(f"{base}/analyze", json={"notes": True}, headers=user.headers)
    assert accepted.status_code == 202, accepted.text
    job = wait_job(lambda p: client.get(p, headers=user.headers).json(), accepted.json()["job_id"])
    assert job["state"] == "completed", job["error"]
    notes = client.get(f"{base}/analysis", headers=user.headers).json()["notes"]
    assert notes["melody"] + notes["bass"] > 20 and notes["midi_url"] == f"{base}/notes.mid"
    midi = client.get(notes["midi_url"], headers=user.headers)
    assert midi.status_code == 200 and midi.content.startswith(b"MThd")
