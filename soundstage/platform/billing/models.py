"""Tables: credit_accounts (one per user, the balance) and credit_ledger (every change).

The ledger is append-only: a balance only changes together with one ledger row
recording the change and the balance after it, so the sum of a user's ledger
amounts is always their balance. Unique `external_id` (a Stripe event) and
`idempotency_key` ("charge:<job>:<n>", "refund:<job>:<n>", "checkout:<session>",
"trial:<user>") make every credit operation happen at most once.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from soundstage.platform.db import Base, utcnow


class Plan(StrEnum):
    FREE = "FREE"
    PRO = "PRO"
    ENTERPRISE = "ENTERPRISE"


class PppBand(StrEnum):
    """Purchasing-power band: prices scale down from HIGH to LOW."""

    HIGH = "HIGH"
    UMID = "UMID"
    LMID = "LMID"
    LOW = "LOW"


class LedgerKind(StrEnum):
    PURCHASE = "PURCHASE"
    DEDUCTION = "DEDUCTION"
    REFUND = "REFUND"
    TRIAL = "TRIAL"
    ADJUSTMENT = "ADJUSTMENT"


def _one_of(column: str, values: type[StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


class CreditAccount(Base):
    """A user's credit balance, plan and pricing band."""

    __tablename__ = "credit_accounts"
    __table_args__ = (
        CheckConstraint("balance >= 0", name="balance_not_negative"),
        CheckConstraint(_one_of("plan", Plan), name="plan_known"),
        CheckConstraint(_one_of("ppp_band", PppBand), name="ppp_band_known"),
    )

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    plan: Mapped[str] = mapped_column(String(16), default=Plan.FREE)
    ppp_band: Mapped[str] = mapped_column(String(8), default=PppBand.HIGH)
    solidarity_opt_in: Mapped[bool] = mapped_column(Boolean, default=False)
    balance: Mapped[int] = mapped_column(Integer, default=0)
    trial_expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LedgerEntry(Base):
    """One change of a balance: signed `amount`, the balance after it, and why."""

    __tablename__ = "credit_ledger"
    __table_args__ = (
        Index("ix_credit_ledger_user_created", "user_id", "created_at"),
        CheckConstraint("balance_after >= 0", name="balance_after_not_negative"),
        CheckConstraint(_one_of("kind", LedgerKind), name="kind_known"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(Integer)
    balance_after: Mapped[int] = mapped_column(Integer)
    # A reference, not a foreign key: the ledger outlives deleted jobs.
    job_id: Mapped[str | None] = mapped_column(String(32), index=True)
    external_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(255), unique=True)
    pricing_snapshot: Mapped[dict[str, Any] | None]
    note: Mapped[str] = mapped_column(Text, default="")
    actor_id: Mapped[str | None] = mapped_column(String(32))  # the admin of an ADJUSTMENT
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
