"""The music video API in-process: sections, plan, generate, compose, regenerate, finalize,
library, share links, and every refusal the seed names."""

from __future__ import annotations

import json
import subprocess
from types import SimpleNamespace

import pytest

from tests.helpers import wait_job
from tests.workflows.music_video.conftest import upload

pytestmark = pytest.mark.timeout(600)


def wait(client, user, job_id: str) -> dict:
    job = wait_job(lambda p: client.get(p, headers=user.headers).json(), job_id, timeout_s=400)
    assert job["state"] == "completed", job["error"]
    return job


def ffprobe(path) -> dict:
    args = ["ffprobe", "-v", "error", "-count_packets", "-show_streams", "-of", "json", str(path)]
    return json.loads(subprocess.run(args, capture_output=True, check=True).stdout)


def test_sections_need_an_analysis_and_a_valid_tiling(client, user, song_file):
    song = upload(client, user, song_file, analyze=False)
    base = f"/api/songs/{song['id']}"
    early = client.post(f"{base}/sections", json={}, headers=user.headers)
    assert early.status_code == 409 and "not analyzed" in early.json()["detail"]
    wait(client, user, client.post(f"{base}/analyze", headers=user.headers).json()["job_id"])
    duration = song["duration_s"]

    def post(sections):
        return client.post(f"{base}/sections", json={"sections": sections}, headers=user.headers)

    bad = {
        "gap": [{"start": 0, "end": 8, "label": "a"}, {"start": 10, "end": duration, "label": "b"}],
        "overlap": [{"start": 0, "end": 12, "label": "a"},
                    {"start": 10, "end": duration, "label": "b"}],
        "past the song": [{"start": 0, "end": duration + 5, "label": "a"}],
        "prompt_note": [{"start": 0, "end": duration, "label": "a", "prompt_note": "x" * 101}],
    }  # fmt: skip
    for reason, sections in bad.items():
        answer = post(sections)
        assert answer.status_code == 422, (reason, answer.text)
        assert reason.split()[0] in answer.json()["detail"], answer.json()
    assert client.get(f"{base}/sections", headers=user.headers).json() == []  # nothing stored

    made = post([{"start": 0, "end": 10.1, "label": "intro", "prompt_note": "misty dawn"},
                 {"start": 10.1, "end": duration, "label": "chorus"}])  # fmt: skip
    assert made.status_code == 201, made.text
    beats = client.get(f"{base}/analysis", headers=user.headers).json()["beats"]
    edge = made.json()[1]["start"]
    assert min(abs(edge - b) for b in beats) < 1e-3  # snapped to a beat
    assert made.json()[0]["regenerations_left"] == 1

    section_id = made.json()[0]["id"]
    moved = client.patch(f"{base}/sections/{section_id}", json={"start": 3}, headers=user.headers)
    assert moved.status_code == 422 and "only label and prompt_note" in moved.json()["detail"]
    renamed = client.patch(
        f"{base}/sections/{section_id}", json={"label": "verse"}, headers=user.headers
    )
    assert renamed.status_code == 200 and renamed.json()["label"] == "verse"


