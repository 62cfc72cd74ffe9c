"""A job that ends before its handler runs (cancelled while queued, refused by moderation)
still leaves its track or video in a final state, through the workflows' transition listeners."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from soundstage.platform.jobs import Job, cancel_job, submit_job
from soundstage.platform.jobs.service import finish_moderation, hold_for_moderation
from soundstage.workflows.ambient.models import Track, TrackStatus, VideoStatus
from soundstage.workflows.ambient.pipeline import GENERATE_JOB, RENDER_JOB
from soundstage.workflows.music_video.models import MusicVideo
from soundstage.workflows.music_video.models import VideoStatus as MusicVideoStatus
from soundstage.workflows.music_video.pipeline import GENERATE_JOB as VIDEO_JOB
from tests.web.test_web_pages import add_track, register
from tests.web.test_web_video_pages import add_song, add_video, owner_id

LATER = timedelta(hours=1)  # run_after in the future: the embedded runner leaves the job alone


def _queued(session, job_type: str, owner: str) -> Job:
    return submit_job(session, job_type, owner, {}, run_after=datetime.now(UTC) + LATER)


def test_ambient_track_refused_by_moderation_is_failed_with_the_reason(client):
    register(client)
    owner = owner_id(client)
    track_id = add_track(client, owner, status=TrackStatus.QUEUED, files={})
    with client.app.state.db.session() as session:
        job = _queued(session, GENERATE_JOB, owner)
        hold_for_moderation(session, job, {"prompt": "x"}, "openai")
        session.get(Track, track_id).generate_job_id = job.id
        session.commit()
        finish_moderation(session, job.id, refusal="prompt refused: hate — slur")
        session.commit()
    with client.app.state.db.session() as session:
        track = session.get(Track, track_id)
        assert track.status == TrackStatus.FAILED and "hate" in track.error


def test_a_render_cancelled_while_queued_leaves_the_track_without_a_video(client):
    register(client)
    owner = owner_id(client)
    track_id = add_track(client, owner, video_status=VideoStatus.QUEUED)
    with client.app.state.db.session() as session:
        job = _queued(session, RENDER_JOB, owner)
        session.get(Track, track_id).render_job_id = job.id
        session.commit()
        cancel_job(session, job)
        session.commit()
    with client.app.state.db.session() as session:
        track = session.get(Track, track_id)
        assert track.video_status == VideoStatus.NONE and track.status == TrackStatus.READY


def test_music_video_generation_cancelled_while_queued(client):
    register(client)
    owner = owner_id(client)
    song_id = add_song(client, owner)
    video_id = add_video(client, owner, song_id)  # composed once: version 1
    with client.app.state.db.session() as session:
        first = session.get(MusicVideo, video_id)
        first.version = 0  # as if never composed: the cancel must fail it
        first.status = MusicVideoStatus.GENERATING
        job = _queued(session, VIDEO_JOB, owner)
        first.job_id = job.id
        session.commit()
        cancel_job(session, job)
        session.commit()
    with client.app.state.db.session() as session:
        video = session.get(MusicVideo, video_id)
        assert video.status == MusicVideoStatus.FAILED and video.error == "cancelled"


def test_a_regeneration_cancelled_while_queued_keeps_the_composed_video(client):
    register(client)
    owner = owner_id(client)
    song_id = add_song(client, owner)
    video_id = add_video(client, owner, song_id)
    with client.app.state.db.session() as session:
        video = session.get(MusicVideo, video_id)
        video.version, video.status = 1, MusicVideoStatus.GENERATING
        job = _queued(session, VIDEO_JOB, owner)
        video.job_id = job.id
        session.commit()
        cancel_job(session, job)
        session.commit()
    with client.app.state.db.session() as session:
        assert session.get(MusicVideo, video_id).status == MusicVideoStatus.READY


def test_section_labels_and_notes_go_through_the_content_policy(client, auth_headers):
    from tests.web.test_web_video_pages import add_song as add

    me = client.get("/api/auth/me", headers=auth_headers).json()["id"]
    song_id = add(client, me)
    r = client.post(f"/api/songs/{song_id}/sections", headers=auth_headers,
                    json={"sections": [{"start": 0, "end": 30, "label": "intro",
                                        "prompt_note": "call me at 555-123-4567"}]})  # fmt: skip
    assert r.status_code == 422 and r.json()["field"] == "sections[0]", r.text
    assert client.get(f"/api/songs/{song_id}/sections", headers=auth_headers).json() == []
