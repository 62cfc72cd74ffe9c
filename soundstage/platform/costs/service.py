"""Cost rules: recording cost lines, budgets per job and per user per UTC day, summaries.

Budgets are in USD (SOUNDSTAGE_JOB_BUDGET_USD, SOUNDSTAGE_USER_DAILY_BUDGET_USD;
unset = no limit). At the door, `check_budget` refuses a job whose estimate passes
the per-job budget (402) or would take the user past the day's budget (429 with
Retry-After until 00:00 UTC). "Spent today" is every cost line recorded for the
user since UTC midnight; "reserved" is what the user's unfinished jobs are still
expected to cost (their accepted estimate minus what they already recorded), so
queueing many jobs at once cannot slip past the daily budget.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from soundstage.config import Settings
from soundstage.platform.accounts.models import User
from soundstage.platform.costs.estimates import CostLine, Estimate, usd
from soundstage.platform.costs.models import JobCost
from soundstage.platform.db import utcnow
from soundstage.platform.errors import AppError
from soundstage.platform.jobs.models import Job, JobState

UNFINISHED = (JobState.QUEUED, JobState.MODERATING, JobState.RUNNING)


# --- recording ------------------------------------------------------------------------------


def add_cost(
    session: Session,
    job_id: str,
    user_id: str,
    line: CostLine,
    *,
    attempt: int = 0,
    estimated: bool = False,
) -> JobCost:
    """Add one cost line to a job; flushes, the caller commits."""
    row = JobCost(
        job_id=job_id,
        user_id=user_id,
        attempt=attempt,
        provider=line.provider[:64],
        step=line.step[:100],
        usd=usd(line.usd),
        compute_s=float(line.compute_s),
        units=float(line.units),
        unit=line.unit[:32],
        estimated=estimated,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row


def job_costs(session: Session, job_id: str) -> list[JobCost]:
    stmt = select(JobCost).where(JobCost.job_id == job_id).order_by(JobCost.id)
    return list(session.scalars(stmt))


def job_total_usd(session: Session, job_id: str) -> Decimal:
    total = session.scalar(select(func.sum(JobCost.usd)).where(JobCost.job_id == job_id))
    return usd(total or 0)


def over_job_budget(session: Session, settings: Settings, job_id: str) -> str | None:
    """Why the job must stop (its recorded costs passed the per-job budget), or None."""
    limit = settings.job_budget_usd
    if limit is None:
        return None
    total = job_total_usd(session, job_id)
    if total <= limit:
        return None
    return (
        f"stopped: this job's costs reached ${total:.4f}, over the per-job budget of "
        f"${limit:.2f} (SOUNDSTAGE_JOB_BUDGET_USD)"
    )


# --- budgets at the door --------------------------------------------------------------------


def day_start(now: datetime) -> datetime:
    """00:00 UTC of `now`'s UTC day."""
    now = now.astimezone(UTC)
    return datetime(now.year, now.month, now.day, tzinfo=UTC)


def seconds_to_midnight(now: datetime) -> int:
    """Whole seconds until the next 00:00 UTC (at least 1)."""
    left = day_start(now) + timedelta(days=1) - now.astimezone(UTC)
    return max(1, math.ceil(left.total_seconds()))


def spent_since(session: Session, user_id: str, since: datetime) -> Decimal:
    total = session.scalar(
        select(func.sum(JobCost.usd)).where(JobCost.user_id == user_id, JobCost.created_at >= since)
    )
    return usd(total or 0)


def reserved_usd(session: Session, user_id: str, exclude_job_id: str | None = None) -> Decimal:
    """What the user's unfinished jobs are still expected to cost (estimate − recorded)."""
    spent = (
        select(JobCost.job_id, func.sum(JobCost.usd).label("usd"))
        .group_by(JobCost.job_id)
        .subquery()
    )
    stmt = (
        select(Job.estimated_usd, func.coalesce(spent.c.usd, 0))
        .outerjoin(spent, spent.c.job_id == Job.id)
        .where(
            Job.owner_id == user_id,
            Job.state.in_([str(s) for s in UNFINISHED]),
            Job.estimated_usd.is_not(None),
        )
    )
    if exclude_job_id is not None:
        stmt = stmt.where(Job.id != exclude_job_id)
    rows: Iterable[tuple[Decimal, Any]] = session.execute(stmt).all()
    return usd(sum((max(Decimal(0), usd(est) - usd(used)) for est, used in rows), Decimal(0)))


@dataclass(frozen=True)
class BudgetStatus:
    """Where a user stands against the budgets, for one (estimated) job."""

    estimate_usd: Decimal
    per_job_limit: Decimal | None
    daily_limit: Decimal | None
    spent_today: Decimal
    reserved: Decimal
    allowed: bool
    reason: str | None
    status: int | None  # the HTTP status of the refusal: 402 per job, 429 per day
    retry_after_s: int | None

    @property
    def remaining_today(self) -> Decimal | None:
        if self.daily_limit is None:
            return None
        return max(Decimal(0), usd(self.daily_limit - self.spent_today - self.reserved))

    def as_dict(self) -> dict[str, Any]:
        def money(value: Decimal | None) -> float | None:
            return None if value is None else float(value)

        return {
            "estimate_usd": money(self.estimate_usd),
            "per_job_limit": money(self.per_job_limit),
            "daily_limit": money(self.daily_limit),
            "spent_today": money(self.spent_today),
            "reserved": money(self.reserved),
            "remaining_today": money(self.remaining_today),
            "allowed": self.allowed,
            "reason": self.reason,
            "retry_after_s": self.retry_after_s,
        }


