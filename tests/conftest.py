"""Shared fixtures: isolated settings, the real app with a TestClient, users, databases.

Every test gets its own data folder (SQLite database, files) under tmp_path.
PostgreSQL fixtures use a throwaway database on 127.0.0.1:5432 (user postgres);
they skip when the server is unreachable, except under CI=true, where they fail.
SOUNDSTAGE_TEST_STORAGE=s3 stores every test app's files in S3 (a moto server on loopback).
SOUNDSTAGE_TEST_DATABASE=postgres gives every test app its own throwaway PostgreSQL database.
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, event, inspect, text

from soundstage.config import Settings
from soundstage.platform.accounts import passwords
from soundstage.platform.db import Database, make_engine, upgrade

with warnings.catch_warnings():
    # Starlette warns that its TestClient will move from httpx to httpx2.
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

TEST_SECRET = "test-secret-key-that-is-long-enough-for-hs256"
PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3"


@pytest.fixture(autouse=True)
def fast_password_hashing() -> Iterator[None]:
    """Cheap argon2 parameters: the real ones cost ~0.1 s per hash."""
    previous = passwords._hasher
    passwords.use_hasher(PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))
    yield
    passwords.use_hasher(previous)


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    """Settings that ignore the environment's .env, with a fixed secret and fast retries."""
    values: dict[str, object] = {
        "data_dir": data_dir,
        "database_url": None,
        "secret_key": TEST_SECRET,
        "job_retry_base_s": 0.05,
    }
    values.update(storage_overrides(data_dir))
    values.update(database_overrides(data_dir))
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


# -- storage backend -------------------------------------------------------------
# SOUNDSTAGE_TEST_STORAGE=s3 runs the suite's apps on S3: a moto server on loopback
# (tests/s3.py), one key prefix per data folder. Unset or "local": data_dir/files.

TEST_STORAGE = os.environ.get("SOUNDSTAGE_TEST_STORAGE", "local").strip().lower() or "local"


def storage_overrides(data_dir: Path) -> dict[str, object]:
    """Settings values for the storage backend SOUNDSTAGE_TEST_STORAGE asks for."""
    if TEST_STORAGE == "local":
        return {}
    if TEST_STORAGE != "s3":
        raise ValueError(f"SOUNDSTAGE_TEST_STORAGE is local or s3, not {TEST_STORAGE!r}")
    from tests.s3 import prefix_for, shared_server

    # App links (/api/files/...), not presigned S3 URLs: a TestClient only reaches the app.
    # tests/platform/test_platform_storage_s3.py covers presigned links.
    return shared_server().overrides(prefix_for(data_dir), presigned_links=False)


def stored_files(storage, prefix: str = "") -> list[str]:
    """Every key under `prefix`, plus `(temp) <name>` for any temporary file the backend
    keeps locally (LocalStorage's files/.tmp, S3Storage's cache .tmp): what a request that
    must store nothing has to leave empty, on either backend."""
    tmp_root = storage.tmp_root if hasattr(storage, "tmp_root") else storage.cache.tmp_root
    temps = sorted(p.name for p in tmp_root.rglob("*") if p.is_file()) if tmp_root.is_dir() else []
    return storage.list_keys(prefix) + [f"(temp) {name}" for name in temps]


@pytest.fixture(scope="session")
def s3_server():
    """The moto S3 server of this test process (tests/s3.py), started on first use."""
    from tests.s3 import shared_server

    return shared_server()


@pytest.fixture(scope="session", autouse=True)
def _stop_s3_server() -> Iterator[None]:
    yield
    if "tests.s3" in sys.modules:
        sys.modules["tests.s3"].stop_shared_server()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data")


@pytest.fixture
def app(settings: Settings):
    from soundstage.app import create_app  # imported here so media tests never need the app

    return create_app(settings)


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    """A TestClient with the app's lifespan running (migrations, job runner)."""
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[Callable[..., TestClient]]:
    """Start apps with settings overrides (own data folder unless `data_dir=` is given)."""
    clients: list[TestClient] = []

    from soundstage.app import create_app

    def _make(*, raise_server_exceptions: bool = True, **overrides: object) -> TestClient:
        overrides.setdefault("data_dir", tmp_path / f"app-{len(clients)}")
        app_settings = make_settings(**overrides)  # type: ignore[arg-type]
        test_client = TestClient(
            create_app(app_settings), raise_server_exceptions=raise_server_exceptions
        )
        test_client.__enter__()
        clients.append(test_client)
        return test_client

    yield _make
    for test_client in reversed(clients):
        test_client.__exit__(None, None, None)


@dataclass
class ApiUser:
    id: str
    email: str
    password: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


@pytest.fixture
def make_user(client: TestClient) -> Callable[..., ApiUser]:
    """Register and log in a user through the API."""

    def _make(email: str | None = None, password: str = "password-123") -> ApiUser:
        email = email or f"user-{uuid.uuid4().hex[:8]}@example.com"
        r = client.post("/api/auth/register", json={"email": email, "password": password})
        assert r.status_code == 201, r.text
        tokens = client.post("/api/auth/login", json={"email": email, "password": password})
        assert tokens.status_code == 200, tokens.text
        body = tokens.json()
        return ApiUser(r.json()["id"], email, password, body["access_token"], body["refresh_token"])

    return _make


@pytest.fixture
def user(make_user: Callable[..., ApiUser]) -> ApiUser:
    return make_user()


