"""Fixtures shared by the platform tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from soundstage.config import Settings
from soundstage.platform.accounts import User
from soundstage.platform.db import Database
from soundstage.platform.jobs import EmbeddedRunner
from soundstage.platform.storage import open_storage


@pytest.fixture
def owner(db: Database) -> str:
    """A user (a bare row: no password to check) to own jobs, on the test's database."""
    with db.session() as session:
        user = User(email="owner@example.com", password_hash="x")
        session.add(user)
        session.commit()
        return user.id


@pytest.fixture
def runner_factory(db: Database, settings: Settings) -> Iterator[Callable[..., EmbeddedRunner]]:
    runners: list[EmbeddedRunner] = []

    def _make(workers: int = 1) -> EmbeddedRunner:
        storage = open_storage(settings)  # local files, or S3 with SOUNDSTAGE_TEST_STORAGE
        runner = EmbeddedRunner(db, settings, storage, workers=workers, poll_interval_s=0.05)
        runners.append(runner)
        return runner

    yield _make
    for runner in runners:
        runner.stop()
