"""Credit rules on SQLite and PostgreSQL: accounts and the trial, charges, refunds, purchases,
adjustments, the database's own guard on the balance, and the ledger invariant."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from soundstage.config import Settings
from soundstage.platform.billing import service
from soundstage.platform.billing.models import CreditAccount, LedgerEntry, LedgerKind, Plan
from soundstage.platform.db import Database
from soundstage.platform.errors import AppError, Conflict, NotFound
from tests.platform.billing.conftest import assert_ledger_consistent


def entries(db: Database, user_id: str, kind: str | None = None) -> list[LedgerEntry]:
    with db.session() as session:
        return list(session.scalars(service.ledger_query(user_id, kind)))


def test_open_account_grants_the_trial_exactly_once(
    db: Database, settings: Settings, new_user: Callable[..., str]
) -> None:
    user_id = new_user()
    with db.session() as session:
        account = service.open_account(session, user_id, settings)
        session.commit()
        assert account.balance == 400
        assert account.plan == Plan.FREE and account.ppp_band == "HIGH"
        assert not account.solidarity_opt_in
        assert account.trial_expires_at is not None
        days = (account.trial_expires_at - account.created_at).days
        assert days == settings.trial_days
    for _ in range(3):
        with db.session() as session:
            assert service.open_account(session, user_id, settings).balance == 400
            session.commit()
    trial = entries(db, user_id, LedgerKind.TRIAL)
    assert [(e.amount, e.balance_after, e.idempotency_key) for e in trial] == [
        (400, 400, f"trial:{user_id}")
    ]
    assert_ledger_consistent(db, user_id)


def test_open_account_for_unknown_user_is_404(db: Database, settings: Settings) -> None:
    with db.session() as session, pytest.raises(NotFound, match="user not found"):
        service.open_account(session, "0" * 32, settings)


def test_trial_size_is_a_setting(db: Database, tmp_path, new_user) -> None:
    from tests.conftest import make_settings

    no_trial = make_settings(tmp_path / "x", trial_credits=0)
    user_id = new_user()
    with db.session() as session:
        account = service.open_account(session, user_id, no_trial)
        session.commit()
        assert account.balance == 0 and account.trial_expires_at is None
    assert entries(db, user_id) == []


def test_charge_refund_and_ledger(db: Database, settings: Settings, new_user) -> None:
    user_id = new_user()
    with db.session() as session:
        entry = service.charge_job(
            session, settings, user_id, 3, job_id="job-a", description="track, 90 s"
        )
        session.commit()
        assert (entry.kind, entry.amount, entry.balance_after) == ("DEDUCTION", -3, 397)
        assert entry.idempotency_key == "charge:job-a:1"
        assert entry.pricing_snapshot["credits"] == 3
        assert entry.pricing_snapshot["price"]["price_per_credit"] == "0.1232"
    with db.session() as session:
        with pytest.raises(Conflict, match="already charged"):
            service.charge_job(session, settings, user_id, 3, job_id="job-a", description="again")
        refund = service.refund_job(session, "job-a")
        session.commit()
        assert refund is not None and (refund.amount, refund.balance_after) == (3, 400)
        assert refund.idempotency_key == "refund:job-a:1"
    with db.session() as session:
        assert service.refund_job(session, "job-a") is None  # once only
        assert service.refund_job(session, "never-charged") is None
        assert service.balance(session, user_id, settings) == 400
    assert_ledger_consistent(db, user_id)


def test_insufficient_credits_is_402_with_numbers_and_changes_nothing(
    db: Database, settings: Settings, new_user
) -> None:
    user_id = new_user()
    with db.session() as session:
        service.charge_job(session, settings, user_id, 399, job_id=None, description="big")
        session.commit()
    with db.session() as session:
        with pytest.raises(service.InsufficientCredits) as caught:
            service.charge_job(session, settings, user_id, 2, job_id="job-b", description="x")
        assert caught.value.status == 402
        assert "needs 2, you have 1" in caught.value.message
        assert "/credits" in caught.value.message
        session.commit()  # the caller's transaction is still usable: nothing was written
    assert len(entries(db, user_id, LedgerKind.DEDUCTION)) == 1
    with db.session() as session:
        assert service.balance(session, user_id, settings) == 1
    assert_ledger_consistent(db, user_id)


@pytest.mark.parametrize("bad", [0, -5, 1.5, True])
def test_charge_refuses_non_positive_amounts(db, settings, new_user, bad) -> None:
    user_id = new_user()
    with db.session() as session, pytest.raises(AppError, match="positive whole number"):
        service.charge_job(session, settings, user_id, bad, job_id=None, description="x")


def test_database_refuses_a_negative_balance(db: Database, settings, new_user) -> None:
    """Belt and braces: even a bypassing UPDATE cannot take a balance below zero."""
    user_id = new_user()
    with db.session() as session:
        service.open_account(session, user_id, settings)
        session.commit()
    with db.session() as session, pytest.raises(IntegrityError):
        session.execute(
            update(CreditAccount).where(CreditAccount.user_id == user_id).values(balance=-1)
        )
        session.flush()


def test_external_id_and_keys_are_unique_in_the_database(db, settings, new_user) -> None:
    user_id = new_user()
    with db.session() as session:
        service.open_account(session, user_id, settings)
        session.commit()
    with db.session() as session:
        for _ in range(2):
            entry = {"kind": "PURCHASE", "amount": 1, "balance_after": 1}
            session.add(LedgerEntry(user_id=user_id, external_id="evt_same", **entry))
        with pytest.raises(IntegrityError):
            session.flush()


def test_record_purchase_is_idempotent_on_event_and_session(db, settings, new_user) -> None:
    user_id = new_user()
    with db.session() as session:
        first, created = service.record_purchase(
            session, user_id, 300, "evt_1", {"amount_total": 3696},
            checkout_session_id="cs_1", settings=settings,
        )  # fmt: skip
        session.commit()
        assert created and first.balance_after == 700
    with db.session() as session:
        again, created = service.record_purchase(
            session, user_id, 300, "evt_1", {}, checkout_session_id="cs_1", settings=settings
        )
        assert not created and again.id == first.id
        other_event, created = service.record_purchase(
            session, user_id, 300, "evt_2", {}, checkout_session_id="cs_1", settings=settings
        )
        assert not created and other_event.id == first.id
        session.commit()
    with db.session() as session:
        account = service.open_account(session, user_id, settings)
        assert account.balance == 700
        assert account.plan == Plan.PRO  # a purchase lifts the free plan's limits
    assert len(entries(db, user_id, LedgerKind.PURCHASE)) == 1
    assert_ledger_consistent(db, user_id)


def test_purchase_keeps_an_enterprise_plan(db, settings, new_user) -> None:
    user_id = new_user()
    with db.session() as session:
        service.update_billing(session, user_id, plan="ENTERPRISE", settings=settings)
        service.record_purchase(session, user_id, 300, "evt_e", None, settings=settings)
        session.commit()
        assert service.open_account(session, user_id).plan == Plan.ENTERPRISE


def test_adjust_up_down_and_never_below_zero(db, settings, new_user) -> None:
    user_id, admin_id = new_user(), new_user("admin")
    with db.session() as session:
        up = service.adjust(session, user_id, 50, "goodwill", admin_id, settings)
        down = service.adjust(session, user_id, -450, "correction", admin_id, settings)
        session.commit()
        assert (up.balance_after, down.balance_after) == (450, 0)
        assert up.actor_id == admin_id and up.note == "goodwill"
    with db.session() as session:
        with pytest.raises(Conflict, match="below zero: the balance is 0, the adjustment -1"):
            service.adjust(session, user_id, -1, "too far", admin_id, settings)
        with pytest.raises(AppError, match="non-zero"):
            service.adjust(session, user_id, 0, "nothing", admin_id, settings)
        with pytest.raises(AppError, match="say why"):
            service.adjust(session, user_id, 5, "  ", admin_id, settings)
    with pytest.raises(NotFound), db.session() as session:
        service.adjust(session, "f" * 32, 5, "ghost", admin_id, settings)
    assert len(entries(db, user_id, LedgerKind.ADJUSTMENT)) == 2
    assert_ledger_consistent(db, user_id)


def test_ledger_survives_as_history_of_every_change(db, settings, new_user) -> None:
    """A mixed sequence: every step is one row, and the invariant holds throughout."""
    user_id, admin_id = new_user(), new_user("admin")
    steps: list[Callable] = [
        lambda s: service.charge_job(s, settings, user_id, 2, job_id="j1", description="a"),
        lambda s: service.charge_job(s, settings, user_id, 5, job_id="j2", description="b"),
        lambda s: service.refund_job(s, "j1"),
        lambda s: service.record_purchase(s, user_id, 300, "evt_x", None, settings=settings),
        lambda s: service.adjust(s, user_id, -3, "fix", admin_id, settings),
        lambda s: service.charge_job(s, settings, user_id, 2, job_id="j1", description="a2"),
    ]
    for step in steps:
        with db.session() as session:
            step(session)
            session.commit()
        assert_ledger_consistent(db, user_id)
    with db.session() as session:
        assert service.balance(session, user_id) == 400 - 2 - 5 + 2 + 300 - 3 - 2
        count = session.scalar(select(func.count()).where(LedgerEntry.user_id == user_id))
        assert count == 1 + len(steps)
        keys = {e.idempotency_key for e in session.scalars(service.ledger_query(user_id))}
        assert {"charge:j1:1", "refund:j1:1", "charge:j1:2", "charge:j2:1"} <= keys