@pytest.fixture
def auth_headers(user: ApiUser) -> dict[str, str]:
    return user.headers


# -- PostgreSQL ----------------------------------------------------------------


def _postgres_admin():
    """An autocommit connection to the server's `postgres` database, or skip/fail."""
    try:
        import psycopg

        return psycopg.connect(PG_ADMIN_DSN, autocommit=True)
    except Exception as exc:
        reason = f"PostgreSQL not reachable at 127.0.0.1:5432 as user postgres ({exc})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI=true requires the PostgreSQL tests to run")
        pytest.skip(reason)


def _create_database(admin) -> str:
    name = f"soundstage_test_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    return name


def _pg_url(name: str) -> str:
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A SQLAlchemy URL of a fresh, empty, uniquely named database, dropped afterwards."""
    admin = _postgres_admin()
    name = _create_database(admin)
    try:
        yield _pg_url(name)
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(scope="session")
def _postgres_session_db() -> Iterator[str]:
    """One migrated PostgreSQL database for the session (creating one costs ~0.5 s)."""
    admin = _postgres_admin()
    name = _create_database(admin)
    try:
        upgrade(_pg_url(name))
        yield _pg_url(name)
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def migrated_postgres_url(_postgres_session_db: str) -> str:
    """The session's migrated PostgreSQL database, emptied of rows for this test."""
    engine = make_engine(_postgres_session_db, pooled=False)
    try:
        with engine.begin() as conn:
            tables = [name for name in inspect(conn).get_table_names() if name != "alembic_version"]
            if tables:
                conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    finally:
        engine.dispose()
    return _postgres_session_db


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """Tests using `db_url` or `db` run once on SQLite and once on PostgreSQL."""
    return request.param


@pytest.fixture
def db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database (not migrated)."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def db(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated Database (SQLite file in tmp_path, or a PostgreSQL clone)."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'test.db'}"
        upgrade(url)
    else:
        url = request.getfixturevalue("migrated_postgres_url")
    database = Database(url)
    yield database
    database.dispose()


# -- database backend ------------------------------------------------------------
# SOUNDSTAGE_TEST_DATABASE=postgres runs the suite's apps on PostgreSQL: every data folder
# gets its own database (an app restarted on the same folder finds its rows), created on
# its first connection as a copy of one template migrated per session, and dropped when
# the test ends. Unset or "sqlite": data_dir/soundstage.db.

TEST_DATABASE = os.environ.get("SOUNDSTAGE_TEST_DATABASE", "sqlite").strip().lower() or "sqlite"
APP_DATABASE_PREFIX = "soundstage_test_app_"


class ThrowawayDatabases:
    """PostgreSQL databases for test apps, one per data folder, created on first connection.

    `url_for` only names a database; a SQLAlchemy `do_connect` listener creates it (a copy
    of the migrated template: CREATE DATABASE is ~30 ms, migrating ~1 s) when an engine
    first connects to it, so tests that never open the database cost nothing.
    """

    def __init__(self, admin) -> None:
        self._admin = admin
        self._lock = threading.Lock()
        self._named: set[str] = set()
        self._created: list[str] = []
        self.template = _create_database(admin)
        try:
            upgrade(_pg_url(self.template))  # migrations run on PostgreSQL once per session
        except BaseException:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)')
            raise
        event.listen(Engine, "do_connect", self._create_on_first_connect)

    def url_for(self, data_dir: Path) -> str:
        digest = hashlib.sha256(str(Path(data_dir).resolve()).encode()).hexdigest()[:16]
        name = APP_DATABASE_PREFIX + digest
        with self._lock:
            self._named.add(name)
        return _pg_url(name)

    def _create_on_first_connect(self, _dialect, _record, _cargs, cparams: dict) -> None:
        name = cparams.get("dbname")
        if name not in self._named:
            return
        with self._lock:
            if name in self._created:
                return
            # A database of this name can only be left over from a killed run.
            self._admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            self._admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
            self._created.append(name)

    def drop_created(self) -> None:
        """Drop every database handed out so far (their apps have stopped)."""
        with self._lock:
            for name in self._created:
                self._admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            self._created.clear()
            self._named.clear()

    def close(self) -> None:
        event.remove(Engine, "do_connect", self._create_on_first_connect)
        self.drop_created()
        self._admin.execute(f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)')
        self._admin.close()


_throwaway: ThrowawayDatabases | None = None


def database_overrides(data_dir: Path) -> dict[str, object]:
    """Settings values for the database SOUNDSTAGE_TEST_DATABASE asks for."""
    global _throwaway
    if TEST_DATABASE == "sqlite":
        return {}
    if TEST_DATABASE != "postgres":
        raise ValueError(f"SOUNDSTAGE_TEST_DATABASE is sqlite or postgres, not {TEST_DATABASE!r}")
    if _throwaway is None:
        _throwaway = ThrowawayDatabases(_postgres_admin())  # skips (fails under CI) if down
    return {"database_url": _throwaway.url_for(data_dir)}


@pytest.fixture(autouse=True)
def _drop_throwaway_databases() -> Iterator[None]:
    """After each test (its apps stopped), drop the databases its apps used."""
    yield
    if _throwaway is not None:
        _throwaway.drop_created()


@pytest.fixture(scope="session", autouse=True)
def _close_throwaway_databases() -> Iterator[None]:
    global _throwaway
    yield
    if _throwaway is not None:
        _throwaway.close()
        _throwaway = None