def test_the_whole_flow(client, user, make_user, song_file, settings):
    song = upload(client, user, song_file)
    base = f"/api/songs/{song['id']}"
    hint = client.get(f"{base}/video/suggestion", headers=user.headers).json()
    assert hint["video_type"] in hint["video_types"] and len(hint["video_types"]) >= 4
    assert hint["sections"] and hint["prompt"]

    sections = client.post(f"{base}/sections", json={}, headers=user.headers)
    assert sections.status_code == 201, sections.text
    clips = client.post(f"{base}/clips/plan", headers=user.headers).json()
    fps = settings.video_fps
    assert clips[0]["start_frame"] == 0
    assert sum(c["n_frames"] for c in clips) == round(song["duration_s"] * fps)
    assert all(3.0 <= c["n_frames"] / fps <= 10.0 for c in clips)

    accepted = client.post(
        f"{base}/clips/generate", json={"aspect": "9:16", "seed": 7}, headers=user.headers
    )
    assert accepted.status_code == 202, accepted.text
    video_id = accepted.json()["video_id"]
    wait(client, user, accepted.json()["job_id"])
    status = client.get(f"{base}/generation/status", headers=user.headers).json()
    assert status["progress"] == 100 and status["clips_completed"] == status["clips_total"]
    again = client.post(f"{base}/clips/generate", json={}, headers=user.headers)
    assert again.status_code == 409  # one video per song: regenerate instead

    video = client.get(f"/api/videos/{video_id}", headers=user.headers).json()
    assert video["status"] == "ready" and (video["width"], video["height"]) == (1080, 1920)
    result = client.get(
        f"{base}/compose/{accepted.json()['job_id']}/result", headers=user.headers
    ).json()
    assert result["video_url"] == f"/api/videos/{video_id}/file"
    mp4 = client.get(result["video_url"], headers=user.headers)
    assert mp4.status_code == 200 and mp4.headers["content-type"] == "video/mp4"
    part = client.get(result["video_url"], headers={**user.headers, "Range": "bytes=0-99"})
    assert part.status_code == 206 and len(part.content) == 100
    assert client.get(f"/api/videos/{video_id}/poster", headers=user.headers).status_code == 200
    lyrics = client.get(video["captions_url"], headers=user.headers)  # uploaded lyrics, aligned
    assert lyrics.status_code == 200 and "slowly drifting home" in lyrics.text

    # another user sees nothing
    other = make_user()
    for path in (f"/api/videos/{video_id}", f"{base}/sections", f"/api/videos/{video_id}/file"):
        assert client.get(path, headers=other.headers).status_code == 404
    clip_id = video["clips"][0]["id"]
    stolen = client.post(f"/api/videos/{video_id}/regenerate/clip/{clip_id}", headers=other.headers)
    assert stolen.status_code == 404

    # regenerate a clip (once), then a section (once)
    regen = client.post(f"/api/videos/{video_id}/regenerate/clip/{clip_id}", headers=user.headers)
    assert regen.status_code == 202, regen.text
    wait(client, user, regen.json()["job_id"])
    video = client.get(f"/api/videos/{video_id}", headers=user.headers).json()
    assert video["version"] == 2 and video["clips"][0]["regenerations_left"] == 0
    twice = client.post(f"/api/videos/{video_id}/regenerate/clip/{clip_id}", headers=user.headers)
    assert twice.status_code == 409 and "already regenerated" in twice.json()["detail"]
    section_id = video["sections"][-1]["id"]
    regen = client.post(
        f"/api/videos/{video_id}/regenerate/section/{section_id}", headers=user.headers
    )
    assert regen.status_code == 202, regen.text
    wait(client, user, regen.json()["job_id"])
    twice = client.post(
        f"/api/videos/{video_id}/regenerate/section/{section_id}", headers=user.headers
    )
    assert twice.status_code == 409

    # share without login, then revoke
    shared = client.post(f"/api/videos/{video_id}/share", headers=user.headers).json()
    page = client.get(shared["share_url"])
    assert page.status_code == 200 and "<video" in page.text
    assert client.get(f"/api/share/{shared['token']}/video.mp4").status_code == 200
    assert client.delete(f"/api/videos/{video_id}/share", headers=user.headers).status_code == 204
    assert client.get(shared["share_url"]).status_code == 404
    assert client.get(f"/api/share/{shared['token']}/video.mp4").status_code == 404

    # finalize: intermediates go, edits are refused
    storage = client.app.state.storage
    video_folder = f"users/{user.id}/songs/{song['id']}/videos/{video_id}"
    assert storage.list_keys(f"{video_folder}/clips")
    final = client.post(f"/api/videos/{video_id}/finalize", headers=user.headers)
    assert final.status_code == 200 and final.json()["is_finalized"]
    assert storage.list_keys(f"{video_folder}/clips") == []
    locked = client.patch(
        f"{base}/sections/{section_id}", json={"label": "x"}, headers=user.headers
    )
    assert locked.status_code == 409 and "finalized" in locked.json()["detail"]
    other_clip = video["clips"][-1]["id"]
    locked = client.post(
        f"/api/videos/{video_id}/regenerate/clip/{other_clip}", headers=user.headers
    )
    assert locked.status_code == 409
    assert client.get(f"/api/videos/{video_id}/file", headers=user.headers).status_code == 200

    # library and delete (frees the quota)
    library = client.get("/api/videos", headers=user.headers).json()
    assert [v["id"] for v in library["items"]] == [video_id]
    assert client.delete(f"/api/videos/{video_id}", headers=user.headers).status_code == 204
    assert client.get("/api/videos", headers=user.headers).json()["items"] == []
    assert storage.list_keys(video_folder) == []


def login(client, email: str) -> SimpleNamespace:
    password = "password-123"
    assert client.post("/api/auth/register", json={"email": email, "password": password}).is_success
    token = client.post("/api/auth/login", json={"email": email, "password": password}).json()
    return SimpleNamespace(headers={"Authorization": f"Bearer {token['access_token']}"})


def test_quota_and_song_length_limits(make_client, song_file):
    client = make_client(video_max_per_user=1, video_fps=12)
    user = login(client, "quota@example.com")
    first = upload(client, user, song_file, lyrics=None)
    second = upload(client, user, song_file, lyrics=None)
    for song in (first, second):
        made = client.post(f"/api/songs/{song['id']}/sections", json={}, headers=user.headers)
        assert made.status_code == 201, made.text
    accepted = client.post(
        f"/api/songs/{first['id']}/clips/generate", json={}, headers=user.headers
    )
    wait(client, user, accepted.json()["job_id"])
    refused = client.post(
        f"/api/songs/{second['id']}/clips/generate", json={}, headers=user.headers
    )
    assert refused.status_code == 403 and "delete one" in refused.json()["detail"]
    assert client.get(f"/api/songs/{second['id']}/clips", headers=user.headers).json() == []
    assert client.get("/api/videos", headers=user.headers).json()["total"] == 1  # nothing stored

    short = make_client(video_max_song_duration_s=10)
    user = login(short, "short@example.com")
    song = upload(short, user, song_file, lyrics=None)
    long = short.post(f"/api/songs/{song['id']}/sections", json={}, headers=user.headers)
    assert long.status_code == 422 and "up to 10 s" in long.json()["detail"]


def test_deleting_a_song_deletes_its_video_files(client, user, song_file):
    song = upload(client, user, song_file, lyrics=None)
    base = f"/api/songs/{song['id']}"
    assert client.post(f"{base}/sections", json={}, headers=user.headers).status_code == 201
    accepted = client.post(f"{base}/clips/generate", json={}, headers=user.headers)
    wait(client, user, accepted.json()["job_id"])
    storage = client.app.state.storage
    folder = f"users/{user.id}/songs/{song['id']}"
    assert any(key.endswith("/video.mp4") for key in storage.list_keys(folder))
    assert client.delete(base, headers=user.headers).status_code == 204
    assert storage.list_keys(folder) == []
    assert client.get("/api/videos", headers=user.headers).json()["total"] == 0
