"""No credit is spent twice: 50 concurrent charges against a balance that pays for exactly 10,
on SQLite and PostgreSQL, through the service and through HTTP (job retries re-charge).

Threads start together at a barrier; each has its own session (and, over HTTP, its own
connection to a real uvicorn server). Nothing here measures time.
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from soundstage.config import Settings
from soundstage.platform.accounts.models import User
from soundstage.platform.accounts.service import create_access_token
from soundstage.platform.billing import service
from soundstage.platform.billing.models import LedgerKind
from soundstage.platform.db import Database
from soundstage.platform.jobs import Job, JobState, register_job_type, submit_job, transition
from tests.platform.billing.conftest import assert_ledger_consistent
from tests.providers.loopback import LoopbackServer

REQUESTS = 50
AFFORDABLE = 10
COST = 3


def _balance_of(db: Database, settings: Settings, user_id: str, credits: int) -> None:
    """Bring the user's balance to exactly `credits` with an adjustment."""
    with db.session() as session:
        current = service.balance(session, user_id, settings)
        if current != credits:
            service.adjust(session, user_id, credits - current, "test setup", user_id, settings)
        session.commit()


def test_concurrent_charges_through_the_service(db: Database, settings: Settings, new_user):
    user_id = new_user()
    _balance_of(db, settings, user_id, AFFORDABLE * COST)
    barrier = threading.Barrier(REQUESTS)

    def charge(i: int) -> str:
        barrier.wait()
        with db.session() as session:
            try:
                service.charge_job(
                    session, settings, user_id, COST, job_id=f"job-{i}", description=f"#{i}"
                )
                session.commit()
                return "accepted"
            except service.InsufficientCredits:
                session.rollback()
                return "refused"

    with ThreadPoolExecutor(REQUESTS) as pool:
        outcomes = Counter(pool.map(charge, range(REQUESTS)))
    assert outcomes == {"accepted": AFFORDABLE, "refused": REQUESTS - AFFORDABLE}
    with db.session() as session:
        assert service.balance(session, user_id) == 0
        deductions = session.scalars(service.ledger_query(user_id, LedgerKind.DEDUCTION)).all()
        assert len(deductions) == AFFORDABLE
    assert_ledger_consistent(db, user_id)


class AppServer(LoopbackServer):
    """The real app on uvicorn, over the test's database (already migrated; no job runner)."""

    name = "Soundstage"

    def __init__(self, settings: Settings) -> None:
        from soundstage.app import create_app

        self.app = create_app(settings)


def _failed_and_refunded_jobs(db: Database, settings: Settings, user_id: str) -> list[str]:
    """REQUESTS jobs that were charged COST each, then failed and got their credits back."""
    register_job_type("billing_test.http", lambda ctx, payload: None)
    _balance_of(db, settings, user_id, REQUESTS * COST)
    job_ids = []
    with db.session() as session:
        for i in range(REQUESTS):
            job = submit_job(session, "billing_test.http", user_id, {"i": i})
            service.charge_job(session, settings, user_id, COST, job_id=job.id, description="t")
            transition(session, job, JobState.RUNNING)
            transition(session, job, JobState.FAILED, "boom")  # the job rules refund it
            job_ids.append(job.id)
        session.commit()
        assert service.balance(session, user_id) == REQUESTS * COST
    return job_ids


def test_concurrent_charges_through_http_job_retries(
    db: Database, settings: Settings, new_user
) -> None:
    """50 simultaneous POST /api/jobs/{id}/retry: each retry re-charges its job; 10 are paid."""
    user_id = new_user()
    job_ids = _failed_and_refunded_jobs(db, settings, user_id)
    _balance_of(db, settings, user_id, AFFORDABLE * COST)
    app_settings = settings.model_copy(update={"database_url": db.url})
    with db.session() as session:
        token = create_access_token(app_settings, session.get(User, user_id))
    barrier = threading.Barrier(REQUESTS)

    with AppServer(app_settings) as server:
        base = f"http://127.0.0.1:{server.port}"

        def retry(job_id: str) -> int:
            with httpx.Client(base_url=base, timeout=120) as http:
                barrier.wait()
                r = http.post(
                    f"/api/jobs/{job_id}/retry", headers={"Authorization": f"Bearer {token}"}
                )
                if r.status_code == 402:
                    assert "not enough credits" in r.json()["detail"]
                return r.status_code

        with ThreadPoolExecutor(REQUESTS) as pool:
            codes = Counter(pool.map(retry, job_ids))
        server.app.state.db.dispose()

    assert codes == {200: AFFORDABLE, 402: REQUESTS - AFFORDABLE}, codes
    with db.session() as session:
        assert service.balance(session, user_id) == 0
        states = Counter(session.get(Job, job_id).state for job_id in job_ids)
        assert states == {"queued": AFFORDABLE, "failed": REQUESTS - AFFORDABLE}
        for job_id in job_ids:
            charged = service.outstanding_charge(session, job_id) is not None
            assert charged == (session.get(Job, job_id).state == "queued")
    assert_ledger_consistent(db, user_id)


@pytest.mark.parametrize("kind", ["refund", "purchase"])
def test_concurrent_duplicates_credit_once(
    db: Database, settings: Settings, new_user, kind: str
) -> None:
    """The same refund, or the same Stripe payment, raced 20 times: credited once."""
    user_id = new_user()
    with db.session() as session:
        service.charge_job(session, settings, user_id, 7, job_id="race", description="t")
        session.commit()
    barrier = threading.Barrier(20)

    def once(i: int) -> bool:
        barrier.wait()
        with db.session() as session:
            if kind == "refund":
                done = service.refund_job(session, "race") is not None
            else:
                _, done = service.record_purchase(
                    session, user_id, 300, f"evt_{i}", None, checkout_session_id="cs_race",
                    settings=settings,
                )  # fmt: skip
            session.commit()
            return done

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(once, range(20)))
    assert results.count(True) == 1
    expected = 400 if kind == "refund" else 400 - 7 + 300
    with db.session() as session:
        assert service.balance(session, user_id) == expected
    assert_ledger_consistent(db, user_id)
