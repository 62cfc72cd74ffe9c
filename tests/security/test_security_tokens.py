"""Dead or forged credentials are refused: access tokens (JWT), API tokens, refresh tokens and
the web session cookie, each expired, tampered with, forged or revoked."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import jwt
import pytest

from soundstage.platform.accounts.models import ApiToken, RefreshToken, User
from soundstage.platform.db import utcnow
from tests.conftest import TEST_SECRET

PROTECTED = ["/api/auth/me", "/api/jobs", "/api/tokens", "/api/songs", "/api/account/storage"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_refused(client, token: str, detail: str) -> None:
    for path in PROTECTED:
        r = client.get(path, headers=bearer(token))
        assert r.status_code == 401, (path, r.text)
        assert r.json() == {"detail": detail}, path
        assert r.headers["www-authenticate"] == "Bearer"


def access_token(user_id: str, *, key: str = TEST_SECRET, typ: str = "access", **times) -> str:
    now = utcnow()
    claims = {"sub": user_id, "typ": typ, "iat": now, "exp": now + timedelta(minutes=5)}
    claims.update(times)
    return jwt.encode(claims, key, algorithm="HS256")


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


# -- access tokens ----------------------------------------------------------------


def test_expired_access_token(client, user) -> None:
    now = utcnow()
    token = access_token(user.id, iat=now - timedelta(hours=1), exp=now - timedelta(seconds=1))
    assert_refused(client, token, "access token expired")


def test_forged_and_tampered_access_tokens(client, user, make_user) -> None:
    other = make_user()
    assert_refused(client, access_token(user.id, key="x" * 40), "invalid access token")
    # Swapping the subject for another user's id breaks the signature.
    head, body, sig = user.access_token.split(".")
    claims = jwt.decode(user.access_token, options={"verify_signature": False})
    swapped = f"{head}.{b64({**claims, 'sub': other.id})}.{sig}"
    assert_refused(client, swapped, "invalid access token")
    # "alg: none" is never accepted.
    unsigned = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{body}."
    assert_refused(client, unsigned, "invalid access token")
    assert_refused(client, f"{head}.{body}.{sig[:-2]}xx", "invalid access token")


def test_tokens_of_other_kinds_are_not_access_tokens(client, user) -> None:
    for typ in ("refresh", "session", "download"):
        assert_refused(client, access_token(user.id, typ=typ), "invalid access token")
    missing_exp = jwt.encode({"sub": user.id, "typ": "access"}, TEST_SECRET, algorithm="HS256")
    assert_refused(client, missing_exp, "invalid access token")


def test_tokens_of_a_deleted_or_disabled_user(client, user, make_user) -> None:
    gone = make_user()
    with client.app.state.db.session() as session:
        session.delete(session.get(User, gone.id))
        session.get(User, user.id).is_active = False
        session.commit()
    assert_refused(client, gone.access_token, "invalid access token")
    assert_refused(client, user.access_token, "invalid access token")


# -- API tokens ---------------------------------------------------------------------


@pytest.fixture
def api_token(client, user) -> dict:
    r = client.post("/api/tokens", json={"name": "script"}, headers=user.headers)
    assert r.status_code == 201
    return r.json()


def test_revoked_api_token(client, user, api_token) -> None:
    assert client.get("/api/auth/me", headers=bearer(api_token["token"])).status_code == 200
    client.delete(f"/api/tokens/{api_token['id']}", headers=user.headers)
    assert_refused(client, api_token["token"], "API token revoked; create a new one")


def test_expired_api_token(client, api_token) -> None:
    with client.app.state.db.session() as session:
        session.get(ApiToken, api_token["id"]).expires_at = utcnow() - timedelta(seconds=1)
        session.commit()
    assert_refused(client, api_token["token"], "API token expired; create a new one")


def test_tampered_and_made_up_api_tokens(client, api_token) -> None:
    token = api_token["token"]
    for bad in (token[:-1] + ("a" if token[-1] != "a" else "b"), token + "x", token[:20],
                "ss_" + "A" * 43):  # fmt: skip
        assert_refused(client, bad, "invalid API token")
    assert_refused(client, token.upper(), "invalid access token")  # no "ss_": read as a JWT


def test_api_token_of_a_disabled_user(client, user, api_token) -> None:
    with client.app.state.db.session() as session:
        session.get(User, user.id).is_active = False
        session.commit()
    assert_refused(client, api_token["token"], "invalid API token")


def test_api_token_in_the_url_is_refused(client, api_token) -> None:
    r = client.get("/api/auth/me", params={"access_token": api_token["token"]})
    assert r.status_code == 401
    assert r.json() == {"detail": "API tokens are accepted only in the Authorization header"}


# -- refresh tokens -----------------------------------------------------------------


def refresh(client, token: str):
    return client.post("/api/auth/refresh", json={"refresh_token": token})


def test_reused_refresh_token_revokes_the_family(client, user) -> None:
    fresh = refresh(client, user.refresh_token).json()["refresh_token"]
    r = refresh(client, user.refresh_token)  # replayed
    assert r.status_code == 401 and "already used or revoked" in r.json()["detail"]
    assert refresh(client, fresh).status_code == 401  # the whole family is gone


def test_logged_out_refresh_token(client, user) -> None:
    client.post("/api/auth/logout", json={"refresh_token": user.refresh_token})
    r = refresh(client, user.refresh_token)
    assert r.status_code == 401 and "already used or revoked" in r.json()["detail"]


def test_expired_refresh_token(client, user) -> None:
    with client.app.state.db.session() as session:
        for row in session.query(RefreshToken):
            row.expires_at = utcnow() - timedelta(seconds=1)
        session.commit()
    r = refresh(client, user.refresh_token)
    assert (r.status_code, r.json()) == (
        401,
        {"detail": "refresh token expired; please log in again"},
    )


def test_tampered_refresh_tokens(client, user) -> None:
    token = user.refresh_token
    for bad in (token[:-1] + ("a" if token[-1] != "a" else "b"), "", user.access_token):
        r = refresh(client, bad)
        assert r.status_code in (401, 422), bad
    # A refresh token is not an access token either.
    assert_refused(client, token, "invalid access token")


# -- web session cookie ---------------------------------------------------------------


def test_forged_expired_and_ended_sessions(client) -> None:
    origin = {"origin": "http://testserver"}
    client.post("/register", headers=origin, data={"email": "me@example.com",
                "password": "long-password-1", "password_again": "long-password-1"})  # fmt: skip
    value = client.cookies["soundstage_session"]
    assert client.get("/account", follow_redirects=False).status_code == 200
    claims = jwt.decode(value, options={"verify_signature": False})

    def refused(cookie: str) -> None:
        client.cookies.set("soundstage_session", cookie)
        r = client.get("/account", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/login?next=/account"

    refused(jwt.encode(claims, "x" * 40, algorithm="HS256"))
    refused(jwt.encode({**claims, "exp": utcnow() - timedelta(seconds=1)}, TEST_SECRET))
    refused(jwt.encode({**claims, "typ": "access"}, TEST_SECRET))
    # The cookie is not an API credential either.
    assert_refused(client, value, "invalid access token")
    client.cookies.set("soundstage_session", value)
    client.post("/logout", headers=origin)
    refused(value)
