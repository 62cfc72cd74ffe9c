"""The `soundstage users ...` commands and `soundstage api` with an API token."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from soundstage.cli import app as cli_app
from tests.conftest import make_settings
from tests.providers.loopback import LoopbackServer

SECRET = "cli-test-secret-key-long-enough-123"


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch) -> Iterator[Path]:
    """The CLI's settings point at a data folder of this test."""
    from soundstage.config import get_settings

    data_dir = tmp_path / "cli-data"
    monkeypatch.setenv("SOUNDSTAGE_DATA_DIR", str(data_dir))
    # The database make_client(data_dir=...) opens too (SQLite, or PostgreSQL in that mode).
    monkeypatch.setenv("SOUNDSTAGE_DATABASE_URL", make_settings(data_dir).resolved_database_url)
    monkeypatch.setenv("SOUNDSTAGE_SECRET_KEY", SECRET)
    get_settings.cache_clear()
    yield data_dir
    get_settings.cache_clear()


def run(*args: str, **kwargs):
    return CliRunner().invoke(cli_app, list(args), **kwargs)


def test_create_admin_list_and_set_role(cli_env) -> None:
    r = run("users", "create", "Root@Example.com", "--admin", "--password", "tidal organ 77")
    assert r.exit_code == 0, r.output
    assert "root@example.com" in r.output and "role admin" in r.output
    r = run("users", "create", "ada@example.com", "--password", "tidal organ 77")
    assert r.exit_code == 0 and "role user" in r.output
    r = run("users", "create", "--email", "grace@example.com", "--password", "tidal organ 77")
    assert r.exit_code == 0, r.output  # the older --email form still works

    r = run("users", "list")
    assert r.exit_code == 0
    assert r.output.index("root@example.com") < r.output.index("ada@example.com")
    assert "3 account(s)" in r.output
    r = run("users", "list", "--role", "admin")
    assert "ada@example.com" not in r.output and "1 account(s)" in r.output
    r = run("users", "list", "--search", "GRACE")
    assert "grace@example.com" in r.output and "1 account(s)" in r.output

    r = run("users", "set-role", "ADA@example.com", "admin")
    assert r.exit_code == 0 and "ada@example.com is now admin" in r.output
    assert "2 account(s)" in run("users", "list", "--role", "admin").output


def test_cli_refusals_are_clear(cli_env) -> None:
    r = run("users", "create", "a@example.com", "--password", "qwertyuiop")
    assert r.exit_code == 1 and "most common passwords" in r.output
    r = run("users", "create", "a@example.com", "--password", "tidal organ 77", "--role", "owner")
    assert r.exit_code == 1 and "unknown role 'owner'" in r.output
    r = run("users", "create", "a@example.com", "--admin", "--role", "user", "--password", "x")
    assert r.exit_code == 1 and "contradicts" in r.output
    r = run("users", "create", "--password", "tidal organ 77")
    assert r.exit_code == 1 and "give the EMAIL" in r.output
    r = run("users", "set-role", "nobody@example.com", "admin")
    assert r.exit_code == 1 and "no account with the email" in r.output
    run("users", "create", "a@example.com", "--password", "tidal organ 77")
    r = run("users", "set-role", "a@example.com", "owner")
    assert r.exit_code == 1 and "unknown role" in r.output
    assert "0 account(s)" in run("users", "list", "--role", "admin").output


class StudioServer(LoopbackServer):
    name = "studio"

    def __init__(self, app) -> None:
        self.app = app


def test_api_command_uses_an_api_token(cli_env, make_client) -> None:
    assert run("users", "create", "ada@example.com", "--password", "tidal organ 77").exit_code == 0
    r = run("users", "token", "ada@example.com", "--name", "nightly", "--days", "30")
    assert r.exit_code == 0, r.output
    token = r.stdout.strip().splitlines()[-1]
    assert token.startswith("ss_")

    # The same database, served on a loopback port.
    client = make_client(data_dir=cli_env, secret_key=SECRET)
    with StudioServer(client.app) as server:
        url = f"http://127.0.0.1:{server.port}"
        r = run("api", "GET", "/api/auth/me", "--url", url, env={"SOUNDSTAGE_API_TOKEN": token})
        assert r.exit_code == 0, r.output
        assert '"email": "ada@example.com"' in r.output
        r = run("api", "GET", "/api/tokens", "--url", url, "--token", token)
        assert '"name": "nightly"' in r.output and token not in r.output
        r = run("api", "POST", "/api/tokens", "--json", '{"name": "x"}', "--url", url,
                "--token", token)  # fmt: skip
        assert r.exit_code == 1 and "API token cannot" in r.output and "HTTP 403" in r.output
        r = run("api", "GET", "/api/auth/me", "--url", url)
        assert r.exit_code == 1 and "not authenticated" in r.output
    r = run("api", "GET", "/api/auth/me", "--json", "{oops", "--url", url)
    assert r.exit_code == 1 and "not valid JSON" in r.output
