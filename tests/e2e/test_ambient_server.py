"""End to end against a real server process: the whole ambient flow, and a crash mid-job."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from soundstage.media.audio.decode import probe_audio
from tests.e2e.conftest import Server, login
from tests.helpers import wait_job as wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


def wait_job(url: str, headers: dict, job_id: str) -> dict:
    return wait_for(lambda path: httpx.get(url + path, headers=headers).json(), job_id)


def sse_events(url: str, token: str, job_id: str) -> list[tuple[str, dict]]:
    events: list[tuple[str, dict]] = []
    name = "message"
    with httpx.stream(
        "GET", f"{url}/api/jobs/{job_id}/events", params={"access_token": token}, timeout=300
    ) as stream:
        for line in stream.iter_lines():
            if line.startswith("event:"):
                name = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                events.append((name, json.loads(line.split(":", 1)[1])))
    return events


def test_register_generate_follow_render_download_delete(server: Server, tmp_path):
    headers = login(server.url)
    token = headers["Authorization"].split()[1]
    body = {"prompt": "ocean waves at dawn, soft strings", "duration_s": 45, "seed": 11}
    accepted = httpx.post(f"{server.url}/api/generate", json=body, headers=headers).json()

    events = sse_events(server.url, token, accepted["job_id"])
    progress = [e["progress"] for name, e in events if name == "progress"]
    stages = {e["stage"] for _, e in events}
    assert events[-1][1]["state"] == "completed"
    assert progress == sorted(progress) and len(progress) >= 3
    assert {"rendering", "mastering"} <= stages

    render = httpx.post(
        f"{server.url}/api/render", json={"track_id": accepted["track_id"]}, headers=headers
    )
    assert render.status_code == 202
    assert wait_job(server.url, headers, render.json()["job_id"])["state"] == "completed"

    track = httpx.get(f"{server.url}/api/tracks/{accepted['track_id']}", headers=headers).json()
    video = next(f for f in track["files"] if f["kind"] == "video")
    part = httpx.get(server.url + video["url"], headers={**headers, "Range": "bytes=1000-1999"})
    assert part.status_code == 206 and len(part.content) == 1000
    full = httpx.get(server.url + video["url"], headers=headers)
    assert full.content[1000:2000] == part.content and len(full.content) == video["size"]
    mp3 = tmp_path / "track.mp3"
    mp3.write_bytes(
        httpx.get(f"{server.url}/api/tracks/{track['id']}/files/mp3", headers=headers).content
    )
    assert abs(probe_audio(mp3).duration_s - 45) < 0.1

    assert (
        httpx.delete(f"{server.url}/api/tracks/{track['id']}", headers=headers).status_code == 204
    )
    assert httpx.get(server.url + video["url"], headers=headers).status_code == 404


def test_kill_9_mid_generation_then_restart_completes_the_job(tmp_path):
    server = Server(tmp_path / "data")
    server.start()
    try:
        headers = login(server.url)
        body = {"prompt": "slow dark drone, wind", "duration_s": 300, "seed": 3}
        accepted = httpx.post(f"{server.url}/api/generate", json=body, headers=headers).json()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            job = httpx.get(f"{server.url}/api/jobs/{accepted['job_id']}", headers=headers).json()
            if job["state"] == "running" and job["progress"] >= 15:
                break
            time.sleep(0.2)
        assert job["state"] == "running" and job["progress"] < 100, job
        server.kill()

        track_files = tmp_path / "data" / "files" / "users"
        assert not [p for p in track_files.rglob("*") if p.is_file()], (
            "nothing is published before the end"
        )

        server.start()
        headers = login(server.url)
        job = wait_job(server.url, headers, accepted["job_id"])
        assert job["state"] == "completed", job["error"]
        assert job["attempts"] == 2
        history = httpx.get(f"{server.url}/api/jobs/{job['id']}/history", headers=headers).json()
        assert any("restart" in (event["message"] or "") for event in history)
        track = httpx.get(f"{server.url}/api/tracks/{accepted['track_id']}", headers=headers).json()
        assert track["status"] == "ready"
        mp3 = tmp_path / "after.mp3"
        mp3.write_bytes(
            httpx.get(f"{server.url}/api/tracks/{track['id']}/files/mp3", headers=headers).content
        )
        assert abs(probe_audio(mp3).duration_s - 300) < 0.1
        stray = [p for p in (tmp_path / "data").rglob("*.part")]
        assert stray == []
    finally:
        server.stop()
