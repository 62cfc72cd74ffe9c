"""Administration: list and search users, change roles, disable accounts; admins only."""

from __future__ import annotations

from soundstage.platform.jobs.models import Job


def test_non_admins_get_403_everywhere(client, user, admin) -> None:
    for method, path, body in (
        ("GET", "/api/admin/users", None),
        ("GET", f"/api/admin/users/{admin.id}", None),
        ("PATCH", f"/api/admin/users/{admin.id}", {"role": "user"}),
    ):
        r = client.request(method, path, json=body, headers=user.headers)
        assert r.status_code == 403, path
        assert r.json() == {"detail": "this needs an administrator account"}
    assert client.get("/api/admin/users").status_code == 401


def test_list_search_and_paginate(client, admin, make_user) -> None:
    for name in ("ada", "grace", "alan"):
        make_user(email=f"{name}@example.com")
    r = client.get("/api/admin/users", headers=admin.headers)
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 4
    assert [u["email"] for u in body["items"]] == [
        "root@example.com",
        "ada@example.com",
        "grace@example.com",
        "alan@example.com",
    ]
    r = client.get("/api/admin/users", params={"q": "A", "page_size": 1}, headers=admin.headers)
    # "a" is in ada, grace, alan and example.com: every email; one per page.
    assert r.json()["total"] == 4 and len(r.json()["items"]) == 1
    r = client.get("/api/admin/users", params={"q": "GRA"}, headers=admin.headers)
    assert [u["email"] for u in r.json()["items"]] == ["grace@example.com"]
    r = client.get("/api/admin/users", params={"role": "admin"}, headers=admin.headers)
    assert [u["email"] for u in r.json()["items"]] == ["root@example.com"]
    r = client.get("/api/admin/users", params={"q": "%"}, headers=admin.headers)
    assert r.json()["total"] == 0  # LIKE wildcards are matched literally


def test_job_counts(client, admin, user) -> None:
    with client.app.state.db.session() as session:
        for _ in range(3):
            session.add(Job(type="x", owner_id=user.id, state="completed", payload={}))
        session.commit()
    r = client.get(f"/api/admin/users/{user.id}", headers=admin.headers)
    assert r.json()["job_count"] == 3
    items = client.get("/api/admin/users", headers=admin.headers).json()["items"]
    assert {u["email"]: u["job_count"] for u in items} == {admin.email: 0, user.email: 3}


def test_promote_disable_and_enable(client, admin, user) -> None:
    r = client.patch(f"/api/admin/users/{user.id}", json={"role": "admin"}, headers=admin.headers)
    assert r.status_code == 200 and r.json()["role"] == "admin"
    assert client.get("/api/admin/users", headers=user.headers).status_code == 200

    r = client.patch(
        f"/api/admin/users/{user.id}", json={"is_active": False}, headers=admin.headers
    )
    assert r.json()["is_active"] is False
    # Disabled: the access token, new logins and refreshes all stop at once.
    assert client.get("/api/auth/me", headers=user.headers).status_code == 401
    login = {"email": user.email, "password": user.password}
    assert client.post("/api/auth/login", json=login).status_code == 401
    refresh = {"refresh_token": user.refresh_token}
    assert client.post("/api/auth/refresh", json=refresh).status_code == 401

    client.patch(f"/api/admin/users/{user.id}", json={"is_active": True}, headers=admin.headers)
    assert client.post("/api/auth/login", json=login).status_code == 200


def test_admins_cannot_demote_or_disable_themselves(client, admin) -> None:
    for body in ({"role": "user"}, {"is_active": False}):
        r = client.patch(f"/api/admin/users/{admin.id}", json=body, headers=admin.headers)
        assert r.status_code == 409, body
        assert "yourself" in r.json()["detail"] or "your own" in r.json()["detail"]
    me = client.get("/api/auth/me", headers=admin.headers).json()
    assert (me["role"], me["is_active"]) == ("admin", True)
    # Re-affirming their own role is harmless.
    r = client.patch(f"/api/admin/users/{admin.id}", json={"role": "admin"}, headers=admin.headers)
    assert r.status_code == 200


def test_bad_patches(client, admin, user) -> None:
    r = client.patch(f"/api/admin/users/{user.id}", json={"role": "owner"}, headers=admin.headers)
    assert r.status_code == 422 and r.json()["detail"].startswith("role: ")
    r = client.patch("/api/admin/users/nobody", json={"role": "user"}, headers=admin.headers)
    assert (r.status_code, r.json()) == (404, {"detail": "user not found"})
    r = client.get("/api/admin/users", params={"role": "owner"}, headers=admin.headers)
    assert r.status_code == 422
