"""Job rules through real jobs and the embedded runner: a paid job that fails or is cancelled
gets its credits back once; a manual retry charges it again (or is refused with 402);
completed jobs and transient retries keep exactly one charge."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from soundstage.config import Settings
from soundstage.platform.billing import service
from soundstage.platform.db import Database
from soundstage.platform.jobs import (
    EmbeddedRunner,
    IllegalTransition,
    Job,
    JobContext,
    JobState,
    TransientJobError,
    cancel_job,
    register_job_type,
    retry_job,
    submit_job,
    transition,
)
from soundstage.platform.jobs import models as job_models
from soundstage.platform.storage import open_storage
from tests.platform.billing.conftest import assert_ledger_consistent

COST = 4


@pytest.fixture
def runner(db: Database, settings: Settings) -> Iterator[EmbeddedRunner]:
    storage = open_storage(settings)  # local files, or S3 with SOUNDSTAGE_TEST_STORAGE
    runner = EmbeddedRunner(db, settings, storage, workers=1, poll_interval_s=0.05)
    yield runner
    runner.stop()


def paid_job(db: Database, settings: Settings, user_id: str, job_type: str) -> str:
    """Submit a job and charge it in the same transaction, as a workflow route does."""
    with db.session() as session:
        job = submit_job(session, job_type, user_id, {})
        service.charge_job(session, settings, user_id, COST, job_id=job.id, description="test")
        session.commit()
        return job.id


def state_of(db: Database, job_id: str) -> str:
    with db.session() as session:
        return session.get(Job, job_id).state


def balance(db: Database, user_id: str) -> int:
    with db.session() as session:
        return service.balance(session, user_id)


def kinds(db: Database, job_id: str) -> list[str]:
    with db.session() as session:
        rows = session.scalars(service.ledger_query_for_job(job_id)).all()
        return [r.kind for r in rows]


def run_all(runner: EmbeddedRunner) -> None:
    while runner.run_once():
        pass


def boom(ctx: JobContext, payload: dict[str, Any]) -> None:
    raise RuntimeError("the model crashed")


def test_failed_job_is_refunded_once_and_retry_charges_again(db, settings, new_user, runner):
    user_id = new_user()
    register_job_type("billing_test.fail", boom, max_attempts=1)
    job_id = paid_job(db, settings, user_id, "billing_test.fail")
    assert balance(db, user_id) == 400 - COST

    run_all(runner)
    assert state_of(db, job_id) == "failed"
    assert balance(db, user_id) == 400
    assert kinds(db, job_id) == ["DEDUCTION", "REFUND"]

    with db.session() as session:  # a manual retry charges the job again
        retry_job(session, session.get(Job, job_id))
        session.commit()
    assert balance(db, user_id) == 400 - COST
    assert kinds(db, job_id) == ["DEDUCTION", "REFUND", "DEDUCTION"]

    run_all(runner)  # fails again: refunded again, once
    assert state_of(db, job_id) == "failed"
    assert balance(db, user_id) == 400
    assert kinds(db, job_id) == ["DEDUCTION", "REFUND", "DEDUCTION", "REFUND"]
    with db.session() as session:
        keys = [e.idempotency_key for e in session.scalars(service.ledger_query_for_job(job_id))]
        assert keys == [f"charge:{job_id}:1", f"refund:{job_id}:1", f"charge:{job_id}:2",
                        f"refund:{job_id}:2"]  # fmt: skip
        retry = session.scalars(service.ledger_query_for_job(job_id)).all()[2]
        assert retry.note.endswith("(retry)") and retry.pricing_snapshot["credits"] == COST
    assert_ledger_consistent(db, user_id)


def test_retry_without_credits_is_refused_with_402(db, settings, new_user, runner):
    user_id = new_user()
    register_job_type("billing_test.fail", boom, max_attempts=1)
    job_id = paid_job(db, settings, user_id, "billing_test.fail")
    run_all(runner)
    with db.session() as session:  # spend everything on something else
        service.adjust(session, user_id, -398, "spent", user_id, settings)
        session.commit()
    with db.session() as session:
        with pytest.raises(service.InsufficientCredits) as caught:
            retry_job(session, session.get(Job, job_id))
        assert caught.value.status == 402
        session.rollback()
    assert state_of(db, job_id) == "failed"  # the retry did not happen
    assert balance(db, user_id) == 2
    assert kinds(db, job_id) == ["DEDUCTION", "REFUND"]
    assert_ledger_consistent(db, user_id)


def test_cancelled_queued_job_is_refunded(db, settings, new_user):
    user_id = new_user()
    register_job_type("billing_test.noop", lambda ctx, payload: None)
    job_id = paid_job(db, settings, user_id, "billing_test.noop")
    with db.session() as session:
        cancel_job(session, session.get(Job, job_id))
        session.commit()
    assert state_of(db, job_id) == "cancelled"
    assert balance(db, user_id) == 400
    assert kinds(db, job_id) == ["DEDUCTION", "REFUND"]
    with db.session() as session, pytest.raises(IllegalTransition):  # cancelled is final
        retry_job(session, session.get(Job, job_id))
    assert_ledger_consistent(db, user_id)


def test_cancelled_running_job_is_refunded(db, settings, new_user, runner):
    user_id = new_user()
    started, release = threading.Event(), threading.Event()

    def slow(ctx: JobContext, payload: dict[str, Any]) -> None:
        started.set()
        release.wait(20)
        ctx.progress(50, "working")  # the cancellation point

    register_job_type("billing_test.slow", slow)
    job_id = paid_job(db, settings, user_id, "billing_test.slow")
    worker = threading.Thread(target=runner.run_once)
    worker.start()
    assert started.wait(20)
    with db.session() as session:
        cancel_job(session, session.get(Job, job_id))
        session.commit()
    release.set()
    worker.join(20)
    assert state_of(db, job_id) == "cancelled"
    assert balance(db, user_id) == 400
    assert kinds(db, job_id) == ["DEDUCTION", "REFUND"]


def test_completed_job_and_transient_retries_keep_one_charge(db, settings, new_user, runner):
    user_id = new_user()
    calls: list[int] = []

    def flaky(ctx: JobContext, payload: dict[str, Any]) -> dict[str, int]:
        calls.append(ctx.attempt)
        if ctx.attempt == 1:
            raise TransientJobError("provider busy")
        return {"ok": 1}

    register_job_type("billing_test.flaky", flaky, max_attempts=3)
    job_id = paid_job(db, settings, user_id, "billing_test.flaky")
    for _ in range(200):  # the transient retry waits job_retry_base_s before it is runnable
        run_all(runner)
        if state_of(db, job_id) == "completed":
            break
        threading.Event().wait(0.05)
    assert state_of(db, job_id) == "completed"
    assert calls == [1, 2]
    assert balance(db, user_id) == 400 - COST
    assert kinds(db, job_id) == ["DEDUCTION"]


def test_unpaid_jobs_are_untouched(db, settings, new_user, runner):
    user_id = new_user()
    register_job_type("billing_test.fail", boom, max_attempts=1)
    with db.session() as session:
        service.open_account(session, user_id, settings)
        job = submit_job(session, "billing_test.fail", user_id, {})
        session.commit()
        job_id = job.id
    run_all(runner)
    with db.session() as session:
        retry_job(session, session.get(Job, job_id))
        session.commit()
    assert kinds(db, job_id) == []
    assert balance(db, user_id) == 400


def test_any_terminal_state_but_completed_refunds(
    db, settings, new_user, monkeypatch: pytest.MonkeyPatch
) -> None:
    """States added later to TERMINAL_STATES (e.g. moderation_failed) refund too."""
    user_id = new_user()
    register_job_type("billing_test.noop", lambda ctx, payload: None)
    job_id = paid_job(db, settings, user_id, "billing_test.noop")
    monkeypatch.setattr(
        job_models, "TERMINAL_STATES", job_models.TERMINAL_STATES | {"moderation_failed"}
    )
    with db.session() as session:
        job = session.get(Job, job_id)
        service._on_job_transition(session, job, JobState.RUNNING, "moderation_failed")
        session.commit()
    assert kinds(db, job_id) == ["DEDUCTION", "REFUND"]
    with db.session() as session:
        job = session.get(Job, job_id)
        transition(session, job, JobState.RUNNING)
        transition(session, job, JobState.COMPLETED)  # nothing outstanding: no change
        session.commit()
    assert kinds(db, job_id) == ["DEDUCTION", "REFUND"]
    assert balance(db, user_id) == 400
