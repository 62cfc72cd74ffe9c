"""The assembled app: JSON errors everywhere, health, OpenAPI, workflow routers, CLI."""

from __future__ import annotations

from typing import Annotated

import pytest
from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from typer.testing import CliRunner

import soundstage.workflows
from soundstage.app import create_app
from soundstage.cli import app as cli_app
from soundstage.platform.db import current_revisions, head_revisions
from soundstage.platform.deps import CurrentUser, SessionDep, SettingsDep, StorageDep
from soundstage.platform.errors import NotFound
from soundstage.platform.http import Page, PageDep
from tests.conftest import make_settings


class TrackIn(BaseModel):
    prompt: str = Field(min_length=1)
    duration_s: float = Field(gt=0, le=10800)


def demo_router() -> APIRouter:
    """A stand-in for a workflow router, using the platform dependencies."""
    router = APIRouter(prefix="/api/demo")

    @router.post("/tracks", status_code=201)
    def create(
        body: TrackIn,
        user: CurrentUser,
        session: SessionDep,
        settings: SettingsDep,
        storage: StorageDep,
    ) -> dict[str, str]:
        return {"owner": user.id, "prompt": body.prompt}

    @router.get("/items", response_model=Page[int])
    def items(page: PageDep, n: Annotated[int, Query(ge=0)] = 5) -> dict[str, object]:
        values = list(range(n))[page.offset : page.offset + page.page_size]
        return {"items": values, "total": n, "page": page.page, "page_size": page.page_size}

    @router.get("/missing")
    def missing() -> None:
        raise NotFound("track not found")

    @router.get("/crash")
    def crash() -> None:
        raise RuntimeError("secret internals")

    return router


@pytest.fixture
def demo_client(monkeypatch, make_client):
    monkeypatch.setattr(soundstage.workflows, "routers", lambda: [demo_router()])
    return make_client(raise_server_exceptions=False)


def test_healthz(client) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"


def test_startup_migrated_the_database(client, settings) -> None:
    assert current_revisions(settings.resolved_database_url) == head_revisions()
    assert settings.files_dir.is_dir()


def test_openapi_and_docs(client) -> None:
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    for path in (
        "/api/auth/login",
        "/api/jobs/{job_id}",
        "/api/jobs/{job_id}/events",
        "/api/files/{token}",
    ):
        assert path in spec["paths"]


def test_unknown_route_and_method_are_json(client) -> None:
    r = client.get("/api/nothing-here")
    assert r.status_code == 404
    assert r.json() == {"detail": "Not Found"}
    r = client.delete("/api/auth/login")
    assert r.status_code == 405
    assert "detail" in r.json()


def test_malformed_json_is_a_clear_422(client) -> None:
    r = client.post(
        "/api/auth/login", content=b'{"email": ', headers={"content-type": "application/json"}
    )
    assert r.status_code == 422
    assert r.json()["detail"].startswith("body: malformed JSON")


def test_workflow_router_validation_and_errors(demo_client) -> None:
    r = demo_client.post(
        "/api/auth/register", json={"email": "w@example.com", "password": "password-123"}
    )
    token = demo_client.post(
        "/api/auth/login", json={"email": "w@example.com", "password": "password-123"}
    )
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    r = demo_client.post(
        "/api/demo/tracks", json={"prompt": "rain", "duration_s": 20000}, headers=headers
    )
    assert r.status_code == 422
    assert r.json()["detail"] == "duration_s: Input should be less than or equal to 10800"
    r = demo_client.post("/api/demo/tracks", json={"prompt": "", "duration_s": -1}, headers=headers)
    assert r.status_code == 422
    assert "prompt: " in r.json()["detail"] and "duration_s: " in r.json()["detail"]
    assert {e["field"] for e in r.json()["errors"]} == {"prompt", "duration_s"}
    r = demo_client.post(
        "/api/demo/tracks", json={"prompt": "rain", "duration_s": 60}, headers=headers
    )
    assert r.status_code == 201
    assert r.json()["prompt"] == "rain"
    r = demo_client.get("/api/demo/missing")
    assert (r.status_code, r.json()) == (404, {"detail": "track not found"})
    r = demo_client.get("/api/demo/crash")
    assert (r.status_code, r.json()) == (500, {"detail": "internal error"})


