"""Engine and session factory from a URL: SQLite (WAL) or PostgreSQL, same code."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

SQLITE_BUSY_TIMEOUT_MS = 30_000


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


@dataclass(frozen=True)
class PoolSettings:
    """Connections each process keeps to a server database (PostgreSQL), and how long a
    request waits for one; SQLAlchemy's defaults unless configured."""

    size: int = 5
    max_overflow: int = 10
    timeout_s: float = 30.0
    recycle_s: int = -1


def make_engine(
    url: str, *, foreign_keys: bool = True, pooled: bool = True, pool: PoolSettings | None = None
) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys, a busy timeout and IMMEDIATE writes.

    SQLite transactions start with BEGIN IMMEDIATE: a transaction that reads and
    then writes can otherwise fail at once with "database is locked" when another
    thread committed in between, which the busy timeout cannot help with.
    """
    kwargs: dict[str, Any] = {}
    if not pooled:
        kwargs["poolclass"] = NullPool
    if not is_sqlite(url):
        if pooled:
            pool = pool or PoolSettings()
            kwargs.update(pool_size=pool.size, max_overflow=pool.max_overflow,
                          pool_timeout=pool.timeout_s, pool_recycle=pool.recycle_s)  # fmt: skip
        return create_engine(url, pool_pre_ping=True, **kwargs)

    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        **kwargs,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        if make_url(url).database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute(f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class Database:
    """One engine and session factory for a database URL.

    Sessions do not expire objects on commit, so rows read in a short session
    stay usable after it closes.
    """

    def __init__(self, url: str, pool: PoolSettings | None = None) -> None:
        self.url = url
        self.engine = make_engine(url, pool=pool)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)

    @classmethod
    def from_settings(cls, settings: Any) -> Database:
        """The configured database (`database_url`, or SQLite in the data folder) and pool."""
        pool = PoolSettings(settings.db_pool_size, settings.db_max_overflow,
                            settings.db_pool_timeout_s, settings.db_pool_recycle_s)  # fmt: skip
        return cls(settings.resolved_database_url, pool)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def session(self) -> Session:
        """A new session; use it as a context manager and commit explicitly."""
        return self.sessionmaker()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session that commits when the block succeeds and rolls back otherwise."""
        with self.sessionmaker() as session, session.begin():
            yield session

    def ping(self) -> bool:
        """True when the database answers a trivial query."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    def dispose(self) -> None:
        self.engine.dispose()
