"""The account and admin pages in a real browser: create an API token (shown once, copied),
use it, revoke it after confirming; an administrator searches, promotes, adjusts credits and
disables an account."""

from __future__ import annotations

import re
import subprocess

import httpx
import pytest

from tests.e2e.conftest import SOUNDSTAGE
from tests.web.conftest import PASSWORD, register

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(300)]

try:
    from playwright.sync_api import expect
except ImportError:  # the fixtures skip (or fail under CI) with the reason
    expect = None

ADMIN_PASSWORD = "keys of the castle 42"


def make_admin(studio, email: str) -> None:
    """The documented way to make the first administrator: the CLI, on the server's data."""
    env = {"SOUNDSTAGE_DATA_DIR": str(studio.data_dir), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [str(SOUNDSTAGE), "users", "create", email, "--admin", "--password", ADMIN_PASSWORD],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def me(url: str, token: str) -> httpx.Response:
    return httpx.get(f"{url}/api/auth/me", headers={"Authorization": f"Bearer {token}"})


def test_api_token_create_copy_use_revoke(studio, page, shot):
    url = studio.url
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url)
    email = register(page, url)
    page.get_by_role("link", name="Account").click()
    page.wait_for_url(f"{url}/account")
    expect(page.get_by_role("heading", name="API tokens")).to_be_visible()
    expect(page.locator("#storage-use")).to_contain_text("used")
    expect(page.get_by_role("link", name="Admin")).to_have_count(0)

    page.get_by_label("Name").fill("nightly <backup>")
    page.get_by_label("Expires").select_option(label="30 days")
    page.get_by_role("button", name="Create token").click()
    value = page.get_by_label("The new API token")
    expect(value).to_have_value(re.compile(r"^ss_[\w-]{40,}$"))
    token = value.input_value()
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == token
    shot("token-created", doc="account-token")

    assert me(url, token).json()["email"] == email
    row = page.locator("tbody tr", has_text="nightly <backup>")
    expect(row).to_contain_text(token[:10])
    expect(row.locator(".badge")).to_have_text("active")

    page.reload()  # shown once: gone after a reload
    expect(page.get_by_label("The new API token")).to_have_count(0)
    assert token not in page.content()

    messages = []
    page.once("dialog", lambda dialog: (messages.append(dialog.message), dialog.accept()))
    page.get_by_role("button", name="Revoke nightly <backup>").click()
    expect(page.get_by_role("status")).to_contain_text("was revoked")
    assert messages and messages[0].startswith("Revoke “nightly <backup>”?")
    expect(page.locator("tbody tr .badge")).to_have_text("revoked")
    shot("token-revoked")
    r = me(url, token)
    assert r.status_code == 401 and r.json()["detail"] == "API token revoked; create a new one"


def test_admin_searches_promotes_credits_and_disables(studio, page, shot):
    url = studio.url
    for name in ("ada", "grace"):
        httpx.post(f"{url}/api/auth/register",
                   json={"email": f"{name}@example.com", "password": PASSWORD})  # fmt: skip
    make_admin(studio, "root@example.com")

    page.goto(f"{url}/login")
    page.get_by_label("Email").fill("root@example.com")
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{url}/")
    page.get_by_role("link", name="Admin").click()
    page.wait_for_url(f"{url}/admin/users")
    expect(page.locator("tbody tr")).to_have_count(3)

    page.get_by_label("Email").fill("grac")
    expect(page.locator("tbody tr")).to_have_count(1)
    row = page.locator("tbody tr", has_text="grace@example.com")
    expect(row).to_be_visible()
    shot("admin-search", doc="admin-users")

    row.get_by_label("Role of grace@example.com").select_option("admin")
    row.get_by_role("button", name="Set role of grace@example.com").click()
    expect(row.get_by_role("status")).to_contain_text("grace@example.com: admin, active")

    balance = int(row.locator(".credits").inner_text())
    row.get_by_label("Credits to add to grace@example.com").fill("50")
    row.get_by_label("Why").fill("welcome gift")
    row.get_by_role("button", name="Adjust credits of grace@example.com").click()
    expect(row.get_by_role("status")).to_contain_text(f"balance {balance + 50}")
    expect(row.locator(".credits")).to_have_text(str(balance + 50))

    row.get_by_label("Credits to add to grace@example.com").fill(str(-(balance + 51)))
    row.get_by_label("Why").fill("too much")
    row.get_by_role("button", name="Adjust credits of grace@example.com").click()
    expect(row.get_by_role("alert")).to_contain_text("below zero")

    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Disable grace@example.com").click()
    expect(row.get_by_role("status")).to_contain_text("grace@example.com: admin, disabled")
    expect(row.get_by_role("button", name="Enable grace@example.com")).to_be_visible()
    shot("admin-disabled")
    r = httpx.post(f"{url}/api/auth/login",
                   json={"email": "grace@example.com", "password": PASSWORD})  # fmt: skip
    assert r.status_code == 401

    page.get_by_label("Email").fill("root")
    you = page.locator("tbody tr", has_text="root@example.com")
    expect(you).to_contain_text("(you)")
    expect(you.get_by_role("button", name="Disable root@example.com")).to_be_disabled()
