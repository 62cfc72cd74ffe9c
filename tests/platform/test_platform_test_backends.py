"""The suite's own switches: SOUNDSTAGE_TEST_DATABASE and SOUNDSTAGE_TEST_STORAGE really apply.

Without these checks a broken switch would quietly rerun SQLite + local files and call it
a PostgreSQL + S3 run.
"""

from __future__ import annotations

from tests.conftest import TEST_DATABASE, TEST_STORAGE


def test_apps_use_the_database_the_environment_asks_for(client) -> None:
    db = client.app.state.db
    expected = {"sqlite": "sqlite", "postgres": "postgresql"}[TEST_DATABASE]
    assert db.dialect == expected
    assert client.get("/healthz").json()["status"] == "ok"


def test_apps_use_the_storage_the_environment_asks_for(client) -> None:
    storage = client.app.state.storage
    expected = {"local": "LocalStorage", "s3": "S3Storage"}[TEST_STORAGE]
    assert type(storage).__name__ == expected
    storage.put_bytes("probe/backend.txt", b"ok")
    assert storage.list_keys("probe") == ["probe/backend.txt"]


def test_each_app_gets_its_own_database(make_client) -> None:
    first, second = make_client(), make_client()
    account = {"email": "solo@example.com", "password": "tidal organ 77"}
    r = first.post("/api/auth/register", json=account)
    assert r.status_code == 201, r.text
    assert first.post("/api/auth/login", json=account).status_code == 200
    assert second.post("/api/auth/login", json=account).status_code == 401
