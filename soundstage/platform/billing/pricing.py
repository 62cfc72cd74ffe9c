"""Cost-anchored pricing, pure: credits for a duration, the price of a credit, pack prices.

    price per credit = (base cost per minute / credits per minute)
                       × (1 + margin cap) × PPP multiplier × solidarity multiplier

Every input is passed in (`PricingInputs`); money is `Decimal` throughout and is
rounded to cents only once, at the end, so a breakdown's factors multiply out to
its result exactly.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import Any

SECONDS_PER_CREDIT = 30
CREDITS_PER_MINUTE = 60 // SECONDS_PER_CREDIT
CENT = Decimal("0.01")


def credits_for_duration(duration_s: float) -> int:
    """Credits a track of `duration_s` seconds costs: one per started 30 s (60 s → 2, 90 s → 3).

    Raises ValueError for zero, negative or non-finite durations.
    """
    if isinstance(duration_s, bool) or not isinstance(duration_s, int | float | Decimal):
        raise ValueError(f"duration must be a number of seconds, not {duration_s!r}")
    if not math.isfinite(duration_s) or duration_s <= 0:
        raise ValueError(f"duration must be a positive number of seconds, not {duration_s}")
    # Decimal of the shortest repr: 60.00000000000001 is a hair over 60 s and costs 3.
    exact = Decimal(repr(duration_s)) if isinstance(duration_s, float) else Decimal(duration_s)
    return int((exact / SECONDS_PER_CREDIT).to_integral_value(rounding=ROUND_CEILING))


@dataclass(frozen=True)
class PricingInputs:
    """Everything a price depends on besides the buyer (costs are USD per minute of audio)."""

    model_cost_per_min: Decimal
    infra_cost_per_min: Decimal
    overhead_per_min: Decimal
    margin_cap: Decimal
    ppp_multipliers: Mapping[str, Decimal]
    solidarity_multiplier: Decimal
    currency: str = "usd"


@dataclass(frozen=True)
class PriceBreakdown:
    """Each factor of the price of one credit for one buyer, and the result."""

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
    price_per_credit: Decimal  # exact, unrounded
    price_per_credit_rounded: Decimal  # to cents, for display

    def snapshot(self) -> dict[str, Any]:
        """JSON-able record for the ledger (Decimals as strings, so nothing is lost)."""
        return {
            key: str(value) if isinstance(value, Decimal) else value
            for key, value in self.__dict__.items()
        }


@dataclass(frozen=True)
class PackPrice:
    """A credit pack and what it costs this buyer."""

    credits: int
    price: Decimal  # rounded to cents
    unit_amount: int  # in cents, as Stripe wants it
    currency: str


def tidy(value: Decimal) -> Decimal:
    """The same number without trailing zeros (0.123200 → 0.1232, 2.00 → 2), never in E-notation."""
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


def round_cents(amount: Decimal) -> Decimal:
    """Half-up to the cent: the one rounding step of every price."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def price_breakdown(
    inputs: PricingInputs, ppp_band: str, *, solidarity_opt_in: bool
) -> PriceBreakdown:
    """The price of one credit for a buyer in `ppp_band`; ValueError for an unknown band."""
    if ppp_band not in inputs.ppp_multipliers:
        known = ", ".join(inputs.ppp_multipliers)
        raise ValueError(f"unknown PPP band {ppp_band!r}; known bands: {known}")
    base_per_min = inputs.model_cost_per_min + inputs.infra_cost_per_min + inputs.overhead_per_min
    base_per_credit = base_per_min / CREDITS_PER_MINUTE
    margin_multiplier = 1 + inputs.margin_cap
    ppp_multiplier = inputs.ppp_multipliers[ppp_band]
    solidarity = inputs.solidarity_multiplier if solidarity_opt_in else Decimal(1)
    price = base_per_credit * margin_multiplier * ppp_multiplier * solidarity
    return PriceBreakdown(
        currency=inputs.currency,
        model_cost_per_min=inputs.model_cost_per_min,
        infra_cost_per_min=inputs.infra_cost_per_min,
        overhead_per_min=inputs.overhead_per_min,
        base_cost_per_min=tidy(base_per_min),
        credits_per_minute=CREDITS_PER_MINUTE,
        base_cost_per_credit=tidy(base_per_credit),
        margin_cap=inputs.margin_cap,
        margin_multiplier=tidy(margin_multiplier),
        ppp_band=ppp_band,
        ppp_multiplier=ppp_multiplier,
        solidarity_opt_in=solidarity_opt_in,
        solidarity_multiplier=tidy(solidarity),
        price_per_credit=tidy(price),
        price_per_credit_rounded=round_cents(price),
    )


def pack_price(breakdown: PriceBreakdown, credits: int) -> PackPrice:
    """The price of `credits` credits: the exact per-credit price times the count, then cents."""
    if credits <= 0:
        raise ValueError("a pack holds at least one credit")
    price = round_cents(breakdown.price_per_credit * credits)
    return PackPrice(
        credits=credits,
        price=price,
        unit_amount=int(price / CENT),
        currency=breakdown.currency,
    )


def pack_prices(breakdown: PriceBreakdown, packs: Iterable[int]) -> list[PackPrice]:
    """Every pack's price for this buyer, smallest pack first."""
    return [pack_price(breakdown, credits) for credits in sorted(set(packs))]
