"""/healthz (database, storage and, scaled out, broker) and /metrics (Prometheus text read
from the job table and the broker), on the real app."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from soundstage.platform.db import Database, utcnow
from soundstage.platform.jobs import Job, register_job_type, submit_job
from soundstage.platform.jobs.registry import RENDER_QUEUE
from tests.e2e.conftest import free_port, redis_or_skip, redis_url

REDIS_DB = 13  # this module's own Redis database, flushed before and after
WAIT_S = 30.0

register_job_type("t.metrics", lambda ctx, payload: {"ok": True})
register_job_type("t.metrics.render", lambda ctx, payload: None, queue=RENDER_QUEUE)


def metric(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in Prometheus text, or None when it is not there."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        match = re.fullmatch(r"(\w+)(?:\{(.*)\})? (\S+)", line)
        if match and match[1] == name:
            found = ",".join(sorted((match[2] or "").split(","))) if match[2] else ""
            if found == wanted:
                return float(match[3])
    return None


def submit(db: Database, owner_id: str, job_type: str, **kwargs: Any) -> str:
    with db.session() as session:
        job = submit_job(session, job_type, owner_id, {}, **kwargs)
        session.commit()
        return job.id


def wait_state(db: Database, job_id: str, state: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        with db.session() as session:
            if session.get(Job, job_id).state == state:
                return
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not reach {state}")


# -- /healthz ----------------------------------------------------------------------------


def test_healthz_reports_each_check(client) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "storage"}  # no broker in one-process mode
    for check in body["checks"].values():
        assert check["ok"] is True and check["detail"] == "" and check["latency_ms"] >= 0


def test_healthz_is_503_when_the_broker_does_not_answer(make_client) -> None:
    closed = free_port()  # nothing listens there
    client = make_client(broker_url=f"redis://127.0.0.1:{closed}/0")
    r = client.get("/healthz")
    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["broker"]["ok"] is False
    assert body["checks"]["broker"]["detail"]  # says what went wrong
    assert body["checks"]["database"]["ok"] and body["checks"]["storage"]["ok"]


@pytest.fixture
def redis_client() -> Iterator[Any]:
    client = redis_or_skip(REDIS_DB)
    yield client
    client.flushdb()
    client.close()


def test_healthz_is_200_with_a_reachable_broker(make_client, redis_client) -> None:
    client = make_client(broker_url=redis_url(REDIS_DB))
    r = client.get("/healthz")
    assert r.status_code == 200, r.text
    assert r.json()["checks"]["broker"]["ok"] is True


# -- /metrics ----------------------------------------------------------------------------


def test_metrics_after_a_job_ran(client, user) -> None:
    app_db: Database = client.app.state.db
    ran = submit(app_db, user.id, "t.metrics")
    wait_state(app_db, ran, "completed")
    submit(app_db, user.id, "t.metrics", run_after=utcnow() + timedelta(hours=1))  # waits

    r = client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert metric(text, "soundstage_jobs", type="t.metrics", state="completed") == 1
    assert metric(text, "soundstage_jobs", type="t.metrics", state="queued") == 1
    assert metric(text, "soundstage_job_duration_seconds_count", type="t.metrics") == 1
    assert metric(text, "soundstage_job_duration_seconds_bucket", type="t.metrics", le="+Inf") == 1
    assert metric(text, "soundstage_queue_depth", queue="default") == 1
    assert metric(text, "soundstage_queue_depth", queue="render") == 0
    assert metric(text, "soundstage_broker_queue_messages", queue="default") is None


def test_metrics_scaled_out_count_broker_messages(make_client, redis_client) -> None:
    """With a broker the API only enqueues: the job waits in the table and in the queue."""
    client = make_client(broker_url=redis_url(REDIS_DB))
    email, password = "scaled@example.com", "password-123"
    assert client.post("/api/auth/register", json={"email": email, "password": password}).is_success
    owner_id = _user_id(client, email, password)
    submit(client.app.state.db, owner_id, "t.metrics.render")

    text = client.get("/metrics").text
    assert metric(text, "soundstage_queue_depth", queue="render") == 1
    assert metric(text, "soundstage_broker_queue_messages", queue="render") == 1
    assert metric(text, "soundstage_broker_queue_messages", queue="default") == 0
    assert redis_client.llen(RENDER_QUEUE) == 1


def _user_id(client, email: str, password: str) -> str:
    tokens = client.post("/api/auth/login", json={"email": email, "password": password}).json()
    me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    return me.json()["id"]
