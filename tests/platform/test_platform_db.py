"""Database layer: migrations, timestamps, SQLite pragmas (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError, StatementError

from soundstage.platform.accounts.models import User
from soundstage.platform.db import (
    Base,
    Database,
    current_revisions,
    head_revisions,
    make_engine,
    upgrade,
)
from soundstage.platform.models import import_platform_models

PLATFORM_TABLES = {"users", "refresh_tokens", "jobs", "job_events"}


def test_upgrade_creates_tables_and_is_idempotent(db_url: str) -> None:
    assert current_revisions(db_url) == set()
    upgrade(db_url)
    tables = set(inspect(make_engine(db_url, pooled=False)).get_table_names())
    assert tables >= PLATFORM_TABLES | {"alembic_version"}
    assert current_revisions(db_url) == head_revisions()
    upgrade(db_url)  # second run: nothing to do
    assert current_revisions(db_url) == head_revisions()
    assert set(inspect(make_engine(db_url, pooled=False)).get_table_names()) == tables


def test_models_match_migrations(db: Database) -> None:
    """Autogenerate finds nothing to add: the shipped migrations match the models."""
    import_platform_models()
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    ours = [d for d in diff if "alembic_version" not in str(d)]
    assert ours == []


def test_timestamps_are_utc_aware(db: Database) -> None:
    local = datetime(2030, 1, 2, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    with db.session() as session:
        user = User(email="tz@example.com", password_hash="x", created_at=local)
        session.add(user)
        session.commit()
        user_id = user.id
    with db.session() as session:
        loaded = session.get(User, user_id)
        assert loaded is not None
        assert loaded.created_at.tzinfo is not None
        assert loaded.created_at == local
        assert loaded.created_at.astimezone(UTC).hour == 10


def test_naive_datetimes_are_refused(db: Database) -> None:
    with db.session() as session:
        session.add(
            User(email="naive@example.com", password_hash="x", created_at=datetime(2030, 1, 1))
        )
        with pytest.raises(StatementError, match="naive datetime"):
            session.commit()


def test_sqlite_pragmas(tmp_path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'p.db'}")
    with database.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() >= 5000
    database.dispose()


def test_foreign_keys_enforced(db: Database) -> None:
    from soundstage.platform.jobs.models import Job

    with db.session() as session:
        session.add(Job(type="x", owner_id="no-such-user"))
        with pytest.raises(IntegrityError, match=r"(?i)foreign key"):
            session.commit()


def test_ping(db: Database) -> None:
    assert db.ping()
    with db.session() as session:
        assert session.scalar(select(1)) == 1


WORKFLOW_REVISION = """
import sqlalchemy as sa
from alembic import op

revision = "0100_demo"
down_revision = "0001_platform"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("demo_tracks", sa.Column("id", sa.String(32), primary_key=True))


def downgrade():
    op.drop_table("demo_tracks")
"""


def test_workflow_migration_folders_are_found(tmp_path, monkeypatch) -> None:
    """A workflow can keep revisions in workflows/<name>/migrations/versions."""
    from soundstage.platform.db import migrate

    versions = tmp_path / "workflows" / "demo" / "migrations" / "versions"
    versions.mkdir(parents=True)
    (versions / "0100_demo.py").write_text(WORKFLOW_REVISION)
    monkeypatch.setattr(migrate, "WORKFLOWS_DIR", tmp_path / "workflows")
    url = f"sqlite:///{tmp_path / 'wf.db'}"
    upgrade(url)
    assert "0100_demo" in current_revisions(url)
    assert "demo_tracks" in inspect(make_engine(url, pooled=False)).get_table_names()
