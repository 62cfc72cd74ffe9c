"""Jobs over HTTP: status, list, history, cancel, SSE progress stream, owner isolation."""

from __future__ import annotations

import json
import threading
from typing import Any

from soundstage.platform.db import Database
from soundstage.platform.jobs import JobContext, register_job_type, submit_job

WAIT_S = 20.0


def submit(app, owner_id: str, job_type: str, payload: dict[str, Any] | None = None) -> str:
    db: Database = app.state.db
    with db.session() as session:
        job = submit_job(session, job_type, owner_id, payload or {})
        session.commit()
        return job.id


def wait_state(client, user, job_id: str, state: str) -> dict[str, Any]:
    import time

    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        body = client.get(f"/api/jobs/{job_id}", headers=user.headers).json()
        if body["state"] == state:
            return body
        time.sleep(0.02)
    raise AssertionError(f"job never reached {state}: {body}")


def read_sse(response) -> list[tuple[str, dict[str, Any]]]:
    """Parse an event stream into (event, data) pairs until it closes."""
    events, name, data = [], "message", []
    for line in response.iter_lines():
        if line.startswith("event:"):
            name = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            data.append(line.split(":", 1)[1].strip())
        elif line == "" and data:
            events.append((name, json.loads("\n".join(data))))
            name, data = "message", []
    return events


def test_job_status_and_history(client, app, user) -> None:
    register_job_type("api.echo", lambda ctx, payload: {"n": payload["n"] * 2})
    job_id = submit(app, user.id, "api.echo", {"n": 21})
    body = wait_state(client, user, job_id, "completed")
    for key in (
        "id",
        "type",
        "state",
        "progress",
        "stage",
        "eta_s",
        "error",
        "attempts",
        "created_at",
        "started_at",
        "finished_at",
        "result",
    ):
        assert key in body
    assert body["result"] == {"n": 42}
    assert body["created_at"].endswith("Z") or body["created_at"].endswith("+00:00")
    history = client.get(f"/api/jobs/{job_id}/history", headers=user.headers).json()
    assert [h["to_state"] for h in history] == ["queued", "running", "completed"]
    assert history[0]["from_state"] is None


