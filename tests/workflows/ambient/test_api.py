"""The ambient studio through its API, on a real SQLite database with the embedded runner."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from soundstage.media.video import probe
from soundstage.workflows.ambient.models import Track
from tests.helpers import wait_job as wait_for

pytestmark = pytest.mark.timeout(300)


def wait_job(client, headers, job_id: str) -> dict:
    return wait_for(lambda path: client.get(path, headers=headers).json(), job_id)


def generate(client, headers, **fields) -> dict:
    body = {"prompt": "rain on a tin roof, slow piano", "duration_s": 30, "seed": 7, **fields}
    response = client.post("/api/generate", json=body, headers=headers)
    assert response.status_code == 202, response.text
    return response.json()


def test_generate_download_render_and_delete(client, user, settings):
    accepted = generate(client, user.headers)
    job = wait_job(client, user.headers, accepted["job_id"])
    assert job["state"] == "completed", job["error"]
    assert job["progress"] == 100

    track = client.get(f"/api/tracks/{accepted['track_id']}", headers=user.headers).json()
    assert track["status"] == "ready" and track["video_status"] == "none"
    kinds = {f["kind"] for f in track["files"]}
    assert {"mp3", "cover", "midi"} <= kinds and any(k.startswith("stem:") for k in kinds)
    assert abs(track["loudness_lufs"] + 14) < 1 and track["true_peak_dbtp"] <= -1
    assert track["seed"] == 7 and track["key"] and track["bpm"]

    mp3 = next(f for f in track["files"] if f["kind"] == "mp3")
    ranged = client.get(mp3["url"], headers={**user.headers, "Range": "bytes=0-99"})
    assert ranged.status_code == 206 and len(ranged.content) == 100
    assert ranged.headers["content-range"] == f"bytes 0-99/{mp3['size']}"
    link = client.get(f"{mp3['url']}/link", headers=user.headers).json()
    assert client.get(link["url"]).content[:3] in (b"ID3", b"\xff\xfb")  # no login needed

    stats = client.get("/api/stats", headers=user.headers).json()
    assert stats["tracks"] == 1 and stats["total_minutes"] == 0.5
    assert stats["storage_bytes"] == track["storage_bytes"] > 0

    render = client.post("/api/render", json={"track_id": track["id"]}, headers=user.headers)
    assert render.status_code == 202
    assert wait_job(client, user.headers, render.json()["job_id"])["state"] == "completed"
    track = client.get(f"/api/tracks/{track['id']}", headers=user.headers).json()
    assert track["video_status"] == "ready"
    video = client.get(f"/api/tracks/{track['id']}/files/video", headers=user.headers)
    path = settings.data_dir / "probe.mp4"
    path.write_bytes(video.content)
    info = probe(path)
    assert (info.video.width, info.video.height, info.video.codec) == (1920, 1080, "h264")
    assert abs(info.video.duration_s - 30) <= 1 / 30 + 1e-3

    assert client.delete(f"/api/tracks/{track['id']}", headers=user.headers).status_code == 204
    assert client.get(f"/api/tracks/{track['id']}", headers=user.headers).status_code == 404
    assert client.app.state.storage.list_keys(f"users/{user.id}") == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"prompt": "", "duration_s": 60}, "prompt"),
        ({"prompt": "x" * 501, "duration_s": 60}, "prompt"),
        ({"prompt": "calm", "duration_s": 5}, "duration_s"),
        ({"prompt": "calm", "duration_s": 99999}, "duration_s"),
        ({"prompt": "calm", "duration_s": "long"}, "duration_s"),
        ({"prompt": "calm", "key": "H"}, "key"),
        ({"prompt": "calm", "mode": "bluesy"}, "mode"),
        ({"prompt": "calm", "mood": "angry"}, "mood"),
        ({"prompt": "calm", "bpm": 500}, "bpm"),
        ({"prompt": "calm", "instruments": ["kazoo"]}, "instruments"),
        ({"prompt": "calm", "seed": -1}, "seed"),
        ({"prompt": "calm", "colour": "red"}, "colour"),
        ({"duration_s": 60}, "prompt"),
    ],
)
def test_bad_generate_requests_are_422_naming_the_field_and_store_nothing(
    client, user, body, field
):
    response = client.post("/api/generate", json=body, headers=user.headers)
    assert response.status_code == 422
    assert field in response.json()["detail"]
    assert client.get("/api/history", headers=user.headers).json()["total"] == 0
    assert client.get("/api/jobs", headers=user.headers).json()["total"] == 0


def test_malformed_json_is_a_clear_4xx(client, user):
    response = client.post(
        "/api/generate",
        content=b"{not json",
        headers={**user.headers, "Content-Type": "application/json"},
    )
    assert 400 <= response.status_code < 500
    assert response.json()["detail"]


def test_configured_duration_limit_applies(make_client):
    client = make_client(ambient_max_duration_s=60)
    client.post("/api/auth/register", json={"email": "a@example.com", "password": "password-123"})
    token = client.post(
        "/api/auth/login", json={"email": "a@example.com", "password": "password-123"}
    )
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    response = client.post(
        "/api/generate", json={"prompt": "calm", "duration_s": 120}, headers=headers
    )
    assert response.status_code == 422 and "duration_s" in response.json()["detail"]


def test_other_users_tracks_answer_404(client, make_user, app):
    owner, other = make_user(), make_user()
    with app.state.db.session() as session:
        track = Track(owner_id=owner.id, title="t", prompt="p", duration_s=30, seed=1, status="ready",
                      files={"mp3": {"key": f"users/{owner.id}/tracks/x/track.mp3", "size": 1, "name": "track.mp3"}})  # fmt: skip
        session.add(track)
        session.commit()
        track_id = track.id
    h = other.headers
    assert client.get(f"/api/tracks/{track_id}", headers=h).status_code == 404
    assert client.get(f"/api/tracks/{track_id}/files/mp3", headers=h).status_code == 404
    assert client.get(f"/api/tracks/{track_id}/files/mp3/link", headers=h).status_code == 404
    assert client.delete(f"/api/tracks/{track_id}", headers=h).status_code == 404
    assert client.post("/api/render", json={"track_id": track_id}, headers=h).status_code == 404
    assert client.get("/api/history", headers=h).json()["total"] == 0
    assert client.get(f"/api/tracks/{track_id}", headers=owner.headers).status_code == 200


def test_render_needs_a_ready_track(client, user, app):
    with app.state.db.session() as session:
        track = Track(
            owner_id=user.id, title="t", prompt="p", duration_s=30, seed=1, status="generating"
        )
        session.add(track)
        session.commit()
        track_id = track.id
    response = client.post("/api/render", json={"track_id": track_id}, headers=user.headers)
    assert response.status_code == 409 and "ready" in response.json()["detail"]


def test_history_filters_and_pagination(client, user, app):
    now = datetime.now(UTC)
    with app.state.db.session() as session:
        for i, (prompt, status) in enumerate(
            [("ocean waves", "ready"), ("forest rain", "failed"), ("night drive", "ready")]
        ):
            session.add(Track(owner_id=user.id, title=prompt, prompt=prompt, duration_s=60, seed=i,
                              status=status, created_at=now - timedelta(days=i)))  # fmt: skip
        session.commit()
    get = lambda **q: client.get("/api/history", params=q, headers=user.headers).json()  # noqa: E731
    assert get()["total"] == 3
    assert [t["prompt"] for t in get()["items"]] == ["ocean waves", "forest rain", "night drive"]
    assert {t["prompt"] for t in get(status="ready")["items"]} == {"ocean waves", "night drive"}
    assert [t["prompt"] for t in get(q="RAIN")["items"]] == ["forest rain"]
    since = (now - timedelta(days=1, hours=1)).isoformat()
    assert get(date_from=since)["total"] == 2
    page = get(page=2, page_size=2)
    assert page["total"] == 3 and len(page["items"]) == 1
    assert (
        client.get("/api/history", params={"status": "weird"}, headers=user.headers).status_code
        == 422
    )


def test_batch_generates_every_item(client, user):
    body = {"template": {"prompt": "calm ocean", "duration_s": 30, "seed": 100}, "count": 2}
    response = client.post("/api/batch/generate", json=body, headers=user.headers)
    assert response.status_code == 202, response.text
    batch = response.json()
    assert len(batch["items"]) == 2
    for item in batch["items"]:
        assert wait_job(client, user.headers, item["job_id"])["state"] == "completed"
    status = client.get(f"/api/batch/{batch['id']}", headers=user.headers).json()
    assert status["state"] == "completed" and status["progress"] == 100
    seeds = {
        client.get(f"/api/tracks/{i['track_id']}", headers=user.headers).json()["seed"]
        for i in status["items"]
    }
    assert seeds == {100, 101}


@pytest.mark.parametrize(
    "body",
    [{}, {"count": 3}, {"items": []}, {"template": {"prompt": "calm"}, "count": 999}],
)
def test_bad_batches_are_rejected(client, user, body):
    response = client.post("/api/batch/generate", json=body, headers=user.headers)
    assert response.status_code == 422, response.text
    assert client.get("/api/history", headers=user.headers).json()["total"] == 0


def test_other_users_batches_answer_404(client, make_user, app):
    from soundstage.workflows.ambient.models import Batch

    owner, other = make_user(), make_user()
    with app.state.db.session() as session:
        batch = Batch(owner_id=owner.id)
        session.add(batch)
        session.commit()
        batch_id = batch.id
    assert client.get(f"/api/batch/{batch_id}", headers=other.headers).status_code == 404
    assert client.get(f"/api/batch/{batch_id}", headers=owner.headers).status_code == 200
