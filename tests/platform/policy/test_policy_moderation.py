"""Moderation through OpenAI's endpoint (the loopback fake): category mapping, errors,
and jobs held in `moderating` until it answers, then queued or moderation_failed."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from soundstage.platform.db import Database
from soundstage.platform.jobs import Job, job_history
from soundstage.platform.policy import Policy
from soundstage.platform.policy.moderation import OpenAIModerator, moderate_held
from soundstage.platform.policy.rules import default_data
from soundstage.providers.base import ProviderError, RetryPolicy
from tests.conftest import make_settings
from tests.providers.fake_openai import FakeOpenAI

API_KEY = "sk-moderation-test-0123"
WAIT_S = 60.0


@pytest.fixture(scope="module")
def fake_openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key=API_KEY) as server:
        yield server


@pytest.fixture
def fake(fake_openai: FakeOpenAI) -> Iterator[FakeOpenAI]:
    fake_openai.reset()
    yield fake_openai
    fake_openai.reset()


def moderator(fake: FakeOpenAI, policy: Policy | None = None) -> OpenAIModerator:
    return OpenAIModerator(
        API_KEY,
        fake.base_url,
        policy=policy or Policy.from_data(default_data()),
        retry=RetryPolicy(max_retries=1, sleep=lambda s: None),
    )


def test_flags_map_to_our_categories(fake: FakeOpenAI) -> None:
    fake.flag_when("stormy", "hate", "hate/threatening")
    fake.flag_when("velvet", "sexual")  # adult content: not one of our categories
    fake.flag_when("ember", "self-harm/intent", "violence")
    with moderator(fake) as mod:
        findings = mod.moderate({"prompt": "a stormy night", "lyrics": "velvet", "title": "ember"})
    assert [(f.field, f.category, f.source) for f in findings] == [
        ("prompt", "hate", "openai:hate+hate/threatening"),
        ("title", "self_harm", "openai:self-harm/intent"),
        ("title", "violence", "openai:violence"),
    ]
    assert findings[0].reason.startswith("hateful content")
    (request,) = fake.requests
    assert request.path == "/v1/moderations"
    assert request.json == {
        "model": "omni-moderation-latest",
        "input": ["a stormy night", "velvet", "ember"],
    }
    assert request.headers["authorization"] == f"Bearer {API_KEY}"


def test_categories_the_policy_disables_are_ignored(fake: FakeOpenAI) -> None:
    policy = Policy.from_data(default_data(), {"categories": {"hate": {"enabled": False}}})
    fake.flag_when("stormy", "hate")
    with moderator(fake, policy) as mod:
        assert mod.moderate({"prompt": "stormy"}) == []


def test_service_errors_are_provider_errors(fake: FakeOpenAI) -> None:
    wrong_key = OpenAIModerator("sk-wrong", fake.base_url, policy=Policy.from_data(default_data()))
    with wrong_key, pytest.raises(ProviderError, match=r"openai: HTTP 401: Incorrect API key"):
        wrong_key.moderate({"prompt": "x"})
    fake.fail_next(500, times=2)
    with moderator(fake) as mod, pytest.raises(ProviderError, match="HTTP 500"):
        mod.moderate({"prompt": "x"})
    assert len(fake.requests) == 3  # one refused key, then the first try and one retry


def test_moderate_held_gives_the_refusal_and_the_outcome(fake: FakeOpenAI, tmp_path: Path):
    settings = make_settings(
        tmp_path, openai_api_key=API_KEY, openai_base_url=fake.base_url, provider_max_retries=0
    )
    fake.flag_when("cliff", "self-harm/instructions")
    held = {"provider": "openai", "fields": {"prompt": "a cliff at dawn"}, "attempts": 0}
    refusal, outcome = moderate_held(settings, held)
    assert refusal is not None and refusal.startswith("prompt refused: self_harm — ")
    assert outcome == {
        "provider": "openai",
        "flagged": [
            {"category": "self_harm", "field": "prompt", "source": "openai:self-harm/instructions"}
        ],
    }
    assert moderate_held(settings, {"provider": "openai", "fields": {"p": "sunny"}}) == (
        None,
        {"provider": "openai", "flagged": []},
    )


# --- jobs through the app --------------------------------------------------------------------


def wait_job(client: Any, headers: dict[str, str], job_id: str, states: set[str]) -> dict:
    deadline = time.monotonic() + WAIT_S
    job: dict = {}
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}", headers=headers).json()
        if job["state"] in states:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never reached {states}: {job}")


def login(client: Any) -> dict[str, str]:
    body = {"email": "mod@example.com", "password": "password-123"}
    assert client.post("/api/auth/register", json=body).status_code == 201
    token = client.post("/api/auth/login", json=body).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def moderated_client(make_client: Callable[..., Any], fake: FakeOpenAI) -> Any:
    return make_client(
        moderation_provider="openai",
        openai_api_key=API_KEY,
        openai_base_url=fake.base_url,
        provider_max_retries=0,
        job_max_attempts=2,
    )


def history(client: Any, headers: dict[str, str], job_id: str) -> list[str]:
    events = client.get(f"/api/jobs/{job_id}/history", headers=headers).json()
    return [e["to_state"] for e in events]


def test_flagged_prompt_ends_in_moderation_failed(moderated_client: Any, fake: FakeOpenAI):
    fake.flag_when("harbour", "hate/threatening")
    headers = login(moderated_client)
    r = moderated_client.post(
        "/api/generate", json={"prompt": "a grey harbour", "duration_s": 30}, headers=headers
    )
    assert r.status_code == 202, r.text  # the rules let it through; the job waits
    job = wait_job(moderated_client, headers, r.json()["job_id"], {"moderation_failed"})
    assert job["error"].startswith("prompt refused: hate — hateful content")
    assert history(moderated_client, headers, job["id"]) == [
        "queued",
        "moderating",
        "moderation_failed",
    ]
    assert fake.requests[-1].json["input"] == ["a grey harbour"]


def test_passing_prompt_is_queued_then_completed(moderated_client: Any, fake: FakeOpenAI):
    headers = login(moderated_client)
    r = moderated_client.post(
        "/api/generate",
        json={"prompt": "morning fog, soft pads", "duration_s": 30, "stems": False},
        headers=headers,
    )
    assert r.status_code == 202, r.text
    job = wait_job(moderated_client, headers, r.json()["job_id"], {"completed", "failed"})
    assert job["state"] == "completed", job
    assert history(moderated_client, headers, job["id"]) == [
        "queued",
        "moderating",
        "queued",
        "running",
        "completed",
    ]
    assert [r.path for r in fake.requests] == ["/v1/moderations"]


def test_unreachable_moderation_refuses_after_the_attempts(moderated_client: Any, fake: FakeOpenAI):
    fake.fail_next(503, times=10)
    headers = login(moderated_client)
    r = moderated_client.post(
        "/api/generate", json={"prompt": "night train", "duration_s": 30}, headers=headers
    )
    job = wait_job(moderated_client, headers, r.json()["job_id"], {"moderation_failed"})
    assert job["error"].startswith("moderation failed after 2 attempt(s): openai: HTTP 503")
    db: Database = moderated_client.app.state.db
    with db.session() as session:
        stored = session.get(Job, job["id"])
        assert stored.moderation["attempts"] == 2
        assert "HTTP 503" in stored.moderation["outcome"]["error"]
        assert [e.to_state for e in job_history(session, job["id"])][-1] == "moderation_failed"


def test_openai_moderation_needs_a_key(make_client: Callable[..., Any]) -> None:
    with pytest.raises(ValueError, match="SOUNDSTAGE_OPENAI_API_KEY"):
        make_client(moderation_provider="openai")