def test_sse_streams_progress_until_completion(client, app, user) -> None:
    gates = [threading.Event() for _ in range(3)]

    def stepper(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
        for i, gate in enumerate(gates):
            ctx.progress(25 * (i + 1), f"step {i + 1}")
            assert gate.wait(WAIT_S), "the test never saw this step"
        return {"steps": len(gates)}

    register_job_type("api.stepper", stepper)
    job_id = submit(app, user.id, "api.stepper")
    seen_stages: list[str] = []
    events: list[tuple[str, dict[str, Any]]] = []
    url = f"/api/jobs/{job_id}/events"
    with client.stream("GET", url, params={"access_token": user.access_token}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        name, data = "message", []
        for line in response.iter_lines():
            if line.startswith("event:"):
                name = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                data.append(line.split(":", 1)[1].strip())
            elif line == "" and data:
                event = (name, json.loads("\n".join(data)))
                events.append(event)
                name, data = "message", []
                stage = event[1]["stage"]
                if stage.startswith("step ") and stage not in seen_stages:
                    seen_stages.append(stage)
                    gates[int(stage.split()[1]) - 1].set()
    assert seen_stages == ["step 1", "step 2", "step 3"]
    assert all(name == "progress" for name, _ in events[:-1])
    final_name, final = events[-1]
    assert final_name == "done"
    assert final["state"] == "completed"
    assert final["result"] == {"steps": 3}
    progresses = [d["progress"] for n, d in events if n == "progress"]
    assert progresses == sorted(progresses)


def test_sse_of_finished_job_ends_at_once(client, app, user) -> None:
    register_job_type("api.noop", lambda ctx, payload: None)
    job_id = submit(app, user.id, "api.noop")
    wait_state(client, user, job_id, "completed")
    with client.stream("GET", f"/api/jobs/{job_id}/events", headers=user.headers) as response:
        events = read_sse(response)
    assert [name for name, _ in events] == ["progress", "done"]


def test_other_users_job_is_404(client, app, make_user) -> None:
    alice, bob = make_user(), make_user()
    register_job_type("api.noop", lambda ctx, payload: None)
    job_id = submit(app, alice.id, "api.noop")
    for method, path in (
        ("GET", f"/api/jobs/{job_id}"),
        ("GET", f"/api/jobs/{job_id}/history"),
        ("GET", f"/api/jobs/{job_id}/events"),
        ("POST", f"/api/jobs/{job_id}/cancel"),
        ("POST", f"/api/jobs/{job_id}/retry"),
    ):
        r = client.request(method, path, headers=bob.headers)
        assert r.status_code == 404, path
        assert r.json() == {"detail": "job not found"}
    assert client.get("/api/jobs", headers=bob.headers).json()["total"] == 0
    assert client.get(f"/api/jobs/{job_id}", headers=alice.headers).status_code == 200


def test_jobs_require_login(client) -> None:
    r = client.get("/api/jobs")
    assert r.status_code == 401
    assert r.json() == {"detail": "not authenticated"}


def test_cancel_over_http(client, app, user) -> None:
    started = threading.Event()

    def wait_for_cancel(ctx: JobContext, payload: dict[str, Any]) -> None:
        started.set()
        while True:
            ctx.check_cancelled()
            threading.Event().wait(0.01)

    register_job_type("api.cancellable", wait_for_cancel)
    job_id = submit(app, user.id, "api.cancellable")
    assert started.wait(WAIT_S)
    r = client.post(f"/api/jobs/{job_id}/cancel", headers=user.headers)
    assert r.status_code == 200
    assert r.json()["cancel_requested"] is True
    wait_state(client, user, job_id, "cancelled")
    r = client.post(f"/api/jobs/{job_id}/retry", headers=user.headers)
    assert r.status_code == 409
    assert "only failed jobs" in r.json()["detail"]


def test_list_jobs_paginates_and_filters(client, app, user) -> None:
    register_job_type("api.a", lambda ctx, payload: None)
    register_job_type("api.b", lambda ctx, payload: None)
    ids = [submit(app, user.id, "api.a") for _ in range(3)] + [submit(app, user.id, "api.b")]
    for job_id in ids:
        wait_state(client, user, job_id, "completed")
    page = client.get("/api/jobs", params={"page_size": 3}, headers=user.headers).json()
    assert (page["total"], page["page"], page["page_size"], len(page["items"])) == (4, 1, 3, 3)
    page2 = client.get("/api/jobs", params={"page_size": 3, "page": 2}, headers=user.headers).json()
    assert len(page2["items"]) == 1
    listed = {j["id"] for j in page["items"]} | {j["id"] for j in page2["items"]}
    assert listed == set(ids)
    only_b = client.get("/api/jobs", params={"type": "api.b"}, headers=user.headers).json()
    assert [j["id"] for j in only_b["items"]] == [ids[-1]]
    done = client.get("/api/jobs", params={"state": "completed"}, headers=user.headers).json()
    assert done["total"] == 4
    assert (
        client.get("/api/jobs", params={"state": "queued"}, headers=user.headers).json()["total"]
        == 0
    )
    r = client.get("/api/jobs", params={"state": "sleeping"}, headers=user.headers)
    assert r.status_code == 422
    assert r.json()["detail"].startswith("state: ")
    r = client.get("/api/jobs", params={"page_size": 1000}, headers=user.headers)
    assert r.status_code == 422
    assert r.json()["detail"].startswith("page_size: ")


def test_failed_job_shows_message_not_traceback(client, app, user) -> None:
    def broken(ctx: JobContext, payload: dict[str, Any]) -> None:
        raise RuntimeError("FFmpeg exited with status 1")

    register_job_type("api.broken", broken)
    job_id = submit(app, user.id, "api.broken")
    body = wait_state(client, user, job_id, "failed")
    assert body["error"] == "FFmpeg exited with status 1"
