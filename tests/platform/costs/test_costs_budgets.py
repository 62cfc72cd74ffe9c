"""Budgets at the door: per job (402) and per user per UTC day (429 until midnight), with
what unfinished jobs still reserve; on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from soundstage.config import Settings
from soundstage.platform.accounts import User
from soundstage.platform.costs import (
    BudgetExceeded,
    CostLine,
    DailyBudgetExceeded,
    Estimate,
    add_cost,
    budget_status,
    check_budget,
    register_cost_estimator,
    summary,
)
from soundstage.platform.costs.models import JobCost
from soundstage.platform.db import Database
from soundstage.platform.jobs import Job, JobState, register_job_type, submit_job

NOW = datetime(2031, 5, 6, 21, 30, tzinfo=UTC)  # 2 h 30 min before midnight UTC


@pytest.fixture
def user_id(db: Database) -> str:
    with db.session() as session:
        user = User(email="spender@example.com", password_hash="x")
        session.add(user)
        session.commit()
        return user.id


@pytest.fixture
def budgets(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"job_budget_usd": Decimal("2.00"), "user_daily_budget_usd": Decimal("5.00")}
    )


def priced(amount: str) -> Estimate:
    return Estimate("t.cloud", (CostLine("replicate", "clips", Decimal(amount)),))


def add_job(
    db: Database, user_id: str, *, state: str = JobState.QUEUED, estimate: str | None = None
) -> str:
    register_job_type("t.cloud", lambda ctx, payload: None)
    with db.session() as session:
        job = submit_job(session, "t.cloud", user_id, {})
        job.state = state
        job.estimated_usd = Decimal(estimate) if estimate is not None else None
        session.commit()
        return job.id


def charge(db: Database, job_id: str, user_id: str, amount: str, at: datetime = NOW) -> None:
    with db.session() as session:
        row = add_cost(session, job_id, user_id, CostLine("replicate", "clips", Decimal(amount)))
        row.created_at = at
        session.commit()


def test_an_estimate_over_the_job_budget_is_402(db: Database, user_id: str, budgets) -> None:
    with db.session() as session:
        assert check_budget(session, budgets, user_id, priced("2.00"), now=NOW).allowed
        with pytest.raises(BudgetExceeded) as refused:
            check_budget(session, budgets, user_id, priced("2.01"), now=NOW)
    error = refused.value
    assert error.status == 402 and not isinstance(error, DailyBudgetExceeded)
    assert error.message.startswith(
        "this job is estimated at $2.0100, over the per-job budget of $2.00 "
        "(SOUNDSTAGE_JOB_BUDGET_USD)"
    )
    assert error.budget.allowed is False


def test_the_daily_budget_counts_spent_and_reserved(db: Database, user_id: str, budgets) -> None:
    done = add_job(db, user_id, state=JobState.COMPLETED, estimate="2.00")
    charge(db, done, user_id, "1.50")
    charge(db, done, user_id, "3.00", at=NOW - timedelta(days=1))  # yesterday: not counted
    running = add_job(db, user_id, state=JobState.RUNNING, estimate="2.00")
    charge(db, running, user_id, "0.50")  # 1.50 of its estimate still to come
    add_job(db, user_id, state=JobState.MODERATING, estimate="1.00")
    add_job(db, user_id, state=JobState.FAILED, estimate="1.50")  # finished: reserves nothing
    with db.session() as session:
        status = budget_status(session, budgets, user_id, Decimal("0.50"), now=NOW)
        assert (status.spent_today, status.reserved) == (Decimal("2.00"), Decimal("2.50"))
        assert status.allowed and status.remaining_today == Decimal("0.50")
        check_budget(session, budgets, user_id, priced("0.50"), now=NOW)
        with pytest.raises(DailyBudgetExceeded) as refused:
            check_budget(session, budgets, user_id, priced("0.51"), now=NOW)
    error = refused.value
    assert error.status == 429
    assert error.budget.retry_after_s == 9000
    assert error.headers == {"Retry-After": "9000"}
    assert "daily budget of $5.00 (SOUNDSTAGE_USER_DAILY_BUDGET_USD)" in error.message
    assert "$2.0000 spent and $2.5000 reserved" in error.message
    assert error.message.endswith("it resets at 00:00 UTC, in 2 h 30 min")


def test_free_jobs_pass_a_spent_day(db: Database, user_id: str, budgets) -> None:
    job = add_job(db, user_id, state=JobState.COMPLETED)
    charge(db, job, user_id, "5.00")
    free = Estimate("t.free", (CostLine("embedded", "music", Decimal(0), 12.0),))
    with db.session() as session:
        assert check_budget(session, budgets, user_id, free, now=NOW).allowed
        with pytest.raises(DailyBudgetExceeded):
            check_budget(session, budgets, user_id, priced("0.01"), now=NOW)


def test_no_limits_when_unset(db: Database, user_id: str, settings: Settings) -> None:
    unlimited = settings.model_copy(update={"job_budget_usd": None, "user_daily_budget_usd": None})
    job = add_job(db, user_id)
    charge(db, job, user_id, "500")
    with db.session() as session:
        status = check_budget(session, unlimited, user_id, priced("1000"), now=NOW)
    assert status.allowed and status.remaining_today is None


def test_an_excluded_job_does_not_reserve_against_itself(db: Database, user_id: str, budgets):
    job = add_job(db, user_id, estimate="4.00")
    with db.session() as session:
        assert budget_status(session, budgets, user_id, Decimal("1.5"), now=NOW).allowed is False
        status = budget_status(
            session, budgets, user_id, Decimal("1.5"), exclude_job_id=job, now=NOW
        )
        assert status.allowed


def test_summary_per_provider_and_day(db: Database, user_id: str, budgets) -> None:
    job = add_job(db, user_id, state=JobState.COMPLETED)
    charge(db, job, user_id, "0.25")
    charge(db, job, user_id, "0.50", at=NOW - timedelta(days=2))
    charge(db, job, user_id, "9.00", at=NOW - timedelta(days=9))  # outside a week
    with db.session() as session:
        session.add(
            JobCost(job_id=job, user_id=user_id, provider="embedded", step="compute",
                    usd=Decimal(0), compute_s=4.5, units=4.0, unit="cpu_second", created_at=NOW)
        )  # fmt: skip
        session.commit()
        week = summary(session, budgets, user_id, 7, now=NOW)
    assert week["total_usd"] == 0.75 and week["compute_s"] == 4.5 and week["jobs"] == 1
    assert week["by_provider"] == [
        {"provider": "embedded", "usd": 0.0, "compute_s": 4.5, "jobs": 1},
        {"provider": "replicate", "usd": 0.75, "compute_s": 0.0, "jobs": 1},
    ]
    assert [d["date"] for d in week["by_day"]] == [
        (NOW - timedelta(days=6 - i)).date().isoformat() for i in range(7)
    ]
    assert week["by_day"][-1] == {"date": "2031-05-06", "usd": 0.25, "compute_s": 4.5}
    assert week["by_day"][-3]["usd"] == 0.5
    assert week["today"]["spent_today"] == 0.25 and week["today"]["daily_limit"] == 5.0
    assert week["since"] == datetime(2031, 4, 30, tzinfo=UTC)


def test_costs_go_with_their_job(db: Database, user_id: str) -> None:
    job = add_job(db, user_id)
    charge(db, job, user_id, "1.00")
    with db.session() as session:
        session.delete(session.get(Job, job))
        session.commit()
        assert session.query(JobCost).count() == 0


@pytest.fixture
def restore_estimators() -> Iterator[None]:
    from soundstage.platform.costs import estimates

    saved = dict(estimates._estimators)
    yield
    estimates._estimators.clear()
    estimates._estimators.update(saved)


def test_two_submissions_cannot_both_take_the_last_of_the_day(
    db: Database, user_id: str, budgets: Settings, restore_estimators: None
) -> None:
    """Each one submits a job estimated at $3 against a $5 day, at the same moment."""
    from soundstage.platform.policy import admit_job

    budgets = budgets.model_copy(update={"job_budget_usd": None})
    register_job_type("t.cloud", lambda ctx, payload: None)
    register_cost_estimator(
        "t.cloud", lambda settings, payload: [CostLine("replicate", "clips", Decimal(3))]
    )
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def submit() -> None:
        start.wait(timeout=20)
        with db.session() as session:
            job = submit_job(session, "t.cloud", user_id, {})
            try:
                admit_job(session, budgets, job, {"prompt": "a cloud video"})
            except DailyBudgetExceeded:
                outcomes.append("refused")
                return
            session.commit()
            outcomes.append("accepted")

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["accepted", "refused"]
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 1
