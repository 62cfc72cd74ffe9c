"""API models for credits, pricing, checkout, the free tier and admin changes.

Money is `Decimal` and travels as a string in JSON ("36.96"), so no float ever
rounds a price; Stripe amounts are integers in cents (`unit_amount`).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from soundstage.platform.billing.models import Plan, PppBand

MAX_ADJUSTMENT = 1_000_000
MAX_PREVIEW_DURATION_S = 24 * 3600.0


class CreditsOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    balance: int
    plan: Plan
    ppp_band: PppBand
    solidarity_opt_in: bool
    trial_expires_at: datetime | None


class LedgerEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    amount: int = Field(description="Signed: positive adds credits, negative takes them")
    balance_after: int
    job_id: str | None
    note: str
    pricing_snapshot: dict[str, Any] | None
    created_at: datetime


class FreeTierVerdict(BaseModel):
    allowed: bool
    reason: str | None = Field(None, description="Why not, and what to do about it")
    retry_after_s: int | None = Field(None, description="Seconds until the daily limit resets")


class CostPreviewOut(BaseModel):
    duration_s: float
    job_type: str | None
    credits_required: int
    balance: int
    balance_after: int
    affordable: bool
    free_tier: FreeTierVerdict


class PriceBreakdownOut(BaseModel):
    """Every factor of the price of one credit, and the result (USD unless `currency` says)."""

    model_config = ConfigDict(from_attributes=True)

    currency: str
    model_cost_per_min: Decimal
    infra_cost_per_min: Decimal
    overhead_per_min: Decimal
    base_cost_per_min: Decimal
    credits_per_minute: int
    base_cost_per_credit: Decimal
    margin_cap: Decimal
    margin_multiplier: Decimal
    ppp_band: str
    ppp_multiplier: Decimal
    solidarity_opt_in: bool
    solidarity_multiplier: Decimal
    price_per_credit: Decimal = Field(description="Exact; packs are priced from this")
    price_per_credit_rounded: Decimal = Field(description="To the cent, for display")


class PackOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    credits: int
    price: Decimal = Field(description="Rounded to the cent")
    unit_amount: int = Field(description="The price in cents (what Stripe charges)")
    currency: str


class PricingOut(BaseModel):
    seconds_per_credit: int
    breakdown: PriceBreakdownOut
    packs: list[PackOut]


class BillingSettingsIn(BaseModel):
    """What a user may change about their own billing."""

    model_config = ConfigDict(extra="forbid")

    solidarity_opt_in: bool | None = Field(None, description="Take the solidarity price")
    ppp_band: PppBand | None = Field(None, description="Only an administrator may change it")
    plan: Plan | None = Field(None, description="Only an administrator may change it")


class CheckoutIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pack: int = Field(description="Credits in the pack (one of GET /api/pricing packs)")


class CheckoutOut(BaseModel):
    checkout_url: str
    session_id: str
    credits: int
    price: Decimal
    currency: str


class WebhookOut(BaseModel):
    received: bool = True
    status: str = Field(description="credited, duplicate or ignored")
    credits: int = 0
    reason: str | None = None


class FreeModeStatusOut(BaseModel):
    plan: Plan
    is_free: bool
    trial_credits: int = Field(description="Credits the trial granted")
    trial_expires_at: datetime | None
    daily_limit: int | None
    used_today: int
    remaining_today: int | None
    max_duration_s: float | None
    resets_at: datetime


class AdminCreditsIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    amount: int = Field(
        ge=-MAX_ADJUSTMENT, le=MAX_ADJUSTMENT, description="Credits to add (or take, negative)"
    )
    note: str = Field(min_length=1, max_length=500, description="Why (kept in the ledger)")

    @model_validator(mode="after")
    def _not_zero(self) -> AdminCreditsIn:
        if self.amount == 0:
            raise ValueError("amount must not be zero")
        return self


class AdminBillingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan: Plan | None = None
    ppp_band: PppBand | None = None

    @model_validator(mode="after")
    def _something(self) -> AdminBillingIn:
        if self.plan is None and self.ppp_band is None:
            raise ValueError("give plan, ppp_band or both")
        return self


class AdminBillingOut(CreditsOut):
    user_id: str
