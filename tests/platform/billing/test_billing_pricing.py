"""Pricing worked by hand: credits for durations, the price of a credit in every band with
and without solidarity, pack prices rounded once to the cent."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from soundstage.platform.billing.pricing import (
    PricingInputs,
    credits_for_duration,
    pack_price,
    pack_prices,
    price_breakdown,
)

D = Decimal
INPUTS = PricingInputs(
    model_cost_per_min=D("0.15"),
    infra_cost_per_min=D("0.05"),
    overhead_per_min=D("0.02"),
    margin_cap=D("0.12"),
    ppp_multipliers={"HIGH": D("1.00"), "UMID": D("0.90"), "LMID": D("0.80"), "LOW": D("0.70")},
    solidarity_multiplier=D("0.85"),
)


@pytest.mark.parametrize(
    ("duration_s", "credits"),
    [(60, 2), (90, 3), (30, 1), (1, 1), (0.5, 1), (30.5, 2), (59.9, 2), (61, 3), (180, 6),
     (60.00000000000001, 3), (3600, 120)],
)  # fmt: skip
def test_credits_for_duration(duration_s: float, credits: int) -> None:
    assert credits_for_duration(duration_s) == credits


@pytest.mark.parametrize("bad", [0, -1, -0.5, math.nan, math.inf, -math.inf, True, "60", None])
def test_credits_for_duration_refuses_nonsense(bad) -> None:
    with pytest.raises(ValueError, match="duration"):
        credits_for_duration(bad)


# (0.15 + 0.05 + 0.02) / 2 = 0.11 per credit at cost; × 1.12 margin = 0.1232.
HAND_PRICES = {
    ("HIGH", False): D("0.1232"),
    ("HIGH", True): D("0.10472"),  # 0.1232 × 0.85
    ("UMID", False): D("0.11088"),  # 0.1232 × 0.90
    ("UMID", True): D("0.094248"),  # 0.11088 × 0.85
    ("LMID", False): D("0.09856"),  # 0.1232 × 0.80
    ("LMID", True): D("0.083776"),
    ("LOW", False): D("0.08624"),  # 0.1232 × 0.70
    ("LOW", True): D("0.073304"),
}


@pytest.mark.parametrize(("band", "solidarity"), list(HAND_PRICES))
def test_price_per_credit_by_hand(band: str, solidarity: bool) -> None:
    b = price_breakdown(INPUTS, band, solidarity_opt_in=solidarity)
    assert b.base_cost_per_min == D("0.22")
    assert b.base_cost_per_credit == D("0.11")
    assert b.margin_multiplier == D("1.12")
    assert b.ppp_multiplier == INPUTS.ppp_multipliers[band]
    assert b.solidarity_multiplier == (D("0.85") if solidarity else 1)
    assert b.price_per_credit == HAND_PRICES[band, solidarity]
    # The factors multiply out to the result exactly; rounding happens once, at the end.
    product = b.base_cost_per_credit * b.margin_multiplier * b.ppp_multiplier
    assert product * b.solidarity_multiplier == b.price_per_credit
    assert b.price_per_credit_rounded == b.price_per_credit.quantize(D("0.01"))


def test_pack_prices_round_once_half_up() -> None:
    high = price_breakdown(INPUTS, "HIGH", solidarity_opt_in=False)
    # 300 × 0.1232 = 36.96; 700 × 0.1232 = 86.24; 2000 × 0.1232 = 246.40
    assert [(p.credits, p.price, p.unit_amount) for p in pack_prices(high, [2000, 300, 700])] == [
        (300, D("36.96"), 3696),
        (700, D("86.24"), 8624),
        (2000, D("246.40"), 24640),
    ]
    low_solidarity = price_breakdown(INPUTS, "LOW", solidarity_opt_in=True)
    # 300 × 0.073304 = 21.9912 → 21.99; 700 × 0.073304 = 51.3128 → 51.31
    assert pack_price(low_solidarity, 300).price == D("21.99")
    assert pack_price(low_solidarity, 700).unit_amount == 5131
    # Rounding the per-credit price first would give 300 × 0.07 = 21.00: a different number.
    assert pack_price(low_solidarity, 300).price != low_solidarity.price_per_credit_rounded * 300
    umid = price_breakdown(INPUTS, "UMID", solidarity_opt_in=True)
    # 2000 × 0.094248 = 188.496 → 188.50 (half up)
    assert pack_price(umid, 2000).price == D("188.50")


def test_other_inputs_change_the_price() -> None:
    dear = PricingInputs(
        model_cost_per_min=D("0.30"),
        infra_cost_per_min=D("0.06"),
        overhead_per_min=D("0.04"),
        margin_cap=D("0.25"),
        ppp_multipliers={"HIGH": D("1")},
        solidarity_multiplier=D("0.5"),
        currency="eur",
    )
    b = price_breakdown(dear, "HIGH", solidarity_opt_in=True)
    assert b.price_per_credit == D("0.125")  # 0.40 / 2 × 1.25 × 1 × 0.5
    assert pack_price(b, 300).price == D("37.50")
    assert pack_price(b, 300).currency == "eur"


def test_unknown_band_and_empty_pack_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown PPP band 'MARS'"):
        price_breakdown(INPUTS, "MARS", solidarity_opt_in=False)
    with pytest.raises(ValueError, match="at least one credit"):
        pack_price(price_breakdown(INPUTS, "HIGH", solidarity_opt_in=False), 0)


def test_snapshot_is_json_and_exact() -> None:
    snap = price_breakdown(INPUTS, "LMID", solidarity_opt_in=True).snapshot()
    assert snap["price_per_credit"] == "0.083776"
    assert snap["ppp_band"] == "LMID" and snap["solidarity_opt_in"] is True
    assert all(isinstance(v, str | int | bool) for v in snap.values())
