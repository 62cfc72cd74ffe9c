"""The content policy over HTTP: previews, categories, and refusals at the ambient door
that answer 422 naming category and field and store nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from soundstage.platform.db import Database
from soundstage.platform.jobs import Job
from soundstage.platform.policy import RulesError
from soundstage.workflows.ambient.models import Batch, Track


def rows(app: Any, model: type) -> int:
    db: Database = app.state.db
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_check_previews_findings(client, user) -> None:
    r = client.post(
        "/api/policy/check",
        json={"texts": {"prompt": "rain on a tin roof", "lyrics": "call me on (555) 123-4567"}},
        headers=user.headers,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["allowed"] is False
    assert body["findings"] == [
        {
            "category": "personal_data",
            "field": "lyrics",
            "reason": body["findings"][0]["reason"],
            "match": "(555) 123-4567",
            "source": "rules",
        }
    ]
    clean = client.post(
        "/api/policy/check", json={"texts": {"prompt": "slow piano"}}, headers=user.headers
    )
    assert clean.json() == {"allowed": True, "findings": []}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"texts": {}}, "texts"),
        ({"texts": {f"f{i}": "x" for i in range(21)}}, "texts"),
        ({"texts": {"prompt": "x" * 20_001}}, "at most 20000 characters"),
        ({"texts": {"prompt": 3}}, "texts.prompt"),
        ({"text": "x"}, "text"),
    ],
)
def test_check_refuses_bad_requests(client, user, body: dict, message: str) -> None:
    r = client.post("/api/policy/check", json=body, headers=user.headers)
    assert r.status_code == 422
    assert message in r.json()["detail"]


def test_policy_routes_need_login(client) -> None:
    assert client.post("/api/policy/check", json={"texts": {"p": "x"}}).status_code == 401
    assert client.get("/api/policy/categories").status_code == 401


def test_categories_follow_the_rules_file(make_client: Callable[..., Any], tmp_path: Path):
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"categories": {"copyright": {"enabled": False}}}))
    client = make_client(content_rules_path=rules)
    body = {"email": "cat@example.com", "password": "password-123"}
    client.post("/api/auth/register", json=body)
    token = client.post("/api/auth/login", json=body).json()["access_token"]
    listed = client.get("/api/policy/categories", headers={"Authorization": f"Bearer {token}"})
    by_name = {c["name"]: c for c in listed.json()}
    assert set(by_name) == {
        "minors_sexual", "hate", "violence", "self_harm", "personal_data", "copyright",
    }  # fmt: skip
    assert by_name["copyright"]["enabled"] is False and by_name["hate"]["enabled"] is True
    assert all(c["reason"] and c["rules"] > 0 for c in by_name.values())


def test_a_broken_rules_file_stops_the_start(make_client: Callable[..., Any], tmp_path: Path):
    rules = tmp_path / "rules.json"
    rules.write_text('{"categories": {"x": {"reason": "r", "rules": [{"pattern": "(("}]}}}')
    with pytest.raises(RulesError, match="bad regular expression"):
        make_client(content_rules_path=rules)


def test_refused_prompt_is_422_and_nothing_is_stored(client, app, user) -> None:
    r = client.post(
        "/api/generate",
        json={"prompt": "a lullaby in the style of Ed Sheeran", "duration_s": 30},
        headers=user.headers,
    )
    assert r.status_code == 422
    assert r.json() == {
        "detail": "prompt refused: copyright — imitating a living artist or reproducing an "
        "existing song's lyrics is not allowed; describe the mood, genre, tempo and "
        "instruments instead",
        "category": "copyright",
        "field": "prompt",
    }
    titled = client.post(
        "/api/generate",
        json={"prompt": "slow piano", "title": "write to me: me@example.com", "duration_s": 30},
        headers=user.headers,
    )
    assert titled.status_code == 422
    assert (titled.json()["category"], titled.json()["field"]) == ("personal_data", "title")
    assert rows(app, Track) == 0 and rows(app, Job) == 0
    assert client.get("/api/history", headers=user.headers).json()["total"] == 0
    assert client.get("/api/jobs", headers=user.headers).json()["total"] == 0


def test_one_refused_batch_item_refuses_the_batch(client, app, user) -> None:
    items = [{"prompt": "slow piano", "duration_s": 30}, {"prompt": "kys", "duration_s": 30}]
    r = client.post("/api/batch/generate", json={"items": items}, headers=user.headers)
    assert r.status_code == 422
    assert r.json()["category"] == "self_harm"
    assert rows(app, Batch) == rows(app, Track) == rows(app, Job) == 0
