"""The free plan's limits: a duration cap per track and a number of paid jobs per UTC day.

A job counts toward the day when it was charged that day and not refunded
(a failed job given back its credits does not use up the day's allowance).
Paid plans (PRO, ENTERPRISE) have neither limit.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from soundstage.config import Settings
from soundstage.platform.billing.models import CreditAccount, LedgerEntry, LedgerKind, Plan
from soundstage.platform.billing.service import open_account
from soundstage.platform.db import utcnow
from soundstage.platform.errors import AppError, Forbidden

UPGRADE_HINT = "buying any credit pack on the Credits page (/credits) moves you to the Pro plan"


class OverFreeDurationCap(Forbidden):
    """The free plan does not allow a track this long (403)."""


class DailyLimitReached(AppError):
    """The free plan's daily allowance is used up (429); `retry_after_s` until it resets."""

    status = 429

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}

    def body(self) -> dict[str, Any]:
        return {"detail": self.message, "retry_after_s": self.retry_after_s}


def next_utc_midnight(now: datetime) -> datetime:
    """The moment the free plan's day resets."""
    today = now.astimezone(UTC).date()
    return datetime.combine(today + timedelta(days=1), time.min, UTC)


def used_today(session: Session, user_id: str, now: datetime | None = None) -> int:
    """Jobs charged since the last UTC midnight and not refunded."""
    now = now or utcnow()
    midnight = next_utc_midnight(now) - timedelta(days=1)
    per_job = (
        select(LedgerEntry.job_id)
        .where(
            LedgerEntry.user_id == user_id,
            LedgerEntry.job_id.is_not(None),
            LedgerEntry.kind.in_([LedgerKind.DEDUCTION, LedgerKind.REFUND]),
            LedgerEntry.created_at >= midnight,
        )
        .group_by(LedgerEntry.job_id)
        .having(func.sum(LedgerEntry.amount) < 0)
        .subquery()
    )
    return int(session.scalar(select(func.count()).select_from(per_job)) or 0)


def _format_wait(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes = math.ceil(rest / 60)
    return f"{hours} h {minutes} min" if hours else f"{max(minutes, 1)} min"


def check_free_tier(session: Session, settings: Settings, user_id: str, duration_s: float) -> None:
    """Refuse what the free plan does not allow: 403 over the duration cap, 429 over the day.

    Locks the user's account row until the caller's transaction ends, so a
    check followed by `charge_job` in the same transaction cannot be raced by
    a second request of the same user.
    """
    open_account(session, user_id, settings)
    account = session.get(CreditAccount, user_id, with_for_update=True, populate_existing=True)
    if account is None or account.plan != Plan.FREE:
        return
    cap = settings.free_max_duration_s
    if duration_s > cap:
        raise OverFreeDurationCap(
            f"the free plan makes tracks of at most {cap:g} s; you asked for {duration_s:g} s. "
            f"Ask for {cap:g} s or less, or upgrade: {UPGRADE_HINT}"
        )
    now = utcnow()
    limit = settings.free_daily_tracks
    if used_today(session, user_id, now) >= limit:
        wait = max(1, math.ceil((next_utc_midnight(now) - now).total_seconds()))
        raise DailyLimitReached(
            f"the free plan allows {limit} tracks a day and today's are used; "
            f"the limit resets at 00:00 UTC (in {_format_wait(wait)}). "
            f"To lift it: {UPGRADE_HINT}",
            retry_after_s=wait,
        )


def free_mode_status(session: Session, settings: Settings, user_id: str) -> dict[str, Any]:
    """What the free plan allows this user today (limits are None on paid plans)."""
    account = open_account(session, user_id, settings)
    now = utcnow()
    is_free = account.plan == Plan.FREE
    used = used_today(session, user_id, now)
    trial = session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
            LedgerEntry.user_id == user_id, LedgerEntry.kind == LedgerKind.TRIAL
        )
    )
    limit = settings.free_daily_tracks if is_free else None
    return {
        "plan": account.plan,
        "is_free": is_free,
        "trial_credits": int(trial or 0),
        "trial_expires_at": account.trial_expires_at,
        "daily_limit": limit,
        "used_today": used,
        "remaining_today": max(0, limit - used) if limit is not None else None,
        "max_duration_s": settings.free_max_duration_s if is_free else None,
        "resets_at": next_utc_midnight(now),
    }


def free_tier_verdict(
    session: Session, settings: Settings, user_id: str, duration_s: float
) -> dict[str, Any]:
    """Whether `check_free_tier` would allow it, without raising: {allowed, reason, ...}."""
    try:
        check_free_tier(session, settings, user_id, duration_s)
    except DailyLimitReached as exc:
        return {"allowed": False, "reason": exc.message, "retry_after_s": exc.retry_after_s}
    except Forbidden as exc:
        return {"allowed": False, "reason": exc.message, "retry_after_s": None}
    return {"allowed": True, "reason": None, "retry_after_s": None}
