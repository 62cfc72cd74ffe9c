"""Clips as child jobs (fan-out) and composition once they have all ended (fan-in).

`video_clip_jobs="always"` makes the in-process runner do what scaled-out workers do
(tests/e2e/test_scaleout.py runs it across two worker processes). The clip handler
is wrapped here to hold or fail a clip at a chosen moment; it is restored after.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import select

from soundstage.platform.jobs import Job, register_job_type
from soundstage.workflows.music_video import pipeline
from soundstage.workflows.music_video.models import VideoClip
from tests.conftest import ApiUser
from tests.helpers import wait_job
from tests.workflows.music_video.conftest import upload

pytestmark = pytest.mark.timeout(600)


@pytest.fixture
def clip_handler() -> Iterator[Callable[[Callable], None]]:
    """Replace the clip job's handler for one test."""

    def use(handler: Callable) -> None:
        register_job_type(pipeline.CLIP_JOB, handler, queue="render")

    yield use
    register_job_type(pipeline.CLIP_JOB, pipeline.run_clip_job, queue="render")


def register(client) -> ApiUser:
    email, password = f"fan-{uuid.uuid4().hex[:8]}@example.com", "password-123"
    made = client.post("/api/auth/register", json={"email": email, "password": password})
    assert made.status_code == 201, made.text
    tokens = client.post("/api/auth/login", json={"email": email, "password": password}).json()
    return ApiUser(
        made.json()["id"], email, password, tokens["access_token"], tokens["refresh_token"]
    )


def start_video(client, user: ApiUser, song_file) -> tuple[str, dict]:
    song = upload(client, user, song_file, lyrics=None)
    base = f"/api/songs/{song['id']}"
    assert client.post(f"{base}/sections", json={}, headers=user.headers).status_code == 201
    accepted = client.post(f"{base}/clips/generate", json={"seed": 5}, headers=user.headers)
    assert accepted.status_code == 202, accepted.text
    return song["id"], accepted.json()


def finish(client, user: ApiUser, job_id: str) -> dict:
    return wait_job(lambda p: client.get(p, headers=user.headers).json(), job_id, timeout_s=400)


def children(client, job_id: str) -> list[Job]:
    with client.app.state.db.session() as session:
        rows = list(session.scalars(select(Job).where(Job.parent_id == job_id)))
        session.expunge_all()
    return rows


def clip_rows(client, song_id: str) -> list[VideoClip]:
    with client.app.state.db.session() as session:
        rows = list(session.scalars(select(VideoClip).where(VideoClip.song_id == song_id)))
        session.expunge_all()
    return rows


def test_clips_run_as_jobs_and_the_video_is_composed_after_them(make_client, song_file):
    client = make_client(video_fps=12, video_clip_jobs="always", job_workers=2)
    user = register(client)
    song_id, accepted = start_video(client, user, song_file)
    job = finish(client, user, accepted["job_id"])
    assert job["state"] == "completed", job["error"]
    assert job["attempts"] == 1 and job["result"]["clips_generated"] > 1

    clips, kids = clip_rows(client, song_id), children(client, accepted["job_id"])
    assert len(kids) == len(clips) and all(k.state == "completed" for k in kids)
    assert {c.job_id for c in clips} == {k.id for k in kids}  # each clip made by its own job
    assert all(c.status == "completed" and c.file_key for c in clips)
    history = client.get(f"/api/jobs/{accepted['job_id']}/history", headers=user.headers).json()
    moves = [(e["from_state"], e["to_state"]) for e in history]
    assert ("running", "waiting") in moves and ("waiting", "queued") in moves
    video = client.get(f"/api/videos/{accepted['video_id']}", headers=user.headers).json()
    assert video["status"] == "ready" and video["version"] == 1
    assert client.get(f"/api/videos/{accepted['video_id']}/file", headers=user.headers).is_success
    listed = client.get("/api/jobs", headers=user.headers).json()["items"]
    assert pipeline.CLIP_JOB not in {j["type"] for j in listed}  # the parent stands for them
    costs = client.get(f"/api/jobs/{accepted['job_id']}/costs", headers=user.headers).json()
    assert costs["lines"], costs  # the clip jobs' compute time is the generation's


def test_a_failed_clip_job_fails_the_generation_and_keeps_nothing_half_done(
    make_client, song_file, monkeypatch
):
    render = pipeline.render_one

    def first_clip_only(generator, spec, out, on_progress):
        if spec.start_s > 0:
            raise RuntimeError("the clip provider refused the prompt")
        return render(generator, spec, out, on_progress)

    monkeypatch.setattr(pipeline, "render_one", first_clip_only)
    client = make_client(video_fps=12, video_clip_jobs="always", job_workers=2)
    user = register(client)
    song_id, accepted = start_video(client, user, song_file)
    job = finish(client, user, accepted["job_id"])
    assert job["state"] == "failed"
    assert "failed: the clip provider refused the prompt" in job["error"]
    video = client.get(f"/api/videos/{accepted['video_id']}", headers=user.headers).json()
    assert video["status"] == "failed" and "refused the prompt" in video["error"]
    statuses = {c.index: c.status for c in clip_rows(client, song_id)}
    assert statuses.pop(0) == "completed"
    assert set(statuses.values()) == {"failed"}
    keys = client.app.state.storage.list_keys(f"users/{user.id}/songs/{song_id}/videos")
    assert len(keys) == 1 and "/clips/" in keys[0]  # the finished clip, nothing half-written


def test_cancelling_while_clip_jobs_run_stops_them_and_restores_the_video(
    make_client, song_file, clip_handler
):
    started, release = threading.Event(), threading.Event()

    def held(ctx, payload):
        started.set()
        release.wait(60)
        return pipeline.run_clip_job(ctx, payload)  # its first progress report sees the cancel

    client = make_client(video_fps=12, video_clip_jobs="always", job_workers=2)
    clip_handler(held)
    user = register(client)
    song_id, accepted = start_video(client, user, song_file)
    assert started.wait(120)
    job = client.get(f"/api/jobs/{accepted['job_id']}", headers=user.headers).json()
    assert job["state"] == "waiting" and job["stage"].startswith("clips (0 of ")
    cancelled = client.post(f"/api/jobs/{accepted['job_id']}/cancel", headers=user.headers)
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    release.set()
    for kid in children(client, accepted["job_id"]):
        assert finish(client, user, kid.id)["state"] == "cancelled"
    video = client.get(f"/api/videos/{accepted['video_id']}", headers=user.headers).json()
    assert video["status"] == "failed" and "cancelled" in video["error"]
    assert {c.status for c in clip_rows(client, song_id)} == {"planned"}
    assert client.app.state.storage.list_keys(f"users/{user.id}/songs/{song_id}/videos") == []
