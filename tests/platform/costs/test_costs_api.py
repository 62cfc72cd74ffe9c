"""Costs over HTTP: estimates with the budget verdict, a real embedded job's cost lines
(compute time, no money), owner-only job costs, summaries, and budget refusals at the
ambient door (402, 429 with Retry-After) that store nothing."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from soundstage.platform.costs import CostLine, register_cost_estimator
from soundstage.platform.costs import estimates as estimates_module
from soundstage.platform.db import Database
from soundstage.platform.jobs import Job
from soundstage.workflows.ambient.models import Track

pytestmark = pytest.mark.timeout(300)
WAIT_S = 120.0


def wait_done(client: Any, headers: dict[str, str], job_id: str) -> dict:
    deadline = time.monotonic() + WAIT_S
    job: dict = {}
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}", headers=headers).json()
        if job["state"] in {"completed", "failed", "cancelled", "moderation_failed"}:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def test_estimate_lists_lines_and_the_budget(client, user) -> None:
    r = client.post(
        "/api/costs/estimate",
        json={"job_type": "ambient.generate", "payload": {"duration_s": 300, "stems": False}},
        headers=user.headers,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert [(line["provider"], line["step"]) for line in body["lines"]] == [
        ("embedded", "music"),
        ("embedded", "cover"),
    ]
    assert body["total_usd"] == 0.0 and body["total_compute_s"] > 0
    assert body["budget"] == {
        "estimate_usd": 0.0, "per_job_limit": 5.0, "daily_limit": 20.0, "spent_today": 0.0,
        "reserved": 0.0, "remaining_today": 20.0, "allowed": True, "reason": None,
        "retry_after_s": None,
    }  # fmt: skip


def test_estimate_of_a_cloud_video_over_budget(make_client: Callable[..., Any]) -> None:
    client = make_client(replicate_api_token="r8_test", job_budget_usd="1.5")
    creds = {"email": "est@example.com", "password": "password-123"}
    client.post("/api/auth/register", json=creds)
    headers = {
        "Authorization": f"Bearer {client.post('/api/auth/login', json=creds).json()['access_token']}"
    }
    r = client.post(
        "/api/costs/estimate",
        json={"job_type": "music_video.generate", "payload": {"duration_s": 180}},
        headers=headers,
    )
    body = r.json()
    assert body["lines"][0]["provider"] == "replicate"
    assert body["total_usd"] == pytest.approx(180 * 8 * 0.0014)
    assert body["budget"]["allowed"] is False
    assert "over the per-job budget of $1.50" in body["budget"]["reason"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"job_type": "nope.nothing"}, "no cost estimate for 'nope.nothing'"),
        ({"job_type": "ambient.generate", "payload": {"duration_s": "x"}}, "payload.duration_s"),
        ({"payload": {}}, "job_type"),
        ({"job_type": "ambient.generate", "payload": [1]}, "payload"),
    ],
)
def test_estimate_refuses_bad_requests(client, user, body: dict, message: str) -> None:
    r = client.post("/api/costs/estimate", json=body, headers=user.headers)
    assert r.status_code == 422
    assert message in r.json()["detail"]


def test_a_real_job_records_compute_time_and_no_money(client, user, make_user) -> None:
    r = client.post(
        "/api/generate",
        json={"prompt": "rain on a tin roof", "duration_s": 30, "stems": False, "seed": 3},
        headers=user.headers,
    )
    assert r.status_code == 202, r.text
    job_id = r.json()["job_id"]
    assert wait_done(client, user.headers, job_id)["state"] == "completed"

    costs = client.get(f"/api/jobs/{job_id}/costs", headers=user.headers)
    assert costs.status_code == 200
    body = costs.json()
    assert (body["job_id"], body["state"], body["total_usd"]) == (job_id, "completed", 0.0)
    assert body["estimated_usd"] == 0.0 and body["budget_usd"] == 5.0
    (line,) = body["lines"]
    assert (line["provider"], line["step"], line["attempt"]) == ("embedded", "compute", 1)
    assert line["usd"] == 0.0 and line["compute_s"] > 0 and line["units"] > 0
    assert line["unit"] == "cpu_second" and line["estimated"] is False
    assert body["compute_s"] == line["compute_s"]

    stranger = make_user()
    other = client.get(f"/api/jobs/{job_id}/costs", headers=stranger.headers)
    assert other.status_code == 404 and other.json() == {"detail": "job not found"}
    assert client.get(f"/api/jobs/{job_id}/costs").status_code == 401

    week = client.get("/api/costs/summary?days=7", headers=user.headers).json()
    assert week["jobs"] == 1 and week["total_usd"] == 0.0
    assert week["compute_s"] == pytest.approx(line["compute_s"], abs=0.001)
    assert [p["provider"] for p in week["by_provider"]] == ["embedded"]
    assert len(week["by_day"]) == 7 and week["by_day"][-1]["compute_s"] > 0
    assert client.get("/api/costs/summary", headers=stranger.headers).json()["jobs"] == 0
    too_long = client.get("/api/costs/summary?days=400", headers=user.headers)
    assert too_long.status_code == 422 and "days" in too_long.json()["detail"]


@pytest.fixture
def priced_ambient() -> Iterator[None]:
    """Ambient tracks priced at $1 a minute, as a paid music provider would be."""
    saved = dict(estimates_module._estimators)

    def dollar_a_minute(settings, payload) -> list[CostLine]:
        minutes = Decimal(str(payload["spec"]["duration_s"])) / 60
        return [CostLine("paid-music", "music", minutes)]

    register_cost_estimator("ambient.generate", dollar_a_minute)
    yield
    estimates_module._estimators.clear()
    estimates_module._estimators.update(saved)


def count(app: Any, model: type) -> int:
    db: Database = app.state.db
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def login(client: Any, email: str) -> dict[str, str]:
    creds = {"email": email, "password": "password-123"}
    client.post("/api/auth/register", json=creds)
    token = client.post("/api/auth/login", json=creds).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def test_budgets_refuse_at_the_door_and_store_nothing(
    make_client: Callable[..., Any], priced_ambient: None
) -> None:
    client = make_client(job_budget_usd="1.00", user_daily_budget_usd="1.50")
    client.app.state.runner.stop()  # accepted jobs stay queued, reserving their estimate
    headers = login(client, "budget@example.com")

    too_big = client.post(
        "/api/generate", json={"prompt": "slow piano", "duration_s": 90}, headers=headers
    )
    assert too_big.status_code == 402
    assert too_big.json()["detail"].startswith("this job is estimated at $1.5000, over the")
    assert too_big.json()["budget"]["allowed"] is False
    assert count(client.app, Track) == count(client.app, Job) == 0

    first = client.post(
        "/api/generate", json={"prompt": "slow piano", "duration_s": 60}, headers=headers
    )
    assert first.status_code == 202, first.text
    second = client.post(
        "/api/generate", json={"prompt": "slow piano", "duration_s": 60}, headers=headers
    )
    assert second.status_code == 429
    retry_after = int(second.headers["retry-after"])
    assert 1 <= retry_after <= 86400
    body = second.json()
    assert body["budget"]["retry_after_s"] == retry_after
    assert "daily budget of $1.50" in body["detail"]
    assert count(client.app, Track) == count(client.app, Job) == 1

    job_id = first.json()["job_id"]
    costs = client.get(f"/api/jobs/{job_id}/costs", headers=headers).json()
    assert costs["estimated_usd"] == 1.0
