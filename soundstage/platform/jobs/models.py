"""Tables: jobs (the single source of truth) and job_events (one row per transition)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from soundstage.platform.db import Base, new_id, utcnow


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    # Waiting for an asynchronous moderation provider before it may be queued (seed 003).
    MODERATING = "moderating"
    MODERATION_FAILED = "moderation_failed"  # refused by moderation; never runs
    # Fanned out: parked until its child jobs end, then queued again to gather them (fan-in).
    WAITING = "waiting"


TERMINAL_STATES = frozenset(
    {JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED, JobState.MODERATION_FAILED}
)
STATE_CHARS = 24  # width of the state columns ("moderation_failed" is 17)


class Job(Base):
    """A unit of background work of a registered type, owned by a user."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_state_run_after", "state", "run_after"),
        Index("ix_jobs_owner_created", "owner_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    type: Mapped[str] = mapped_column(String(100), index=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(STATE_CHARS), default=JobState.QUEUED)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    stage: Mapped[str] = mapped_column(String(200), default="")
    eta_s: Mapped[float | None] = mapped_column(Float)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    error: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    result: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    run_after: Mapped[datetime] = mapped_column(default=utcnow)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    # Governance: the cost estimate accepted at the door (USD), and for a job held for
    # asynchronous moderation, its texts, provider and outcome.
    estimated_usd: Mapped[Decimal | None] = mapped_column(Numeric(12, 6))
    moderation: Mapped[dict[str, Any] | None]
    # Scale-out: the worker running the job holds a lease it keeps renewing; when it
    # runs out, the worker is gone and the job goes back to the queue.
    worker: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None]
    dispatched_at: Mapped[datetime | None]  # last sent to the broker
    # Fan-out: a child job's parent; while a parent waits for its children, how its
    # progress follows theirs ({"label": str, "to": pct, "total": n}).
    parent_id: Mapped[str | None] = mapped_column(
        ForeignKey("jobs.id", ondelete="CASCADE"), index=True
    )
    fan_out: Mapped[dict[str, Any] | None]


class JobEvent(Base):
    """One state transition of a job, with a human-readable message."""

    __tablename__ = "job_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    from_state: Mapped[str | None] = mapped_column(String(STATE_CHARS))
    to_state: Mapped[str] = mapped_column(String(STATE_CHARS))
    message: Mapped[str] = mapped_column(Text, default="")
