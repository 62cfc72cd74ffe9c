"""Accounts over HTTP: register, login, refresh rotation and reuse detection, logout."""

from __future__ import annotations

from datetime import timedelta

import jwt
import pytest
from sqlalchemy import select

from soundstage.platform.accounts import RefreshToken, create_user
from soundstage.platform.accounts.service import AuthError, refresh
from soundstage.platform.db import Database, utcnow

PASSWORD = "password-123"


def login(client, email: str, password: str) -> dict[str, str]:
    r = client.post("/api/auth/login", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    return r.json()


def test_register_login_me(client) -> None:
    r = client.post("/api/auth/register", json={"email": "Ada@Example.com", "password": PASSWORD})
    assert r.status_code == 201
    assert r.json()["email"] == "ada@example.com"
    tokens = login(client, "ADA@example.com", PASSWORD)
    assert tokens["token_type"] == "bearer"
    me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200
    assert me.json()["email"] == "ada@example.com"
    assert me.json()["role"] == "user"


def test_access_token_in_query_string(client, user) -> None:
    r = client.get("/api/auth/me", params={"access_token": user.access_token})
    assert r.status_code == 200
    assert r.json()["id"] == user.id


def test_wrong_password_and_unknown_email(client, user) -> None:
    for email, password in ((user.email, "wrong-password"), ("nobody@example.com", PASSWORD)):
        r = client.post("/api/auth/login", json={"email": email, "password": password})
        assert r.status_code == 401
        assert r.json() == {"detail": "incorrect email or password"}


def test_duplicate_email_is_409(client, user) -> None:
    r = client.post("/api/auth/register", json={"email": user.email.upper(), "password": PASSWORD})
    assert r.status_code == 409
    assert "already exists" in r.json()["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "a@example.com", "password": "short"}, "password"),
        ({"email": "not-an-email", "password": PASSWORD}, "email"),
        ({"email": "a@example.com"}, "password"),
    ],
)
def test_bad_registration_names_the_field(client, body, field) -> None:
    r = client.post("/api/auth/register", json=body)
    assert r.status_code == 422
    assert r.json()["detail"].startswith(f"{field}: ")
    assert r.json()["errors"][0]["field"] == field


def test_closed_registration_is_403(make_client) -> None:
    client = make_client(allow_registration=False)
    r = client.post("/api/auth/register", json={"email": "a@example.com", "password": PASSWORD})
    assert r.status_code == 403
    assert "registration is closed" in r.json()["detail"]


def test_refresh_rotates_tokens(client, user) -> None:
    r = client.post("/api/auth/refresh", json={"refresh_token": user.refresh_token})
    assert r.status_code == 200
    new = r.json()
    assert new["refresh_token"] != user.refresh_token
    me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {new['access_token']}"})
    assert me.status_code == 200
    again = client.post("/api/auth/refresh", json={"refresh_token": new["refresh_token"]})
    assert again.status_code == 200


def test_refresh_token_reuse_revokes_the_family(client, user) -> None:
    first = client.post("/api/auth/refresh", json={"refresh_token": user.refresh_token}).json()
    # An attacker replays the old token: refused, and the whole family is revoked...
    replay = client.post("/api/auth/refresh", json={"refresh_token": user.refresh_token})
    assert replay.status_code == 401
    assert "already used" in replay.json()["detail"]
    # ...so the legitimate newer token stops working too.
    r = client.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 401
    # Another login (another family) is unaffected.
    other = login(client, user.email, user.password)
    assert (
        client.post("/api/auth/refresh", json={"refresh_token": other["refresh_token"]}).status_code
        == 200
    )


def test_logout_revokes_the_family(client, user) -> None:
    rotated = client.post("/api/auth/refresh", json={"refresh_token": user.refresh_token}).json()
    r = client.post("/api/auth/logout", json={"refresh_token": rotated["refresh_token"]})
    assert r.status_code == 204
    r = client.post("/api/auth/refresh", json={"refresh_token": rotated["refresh_token"]})
    assert r.status_code == 401
    # Logging out with an unknown token is harmless.
    assert client.post("/api/auth/logout", json={"refresh_token": "nope"}).status_code == 204


def test_refresh_tokens_stored_hashed(client, user, app) -> None:
    db: Database = app.state.db
    with db.session() as session:
        rows = session.scalars(select(RefreshToken)).all()
    assert rows
    assert all(row.token_hash != user.refresh_token for row in rows)
    assert all(len(row.token_hash) == 64 for row in rows)


def test_expired_refresh_token(client, user, app, settings) -> None:
    db: Database = app.state.db
    with db.session() as session:
        for row in session.scalars(select(RefreshToken)):
            row.expires_at = utcnow() - timedelta(seconds=1)
        session.commit()
        with pytest.raises(AuthError, match="expired"):
            refresh(session, settings, user.refresh_token)


def test_expired_and_tampered_access_tokens_are_401(client, user, settings) -> None:
    now = utcnow()
    expired = jwt.encode(
        {
            "sub": user.id,
            "typ": "access",
            "iat": now - timedelta(hours=1),
            "exp": now - timedelta(minutes=1),
        },
        settings.resolved_secret_key(),
        algorithm="HS256",
    )
    forged = jwt.encode(
        {"sub": user.id, "typ": "access", "exp": now + timedelta(minutes=5)},
        "some-other-secret-key-of-enough-length",
        algorithm="HS256",
    )
    head, body, sig = user.access_token.split(".")
    tampered = f"{head}.{body}.{sig[:-4]}AAAA"
    for token, detail in (
        (expired, "access token expired"),
        (forged, "invalid access token"),
        (tampered, "invalid access token"),
        ("garbage", "invalid access token"),
    ):
        r = client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401, token
        assert r.json() == {"detail": detail}
        assert r.headers["www-authenticate"] == "Bearer"
    r = client.get("/api/auth/me")
    assert r.status_code == 401
    assert r.json() == {"detail": "not authenticated"}


def test_disabled_user_is_refused(client, user, app) -> None:
    from soundstage.platform.accounts import User

    db: Database = app.state.db
    with db.session() as session:
        session.get(User, user.id).is_active = False
        session.commit()
    assert client.get("/api/auth/me", headers=user.headers).status_code == 401
    r = client.post("/api/auth/login", json={"email": user.email, "password": user.password})
    assert r.status_code == 401


def test_create_user_service(db: Database) -> None:
    with db.session() as session:
        user = create_user(session, " Admin@Example.COM ", PASSWORD, role="admin")
        assert user.email == "admin@example.com"
        assert user.password_hash.startswith("$argon2")
        with pytest.raises(ValueError, match="valid email"):
            create_user(session, "nope", PASSWORD)
        with pytest.raises(ValueError, match="at least 10"):
            create_user(session, "b@example.com", "short")