class BudgetExceeded(AppError):
    """402: the job's estimate passes the per-job budget."""

    status = 402

    def __init__(self, budget: BudgetStatus) -> None:
        super().__init__(budget.reason or "over budget")
        self.budget = budget

    def body(self) -> dict[str, Any]:
        return {"detail": self.message, "budget": self.budget.as_dict()}


class DailyBudgetExceeded(BudgetExceeded):
    """429: the job would take the user past today's budget; retry after UTC midnight."""

    status = 429

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.budget.retry_after_s or 1)}


def budget_status(
    session: Session,
    settings: Settings,
    user_id: str,
    estimate_usd: Decimal,
    *,
    exclude_job_id: str | None = None,
    now: datetime | None = None,
) -> BudgetStatus:
    """Check an estimate against both budgets without raising."""
    now = now or utcnow()
    estimate_usd = usd(estimate_usd)
    per_job, daily = settings.job_budget_usd, settings.user_daily_budget_usd
    spent = spent_since(session, user_id, day_start(now))
    reserved = reserved_usd(session, user_id, exclude_job_id)
    reason, status, retry = None, None, None
    if per_job is not None and estimate_usd > per_job:
        status = 402
        reason = (
            f"this job is estimated at ${estimate_usd:.4f}, over the per-job budget of "
            f"${per_job:.2f} (SOUNDSTAGE_JOB_BUDGET_USD); make it smaller (shorter, fewer "
            "clips) or use the embedded provider, which costs nothing"
        )
    elif daily is not None and estimate_usd > 0 and spent + reserved + estimate_usd > daily:
        status, retry = 429, seconds_to_midnight(now)
        reason = (
            f"this job (estimated ${estimate_usd:.4f}) would pass your daily budget of "
            f"${daily:.2f} (SOUNDSTAGE_USER_DAILY_BUDGET_USD): ${spent:.4f} spent and "
            f"${reserved:.4f} reserved by unfinished jobs today; it resets at 00:00 UTC, "
            f"in {_duration(retry)}"
        )
    return BudgetStatus(
        estimate_usd, per_job, daily, spent, reserved, status is None, reason, status, retry
    )


def check_budget(
    session: Session,
    settings: Settings,
    user_id: str,
    estimate: Estimate,
    *,
    exclude_job_id: str | None = None,
    now: datetime | None = None,
) -> BudgetStatus:
    """Refuse a job over budget before it is created: 402 per job, 429 per day.

    Locks the user's row first (PostgreSQL), so two submissions cannot both take
    the last of a day's budget; SQLite serializes writing transactions anyway. The lock
    is FOR NO KEY UPDATE: a job inserted just before holds a key-share lock on the same
    row, which FOR UPDATE would turn into a deadlock between two such submissions.
    """
    session.execute(select(User.id).where(User.id == user_id).with_for_update(key_share=True))
    status = budget_status(
        session, settings, user_id, estimate.total_usd, exclude_job_id=exclude_job_id, now=now
    )
    if status.status == 429:
        raise DailyBudgetExceeded(status)
    if status.status == 402:
        raise BudgetExceeded(status)
    return status


def _duration(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    return f"{hours} h {rest // 60} min" if hours else f"{max(1, rest // 60)} min"


# --- summaries ------------------------------------------------------------------------------


def summary(
    session: Session, settings: Settings, user_id: str, days: int, now: datetime | None = None
) -> dict[str, Any]:
    """The user's costs over the last `days` UTC days: totals, per provider, per day."""
    now = now or utcnow()
    start = day_start(now) - timedelta(days=days - 1)
    rows = session.execute(
        select(
            JobCost.provider, JobCost.usd, JobCost.compute_s, JobCost.job_id, JobCost.created_at
        ).where(JobCost.user_id == user_id, JobCost.created_at >= start)
    ).all()
    per_day = {(start + timedelta(days=i)).date(): [Decimal(0), 0.0] for i in range(days)}
    providers: dict[str, dict[str, Any]] = {}
    for provider, amount, compute_s, job_id, created_at in rows:
        day = per_day.get(created_at.astimezone(UTC).date())
        if day is not None:
            day[0] += usd(amount)
            day[1] += compute_s
        entry = providers.setdefault(provider, {"usd": Decimal(0), "compute_s": 0.0, "jobs": set()})
        entry["usd"] += usd(amount)
        entry["compute_s"] += compute_s
        entry["jobs"].add(job_id)
    today = budget_status(session, settings, user_id, Decimal(0), now=now)
    return {
        "days": days,
        "since": start,
        "total_usd": float(usd(sum((usd(r[1]) for r in rows), Decimal(0)))),
        "compute_s": round(sum(r[2] for r in rows), 3),
        "jobs": len({r[3] for r in rows}),
        "by_provider": [
            {
                "provider": name,
                "usd": float(usd(v["usd"])),
                "compute_s": round(v["compute_s"], 3),
                "jobs": len(v["jobs"]),
            }
            for name, v in sorted(providers.items())
        ],
        "by_day": [
            {"date": day.isoformat(), "usd": float(usd(v[0])), "compute_s": round(v[1], 3)}
            for day, v in per_day.items()
        ],
        "today": today.as_dict(),
    }
