"""Server-side tests of the account page (API tokens, storage) and the admin page (users,
roles, disabling, credits): status codes, access, the same-origin rule, escaping, htmx."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from soundstage.platform.accounts.models import ApiToken, User

ORIGIN = {"origin": "http://testserver"}
HX = {"hx-request": "true", **ORIGIN}
PASSWORD = "long-password-1"


def register(client, email: str) -> None:
    r = client.post("/register", headers=ORIGIN, follow_redirects=False,
                    data={"email": email, "password": PASSWORD, "password_again": PASSWORD})  # fmt: skip
    assert r.status_code == 303, r.text


def user_id(client, email: str) -> str:
    with client.app.state.db.session() as session:
        return session.scalar(select(User.id).where(User.email == email))


def set_role(client, email: str, role: str) -> None:
    with client.app.state.db.session() as session:
        session.scalar(select(User).where(User.email == email)).role = role
        session.commit()


@pytest.fixture
def me(client):
    """Logged in through the register page (the client keeps the cookie)."""
    register(client, "me@example.com")
    return client


@pytest.fixture
def admin_client(make_client):
    """An administrator's browser, and two other accounts (registered through the API)."""
    client = make_client()
    for email in ("ada@example.com", "grace@example.com"):
        client.post("/api/auth/register", json={"email": email, "password": PASSWORD})
    register(client, "root@example.com")
    set_role(client, "root@example.com", "admin")
    return client


def token_value(html: str) -> str:
    match = re.search(r'id="new-token"[^>]*value="(ss_[^"]+)"', html)
    assert match, html
    return match.group(1)


# -- account page ---------------------------------------------------------------


