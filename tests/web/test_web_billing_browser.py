"""Credits in a real browser: register → the Credits page shows the 400 trial credits and the
packs → Buy lands on the (fake) Stripe checkout page → a signed webhook → the balance grows."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Server
from tests.providers.fake_stripe import FakeStripe
from tests.web.conftest import register

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(300)]

try:
    from playwright.sync_api import expect
except ImportError:  # the fixtures skip (or fail under CI) with the reason
    expect = None


@pytest.fixture
def fake_stripe() -> Iterator[FakeStripe]:
    with FakeStripe(secret_key="sk_test_browser", webhook_secret="whsec_browser") as fake:
        yield fake


@pytest.fixture
def paid_studio(tmp_path: Path, monkeypatch, fake_stripe: FakeStripe) -> Iterator[Server]:
    """`soundstage serve` with payments through the fake Stripe."""
    monkeypatch.setenv("SOUNDSTAGE_STRIPE_SECRET_KEY", fake_stripe.secret_key)
    monkeypatch.setenv("SOUNDSTAGE_STRIPE_WEBHOOK_SECRET", fake_stripe.webhook_secret)
    monkeypatch.setenv("SOUNDSTAGE_STRIPE_API_BASE", fake_stripe.base_url)
    server = Server(tmp_path / "data")
    server.start()
    yield server
    server.stop()


def test_buy_credits_through_stripe_checkout(paid_studio, fake_stripe, page, shot, browser):
    url = paid_studio.url
    register(page, url)
    page.get_by_role("link", name="Credits").click()
    page.wait_for_url(f"{url}/credits")
    expect(page.get_by_role("heading", name="Credits", level=1)).to_be_visible()
    expect(page.locator("#balance")).to_have_text("400")
    expect(page.locator("#plan")).to_have_text("FREE")
    expect(page.locator("#packs tbody tr")).to_have_count(3)
    expect(page.locator('[data-pack="300"] .pack-price')).to_have_text("36.96 USD")
    expect(page.locator("#ledger tbody tr")).to_have_count(1)
    shot("credits", doc="credits")

    page.get_by_role("button", name="Buy 300 credits").click()
    page.wait_for_url(re.compile(re.escape(fake_stripe.base_url) + r"/c/pay/cs_test_[0-9a-f]+$"))
    expect(page.get_by_role("heading", name="Fake Stripe Checkout")).to_be_visible()
    expect(page.locator("#amount")).to_have_text("Pay 36.96 USD")
    session_id = page.url.rsplit("/", 1)[-1]
    shot("checkout")

    # Stripe confirms the payment to the server, signed.
    payload, headers = fake_stripe.complete(session_id)
    r = httpx.post(f"{url}/api/webhooks/stripe", content=payload, headers=headers, timeout=30)
    assert r.status_code == 200 and r.json()["status"] == "credited", r.text

    page.goto(f"{url}/credits/return?session_id={session_id}")
    expect(page.locator("#payment-status")).to_contain_text("its 300 credits are in your balance")
    expect(page.locator("#balance")).to_have_text("700")
    page.get_by_role("link", name="Back to Credits").click()
    page.wait_for_url(f"{url}/credits")
    expect(page.locator("#balance")).to_have_text("700")
    expect(page.locator("#plan")).to_have_text("PRO")
    expect(page.locator("#ledger tbody tr")).to_have_count(2)
    expect(page.locator("#ledger tbody tr").first).to_contain_text("purchase: 300 credits")
    shot("credits-after-purchase", doc="credits-purchased")

    page.get_by_role("button", name="Take the solidarity price").click()
    page.wait_for_url(re.compile(r"/credits#price$"))
    expect(page.locator("#price-per-credit")).to_contain_text("0.10472 USD")
    expect(page.get_by_role("button", name="Leave the solidarity price")).to_be_visible()
