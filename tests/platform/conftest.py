"""Fixtures shared by the platform tests."""

from __future__ import annotations

import pytest

from soundstage.platform.accounts import User
from soundstage.platform.db import Database


@pytest.fixture
def owner(db: Database) -> str:
    """A user (a bare row: no password to check) to own jobs, on the test's database."""
    with db.session() as session:
        user = User(email="owner@example.com", password_hash="x")
        session.add(user)
        session.commit()
        return user.id