def test_account_page_needs_login(client) -> None:
    r = client.get("/account", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/account"
    r = client.get("/admin/users", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/admin/users"


def test_account_page_shows_storage_and_nav(me) -> None:
    r = me.get("/account")
    assert r.status_code == 200
    assert "me@example.com" in r.text and "of 10.0 GB used" in r.text
    assert 'href="/account" aria-current="page"' in r.text
    assert 'href="/admin/users"' not in r.text  # the Admin link is for admins only
    assert "No API tokens yet." in r.text


def test_create_token_shows_it_once_and_it_works(me) -> None:
    r = me.post("/account/tokens", data={"name": "nightly", "expires_in_days": "30"},
                headers=ORIGIN)  # fmt: skip
    assert r.status_code == 201
    token = token_value(r.text)
    assert "shown only this once" in r.text and 'data-copy="#new-token"' in r.text
    api = me.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert api.json()["email"] == "me@example.com"
    page = me.get("/account")
    assert token not in page.text  # never again
    assert token[:10] in page.text and "nightly" in page.text and "active" in page.text


def test_htmx_create_and_revoke_swap_the_tokens_section(me) -> None:
    r = me.post("/account/tokens", data={"name": "ci", "expires_in_days": ""}, headers=HX)
    assert r.status_code == 200  # htmx swaps 2xx
    assert "<html" not in r.text and 'id="tokens-h"' in r.text
    token = token_value(r.text)
    with me.app.state.db.session() as session:
        (row,) = session.scalars(select(ApiToken)).all()
        assert row.expires_at is None
    assert f'hx-post="/account/tokens/{row.id}/revoke"' in r.text
    assert 'hx-confirm="Revoke “ci”?' in r.text

    r = me.post(f"/account/tokens/{row.id}/revoke", headers=HX)
    assert r.status_code == 200 and "“ci” was revoked" in r.text and "revoked</span>" in r.text
    r = me.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401


def test_revoke_without_javascript_asks_first(me) -> None:
    me.post("/account/tokens", data={"name": "old"}, headers=ORIGIN)
    with me.app.state.db.session() as session:
        token_id = session.scalar(select(ApiToken.id))
    r = me.get(f"/account/tokens/{token_id}/revoke")
    assert r.status_code == 200 and "Revoke “old”?" in r.text
    r = me.post(f"/account/tokens/{token_id}/revoke", headers=ORIGIN, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/account?revoked=1"
    assert "no longer works" in me.get("/account?revoked=1").text


def test_token_form_refusals_store_nothing(me) -> None:
    r = me.post("/account/tokens", data={"name": "  "}, headers=ORIGIN)
    assert r.status_code == 422 and "give the token a name" in r.text
    r = me.post("/account/tokens", data={"name": "x", "expires_in_days": "soon"}, headers=ORIGIN)
    assert r.status_code == 422 and "choose a lifetime" in r.text
    r = me.post("/account/tokens", data={"name": "x"}, headers={"origin": "http://evil.example"})
    assert r.status_code == 403
    with me.app.state.db.session() as session:
        assert session.scalars(select(ApiToken)).all() == []


def test_token_names_are_escaped(me) -> None:
    r = me.post("/account/tokens", data={"name": "<script>alert(1)</script>"}, headers=ORIGIN)
    assert "<script>alert(1)" not in r.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text


def test_another_users_token_cannot_be_revoked(me, make_user) -> None:
    other = make_user()
    made = me.post("/api/tokens", json={"name": "theirs"}, headers=other.headers).json()
    for method in ("GET", "POST"):
        r = me.request(method, f"/account/tokens/{made['id']}/revoke", headers=ORIGIN)
        assert r.status_code == 404, method
    assert me.get("/api/tokens", headers=other.headers).json()[0]["active"] is True


def test_register_page_explains_the_password_policy(client) -> None:
    r = client.get("/register")
    assert "At least 10 characters" in r.text and "most common passwords" in r.text
    assert 'minlength="10"' in r.text
    r = client.post("/register", headers=ORIGIN,
                    data={"email": "me@example.com", "password": "qwertyuiop",
                          "password_again": "qwertyuiop"})  # fmt: skip
    assert r.status_code == 422 and "password: is one of the most common passwords" in r.text


# -- admin page -----------------------------------------------------------------


def test_admin_page_is_for_admins_only(me) -> None:
    r = me.get("/admin/users")
    assert r.status_code == 403 and "Administrators only" in r.text
    someone = user_id(me, "me@example.com")
    r = me.post(f"/admin/users/{someone}", data={"role": "admin"}, headers=ORIGIN)
    assert r.status_code == 403
    r = me.post(
        f"/admin/users/{someone}/credits", data={"amount": "9", "note": "x"}, headers=ORIGIN
    )
    assert r.status_code == 403
    assert me.get("/api/auth/me").status_code == 401  # pages' cookies are not API credentials
    with me.app.state.db.session() as session:
        assert session.get(User, someone).role == "user"


def test_admin_lists_searches_and_pages(admin_client) -> None:
    r = admin_client.get("/admin/users")
    assert r.status_code == 200
    assert 'href="/admin/users" aria-current="page"' in r.text
    for email in ("ada@example.com", "grace@example.com", "root@example.com"):
        assert email in r.text
    assert "3 accounts." in r.text and "(you)" in r.text
    r = admin_client.get("/admin/users", params={"q": "GRACE"}, headers=HX)
    assert "<html" not in r.text and "1 account." in r.text and "ada@example.com" not in r.text
    r = admin_client.get("/admin/users", params={"role": "admin"})
    assert "root@example.com" in r.text and "ada@example.com" not in r.text
    r = admin_client.get("/admin/users", params={"active": "no"})
    assert "0 accounts." in r.text


def test_admin_changes_role_and_disables(admin_client) -> None:
    ada = user_id(admin_client, "ada@example.com")
    r = admin_client.post(f"/admin/users/{ada}", data={"role": "admin"}, headers=HX)
    assert r.status_code == 200 and f'<tr id="user-{ada}">' in r.text
    assert "Saved: ada@example.com: admin, active" in r.text
    r = admin_client.post(f"/admin/users/{ada}", data={"is_active": "false"}, headers=HX)
    assert "Saved: ada@example.com: admin, disabled" in r.text and ">Enable<" in r.text
    login = admin_client.post(
        "/api/auth/login", json={"email": "ada@example.com", "password": PASSWORD}
    )
    assert login.status_code == 401
    # Without JavaScript: back to the list with the outcome.
    r = admin_client.post(f"/admin/users/{ada}", data={"is_active": "true"}, headers=ORIGIN,
                          follow_redirects=False)  # fmt: skip
    assert r.status_code == 303 and r.headers["location"].startswith("/admin/users?done=")
    with admin_client.app.state.db.session() as session:
        assert session.get(User, ada).is_active is True


def test_admin_cannot_demote_or_disable_themselves(admin_client) -> None:
    root = user_id(admin_client, "root@example.com")
    r = admin_client.post(f"/admin/users/{root}", data={"is_active": "false"}, headers=HX)
    assert r.status_code == 200 and "cannot disable your own account" in r.text
    r = admin_client.post(f"/admin/users/{root}", data={"role": "user"}, headers=ORIGIN)
    assert r.status_code == 409 and "cannot remove your own administrator role" in r.text
    with admin_client.app.state.db.session() as session:
        me = session.get(User, root)
        assert (me.role, me.is_active) == ("admin", True)
    page = admin_client.get("/admin/users").text
    assert 'disabled title="You cannot disable your own account"' in page


def test_admin_adjusts_credits_through_the_billing_route(admin_client) -> None:
    grace = user_id(admin_client, "grace@example.com")
    before = admin_client.get("/admin/users", params={"q": "grace"}).text
    balance = int(re.search(r'<span class="credits" title="Balance">(\d+)</span>', before)[1])
    r = admin_client.post(f"/admin/users/{grace}/credits", data={"amount": "25", "note": "thanks"},
                          headers=HX)  # fmt: skip
    assert r.status_code == 200
    assert f"credits +25: balance {balance + 25}" in r.text
    assert f'title="Balance">{balance + 25}</span>' in r.text
    # Never below zero; a blank note or amount is refused; nothing changes.
    r = admin_client.post(f"/admin/users/{grace}/credits",
                          data={"amount": str(-(balance + 26)), "note": "oops"}, headers=HX)  # fmt: skip
    assert "below zero" in r.text and f'title="Balance">{balance + 25}</span>' in r.text
    r = admin_client.post(f"/admin/users/{grace}/credits", data={"amount": "5", "note": ""},
                          headers=HX)  # fmt: skip
    assert 'class="row-message error"' in r.text and "note" in r.text
    r = admin_client.post(f"/admin/users/{grace}/credits", data={"amount": "", "note": "x"},
                          headers=ORIGIN)  # fmt: skip
    assert r.status_code == 422 and "amount" in r.text
    r = admin_client.post("/admin/users/nobody/credits", data={"amount": "5", "note": "x"},
                          headers=ORIGIN)  # fmt: skip
    assert r.status_code == 404


def test_admin_page_escapes_emails(admin_client) -> None:
    # The email check allows < and > in the local part: they must never become markup.
    email = "<script>alert(1)</script>@example.com"
    r = admin_client.post("/api/auth/register", json={"email": email, "password": PASSWORD})
    assert r.status_code == 201
    page = admin_client.get("/admin/users").text
    assert (
        "<script>alert(1)" not in page
        and "&lt;script&gt;alert(1)&lt;/script&gt;@example.com" in page
    )
