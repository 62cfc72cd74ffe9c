"""Fixtures for account tests: an administrator next to the ordinary `user`."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from soundstage.platform.accounts.models import User
from tests.conftest import ApiUser


def promote(client, user_id: str, role: str = "admin") -> None:
    with client.app.state.db.session() as session:
        session.get(User, user_id).role = role
        session.commit()


@pytest.fixture
def admin(client, make_user: Callable[..., ApiUser]) -> ApiUser:
    """A user made administrator in the database (its access token stays valid)."""
    account = make_user(email="root@example.com")
    promote(client, account.id)
    return account