def test_pagination_bounds(demo_client) -> None:
    r = demo_client.get("/api/demo/items", params={"n": 45, "page": 3, "page_size": 20})
    assert r.json() == {"items": list(range(40, 45)), "total": 45, "page": 3, "page_size": 20}
    for params, field in (
        ({"page": 0}, "page"),
        ({"page_size": 0}, "page_size"),
        ({"page_size": 101}, "page_size"),
    ):
        r = demo_client.get("/api/demo/items", params=params)
        assert r.status_code == 422
        assert r.json()["detail"].startswith(f"{field}: ")


def test_workflow_routes_must_carry_api_paths(monkeypatch, settings) -> None:
    bad = APIRouter()
    bad.add_api_route("/tracks", lambda: None)
    monkeypatch.setattr(soundstage.workflows, "routers", lambda: [bad])
    with pytest.raises(ValueError, match="/api/"):
        create_app(settings)


def test_cli_version_db_upgrade_and_users_create(tmp_path, monkeypatch) -> None:
    from soundstage.config import get_settings

    monkeypatch.setenv("SOUNDSTAGE_DATA_DIR", str(tmp_path / "cli-data"))
    monkeypatch.setenv("SOUNDSTAGE_SECRET_KEY", "cli-test-secret-key-long-enough-123")
    # The database the suite runs on (SQLite file, or PostgreSQL with SOUNDSTAGE_TEST_DATABASE).
    database_url = make_settings(tmp_path / "cli-data").resolved_database_url
    monkeypatch.setenv("SOUNDSTAGE_DATABASE_URL", database_url)
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        assert runner.invoke(cli_app, ["version"]).exit_code == 0
        r = runner.invoke(cli_app, ["db", "upgrade"])
        assert r.exit_code == 0, r.output
        assert "up to date" in r.output
        r = runner.invoke(
            cli_app,
            ["users", "create", "--email", "Root@Example.com", "--password", "password-123"],
        )
        assert r.exit_code == 0, r.output
        assert "root@example.com" in r.output
        r = runner.invoke(
            cli_app,
            ["users", "create", "--email", "root@example.com", "--password", "password-123"],
        )
        assert r.exit_code == 1
        r = runner.invoke(
            cli_app,
            ["users", "create", "--email", "p@example.com"],
            input="password-456\npassword-456\n",
        )
        assert r.exit_code == 0, r.output
        assert "password-456" not in r.output  # hidden input
        r = runner.invoke(
            cli_app, ["users", "create", "--email", "q@example.com", "--password", "short"]
        )
        assert r.exit_code == 1
        assert "at least 10" in r.output  # click 8.2+ mixes stderr into output
    finally:
        get_settings.cache_clear()


def test_cli_created_user_can_log_in(tmp_path, monkeypatch, make_client) -> None:
    from soundstage.config import get_settings

    data_dir = tmp_path / "shared"
    monkeypatch.setenv("SOUNDSTAGE_DATA_DIR", str(data_dir))
    # The database the app below opens for this data folder (SQLite or PostgreSQL).
    monkeypatch.setenv("SOUNDSTAGE_DATABASE_URL", make_settings(data_dir).resolved_database_url)
    monkeypatch.setenv("SOUNDSTAGE_SECRET_KEY", "cli-test-secret-key-long-enough-123")
    get_settings.cache_clear()
    try:
        r = CliRunner().invoke(
            cli_app, ["users", "create", "--email", "a@example.com", "--password", "password-123"]
        )
        assert r.exit_code == 0, r.output
    finally:
        get_settings.cache_clear()
    client = make_client(data_dir=data_dir, allow_registration=False)
    r = client.post("/api/auth/login", json={"email": "a@example.com", "password": "password-123"})
    assert r.status_code == 200
