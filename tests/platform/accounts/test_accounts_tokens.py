"""API tokens: create (shown once), list, revoke; Bearer use; stored hashed; refused when dead."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy import select

from soundstage.platform.accounts.models import ApiToken, User
from soundstage.platform.db import utcnow


def create(client, headers, name: str = "backup script", **extra):
    return client.post("/api/tokens", json={"name": name, **extra}, headers=headers)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def rows(client) -> list[ApiToken]:
    with client.app.state.db.session() as session:
        return list(session.scalars(select(ApiToken)))


def test_create_use_list_and_revoke(client, user) -> None:
    r = create(client, user.headers, expires_in_days=30)
    assert r.status_code == 201, r.text
    made = r.json()
    token = made["token"]
    assert token.startswith("ss_") and len(token) > 40
    assert made["prefix"] == token[:10]
    assert made["active"] is True and made["revoked_at"] is None
    assert made["expires_at"] is not None

    me = client.get("/api/auth/me", headers=bearer(token))
    assert me.status_code == 200 and me.json()["id"] == user.id

    listed = client.get("/api/tokens", headers=user.headers).json()
    assert [t["id"] for t in listed] == [made["id"]]
    assert "token" not in listed[0]  # shown once, never again
    assert listed[0]["last_used_at"] is not None

    assert client.delete(f"/api/tokens/{made['id']}", headers=user.headers).status_code == 204
    refused = client.get("/api/auth/me", headers=bearer(token))
    assert refused.status_code == 401
    assert refused.json() == {"detail": "API token revoked; create a new one"}
    assert refused.headers["www-authenticate"] == "Bearer"
    listed = client.get("/api/tokens", headers=user.headers).json()
    assert listed[0]["active"] is False and listed[0]["revoked_at"] is not None
    # Revoking again changes nothing.
    assert client.delete(f"/api/tokens/{made['id']}", headers=user.headers).status_code == 204


def test_tokens_are_stored_hashed(client, user) -> None:
    token = create(client, user.headers).json()["token"]
    (row,) = rows(client)
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in (row.token_hash, row.prefix, row.name)


def test_an_api_token_cannot_create_tokens(client, user) -> None:
    token = create(client, user.headers).json()["token"]
    r = create(client, bearer(token), name="child")
    assert r.status_code == 403
    assert "API token cannot" in r.json()["detail"]
    assert len(rows(client)) == 1
    # It may list and revoke (a script cleaning up after itself).
    assert client.get("/api/tokens", headers=bearer(token)).status_code == 200


def test_expired_token_is_refused(client, user) -> None:
    made = create(client, user.headers, expires_in_days=1).json()
    with client.app.state.db.session() as session:
        session.get(ApiToken, made["id"]).expires_at = utcnow() - timedelta(seconds=1)
        session.commit()
    r = client.get("/api/auth/me", headers=bearer(made["token"]))
    assert r.status_code == 401
    assert r.json() == {"detail": "API token expired; create a new one"}
    assert client.get("/api/tokens", headers=user.headers).json()[0]["active"] is False


def test_tampered_unknown_and_disabled_tokens_are_refused(client, user) -> None:
    token = create(client, user.headers).json()["token"]
    last = "A" if token[-1] != "A" else "B"
    for bad in (token[:-1] + last, "ss_" + "x" * 43, "ss_"):
        r = client.get("/api/auth/me", headers=bearer(bad))
        assert (r.status_code, r.json()) == (401, {"detail": "invalid API token"}), bad
    with client.app.state.db.session() as session:
        session.get(User, user.id).is_active = False
        session.commit()
    r = client.get("/api/auth/me", headers=bearer(token))
    assert (r.status_code, r.json()) == (401, {"detail": "invalid API token"})


def test_api_tokens_are_not_accepted_in_the_url(client, user) -> None:
    token = create(client, user.headers).json()["token"]
    r = client.get("/api/auth/me", params={"access_token": token})
    assert r.status_code == 401
    assert "only in the Authorization header" in r.json()["detail"]


def test_another_users_token_is_not_found(client, user, make_user) -> None:
    made = create(client, user.headers).json()
    other = make_user()
    r = client.delete(f"/api/tokens/{made['id']}", headers=other.headers)
    assert (r.status_code, r.json()) == (404, {"detail": "API token not found"})
    assert client.get("/api/tokens", headers=other.headers).json() == []
    assert client.get("/api/auth/me", headers=bearer(made["token"])).json()["id"] == user.id


def test_bad_requests_store_nothing(client, user) -> None:
    for body, field in (
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "ok", "expires_in_days": 0}, "expires_in_days"),
        ({}, "name"),
    ):
        r = client.post("/api/tokens", json=body, headers=user.headers)
        assert r.status_code == 422, body
        assert r.json()["detail"].startswith(f"{field}: ")
    r = create(client, user.headers, name="   ")
    assert r.status_code == 422 and r.json()["detail"].startswith("name: ")
    assert rows(client) == []


def test_lifetime_and_count_limits_are_settings(make_client) -> None:
    client = make_client(api_token_max_days=7, api_tokens_max_per_user=2)
    client.post("/api/auth/register", json={"email": "a@example.com", "password": "tidal organ 9"})
    login = client.post(
        "/api/auth/login", json={"email": "a@example.com", "password": "tidal organ 9"}
    )
    headers = bearer(login.json()["access_token"])
    r = create(client, headers, expires_in_days=8)
    assert r.status_code == 422
    assert r.json()["detail"] == (
        "expires_in_days: must be between 1 and 7 (or null for a token that does not expire)"
    )
    first = create(client, headers).json()
    assert create(client, headers).status_code == 201
    r = create(client, headers)
    assert r.status_code == 409 and "already have 2 active API tokens" in r.json()["detail"]
    # A revoked token frees its place.
    client.delete(f"/api/tokens/{first['id']}", headers=headers)
    assert create(client, headers).status_code == 201


def test_token_needs_login(client) -> None:
    assert client.post("/api/tokens", json={"name": "x"}).status_code == 401
    assert client.get("/api/tokens").status_code == 401
