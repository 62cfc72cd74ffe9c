"""The music video flow against a real `soundstage serve` process, at the real defaults
(1920x1080, 30 fps), and the output measured: cuts on beats, A/V sync, beat response."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from soundstage.media.video.measure import av_sync, beat_response, cut_alignment, detect_cuts
from tests.helpers import generate_song

pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def song(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 s from our engine with a steady pulse at 110 BPM."""
    return generate_song(tmp_path_factory.mktemp("e2e-song"), "uplifting piano", seed=11, bpm=110)


def wait_for(http: httpx.Client, job_id: str, timeout_s: float = 600) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = http.get(f"/api/jobs/{job_id}").json()
        if job["state"] in ("completed", "failed", "cancelled"):
            assert job["state"] == "completed", job
            return job
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} did not finish")


def test_music_video_end_to_end(server, song, tmp_path):
    http = httpx.Client(base_url=server.url, timeout=60)
    account = {"email": "director@example.com", "password": "password-123"}
    assert http.post("/api/auth/register", json=account).status_code == 201
    token = http.post("/api/auth/login", json=account).json()["access_token"]
    http.headers["Authorization"] = f"Bearer {token}"

    with song.open("rb") as f:
        uploaded = http.post("/api/songs", files={"file": ("song.mp3", f, "audio/mpeg")})
    assert uploaded.status_code == 201, uploaded.text
    base = f"/api/songs/{uploaded.json()['id']}"
    wait_for(http, http.post(f"{base}/analyze").json()["job_id"])
    analysis = http.get(f"{base}/analysis").json()

    hint = http.get(f"{base}/video/suggestion").json()
    sections = http.post(f"{base}/sections", json={"sections": [s for s in hint["sections"]]})
    assert sections.status_code == 201, sections.text
    clips = http.post(f"{base}/clips/plan").json()
    assert len(clips) >= 3

    accepted = http.post(f"{base}/clips/generate", json={"prompt": "sunrise over the sea"})
    assert accepted.status_code == 202, accepted.text
    video_id = accepted.json()["video_id"]
    wait_for(http, accepted.json()["job_id"])
    composed = http.post(f"{base}/compose")
    assert composed.status_code == 202, composed.text
    wait_for(http, composed.json()["job_id"])
    status = http.get(f"{base}/generation/status").json()
    assert status["progress"] == 100 and status["state"] == "completed"

    video = http.get(f"/api/videos/{video_id}").json()
    clip = video["clips"][1]["id"]
    regen = http.post(f"/api/videos/{video_id}/regenerate/clip/{clip}")
    assert regen.status_code == 202, regen.text
    wait_for(http, regen.json()["job_id"])
    assert http.post(f"/api/videos/{video_id}/regenerate/clip/{clip}").status_code == 409

    final = http.post(f"/api/videos/{video_id}/finalize")
    assert final.status_code == 200 and final.json()["is_finalized"]
    share = http.post(f"/api/videos/{video_id}/share").json()
    public = httpx.Client(base_url=server.url, timeout=60)  # no login
    page = public.get(share["share_url"])
    assert page.status_code == 200 and "<video" in page.text
    mp4 = tmp_path / "shared.mp4"
    mp4.write_bytes(public.get(f"/api/share/{share['token']}/video.mp4").content)

    # measured on the output
    fps = video["fps"]
    beats = analysis["beats"]
    sync = av_sync(mp4)
    assert sync["difference_frames"] <= 1, sync
    planned_cuts = [c["start"] for c in video["clips"][1:]]
    cuts = detect_cuts(mp4)
    alignment = cut_alignment(cuts, beats, fps)
    assert alignment["within_1_frame"] == 1.0, (alignment, cuts, planned_cuts)
    for t in planned_cuts:  # every planned cut is seen in the picture
        assert min(abs(t - c) for c in cuts) <= 1.0 / fps + 1e-6, (t, cuts)
    response = beat_response(mp4, beats, fps)
    assert response["fraction"] >= 0.8, response
