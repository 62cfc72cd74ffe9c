"""Billing fixtures: users straight in the database, a fake Stripe, apps configured for it,
and the ledger invariant every test can assert."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from soundstage.config import Settings
from soundstage.platform.accounts.models import User
from soundstage.platform.accounts.service import create_user
from soundstage.platform.billing import service
from soundstage.platform.billing.models import CreditAccount, LedgerEntry
from soundstage.platform.db import Database
from tests.conftest import ApiUser, make_settings
from tests.providers.fake_stripe import FakeStripe

PASSWORD = "billing-test-passphrase-7"


@pytest.fixture(autouse=True)
def _job_rules() -> None:
    """Refund and re-charge rules on job transitions (the app installs them at creation)."""
    service.install_job_rules()


@pytest.fixture
def new_user(db: Database) -> Callable[..., str]:
    """A user row (no credit account yet); returns its id."""

    def _make(role: str = "user") -> str:
        with db.session() as session:
            user = User(
                email=f"u-{uuid.uuid4().hex[:10]}@example.com", password_hash="x", role=role
            )
            session.add(user)
            session.commit()
            return user.id

    return _make


def assert_ledger_consistent(db: Database, user_id: str) -> None:
    """The sum of the ledger is the balance, and every balance_after is the running sum."""
    with db.session() as session:
        account = session.get(CreditAccount, user_id)
        entries = session.scalars(
            select(LedgerEntry).where(LedgerEntry.user_id == user_id).order_by(LedgerEntry.id)
        ).all()
        running = 0
        for entry in entries:
            running += entry.amount
            assert entry.balance_after == running, (entry.id, entry.kind, entry.balance_after)
        assert account is not None
        assert service.ledger_sum(session, user_id) == running == account.balance


@pytest.fixture(scope="session")
def fake_stripe_server() -> Iterator[FakeStripe]:
    with FakeStripe(secret_key="sk_test_billing", webhook_secret="whsec_billing") as fake:
        yield fake


@pytest.fixture
def fake_stripe(fake_stripe_server: FakeStripe) -> FakeStripe:
    fake_stripe_server.requests.clear()
    return fake_stripe_server


def stripe_overrides(fake: FakeStripe) -> dict[str, object]:
    return {
        "stripe_secret_key": fake.secret_key,
        "stripe_webhook_secret": fake.webhook_secret,
        "stripe_api_base": fake.base_url,
        "stripe_timeout_s": 10.0,
    }


@pytest.fixture
def settings(tmp_path: Path, fake_stripe: FakeStripe) -> Settings:
    """The app's settings, with payments through the fake Stripe and no rate limits."""
    return make_settings(
        tmp_path / "data", rate_limit_enabled=False, **stripe_overrides(fake_stripe)
    )


@pytest.fixture
def make_admin(client) -> Callable[[], ApiUser]:
    """An administrator, created in the database and logged in through the API."""

    def _make() -> ApiUser:
        email = f"admin-{uuid.uuid4().hex[:8]}@example.com"
        with client.app.state.db.session() as session:
            admin = create_user(session, email, PASSWORD, role="admin")
        r = client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
        assert r.status_code == 200, r.text
        body = r.json()
        return ApiUser(admin.id, email, PASSWORD, body["access_token"], body["refresh_token"])

    return _make


@pytest.fixture
def make_user_on() -> Callable[..., ApiUser]:
    """Register and log in a user on a given test client (for apps from `make_client`)."""

    def _make(client) -> ApiUser:
        email = f"user-{uuid.uuid4().hex[:8]}@example.com"
        r = client.post("/api/auth/register", json={"email": email, "password": PASSWORD})
        assert r.status_code == 201, r.text
        tokens = client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
        assert tokens.status_code == 200, tokens.text
        body = tokens.json()
        return ApiUser(r.json()["id"], email, PASSWORD, body["access_token"], body["refresh_token"])

    return _make
