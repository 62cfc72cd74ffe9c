"""Table: job_costs — what each job cost, line by line (providers' charges, compute time)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from soundstage.platform.db import Base, utcnow

USD = Numeric(12, 6)  # micro-dollars: provider prices go down to fractions of a cent


class JobCost(Base):
    """One cost line of one job attempt.

    Cloud providers add a line per call (`usd` from their published prices, so
    `estimated` is true unless read from an invoice); the runner adds an
    "embedded" line per attempt with its wall time (`compute_s`) and the CPU time
    of the job's thread (`units` in "cpu_second"), at zero dollars.
    """

    __tablename__ = "job_costs"
    __table_args__ = (Index("ix_job_costs_user_created", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    provider: Mapped[str] = mapped_column(String(64))
    step: Mapped[str] = mapped_column(String(100))
    usd: Mapped[Decimal] = mapped_column(USD, default=Decimal(0))
    compute_s: Mapped[float] = mapped_column(Float, default=0.0)
    units: Mapped[float] = mapped_column(Float, default=0.0)
    unit: Mapped[str] = mapped_column(String(32), default="")
    estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
