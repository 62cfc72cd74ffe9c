"""Server-side tests of the Credits pages: login redirect, what the page shows, Buy → Stripe
(303 to the fake's checkout page), the same-origin rule, the solidarity toggle, the return
page (credits once, also when the webhook comes too), errors shown on the page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from soundstage.config import Settings
from soundstage.platform.billing import service
from tests.conftest import make_settings
from tests.providers.fake_stripe import FakeStripe

ORIGIN = {"origin": "http://testserver"}
PASSWORD = "credits-page-passphrase-3"
WEBHOOK = "/api/webhooks/stripe"


@pytest.fixture(scope="module")
def fake_stripe() -> Iterator[FakeStripe]:
    with FakeStripe(secret_key="sk_test_pages", webhook_secret="whsec_pages") as fake:
        yield fake


def stripe_settings(fake: FakeStripe) -> dict[str, object]:
    return {"stripe_secret_key": fake.secret_key, "stripe_webhook_secret": fake.webhook_secret,
            "stripe_api_base": fake.base_url, "rate_limit_enabled": False}  # fmt: skip


@pytest.fixture
def settings(tmp_path: Path, fake_stripe: FakeStripe) -> Settings:
    return make_settings(tmp_path / "data", **stripe_settings(fake_stripe))


def register(client, email: str = "buyer@example.com") -> str:
    r = client.post("/register", data={"email": email, "password": PASSWORD,
                                       "password_again": PASSWORD},
                    headers=ORIGIN, follow_redirects=False)  # fmt: skip
    assert r.status_code == 303, r.text
    with client.app.state.db.session() as session:
        from soundstage.platform.accounts.service import get_user_by_email

        return get_user_by_email(session, email).id


@pytest.fixture
def buyer(client) -> str:
    return register(client)


def buy(client, pack: str = "300", headers=ORIGIN):
    return client.post("/credits/buy", data={"pack": pack}, headers=headers, follow_redirects=False)


def test_credits_page_needs_login(client) -> None:
    r = client.get("/credits", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/credits"


def test_credits_page_shows_balance_plan_packs_breakdown_and_ledger(client, buyer) -> None:
    r = client.get("/credits")
    assert r.status_code == 200
    page = r.text
    assert re.search(r'id="balance">400<', page)
    assert re.search(r'id="plan">FREE<', page)
    assert 'href="/credits" aria-current="page"' in page
    for credits, price in (("300", "36.96"), ("700", "86.24"), ("2000", "246.40")):
        assert f'data-pack="{credits}"' in page and f"{price} USD" in page
    assert 'id="price-per-credit">0.1232 USD' in page
    assert "5 of 5 tracks left today; each at most 60 s" in page
    assert "trial: 400 free credits" in page and "1 entry." in page
    assert "Payments are not configured" not in page
    assert "Take the solidarity price" in page


def test_buy_redirects_to_the_stripe_checkout_page(client, buyer, fake_stripe) -> None:
    r = buy(client, "700")
    assert r.status_code == 303
    location = r.headers["location"]
    session_id = location.rsplit("/", 1)[-1]
    assert location == f"{fake_stripe.base_url}/c/pay/{session_id}"
    created = fake_stripe.sessions[session_id]
    assert created["amount_total"] == 8624
    assert created["metadata"]["user_id"] == buyer
    assert created["client_reference_id"] == buyer


def test_buy_refuses_cross_site_posts(client, buyer, fake_stripe) -> None:
    before = len(fake_stripe.sessions)
    assert buy(client, headers={"origin": "https://evil.example"}).status_code == 403
    assert buy(client, headers={}).status_code == 403
    assert len(fake_stripe.sessions) == before


def test_buy_errors_are_shown_on_the_page(client, buyer) -> None:
    r = buy(client, "123")
    assert r.status_code == 422
    assert "pack: choose one of 300, 700, 2000 credits" in r.text
    assert re.search(r'id="balance">400<', r.text)
    assert buy(client, "lots").status_code == 422


def test_without_payments_the_page_says_so(make_client) -> None:
    client = make_client(rate_limit_enabled=False)
    register(client)
    page = client.get("/credits").text
    assert "Payments are not configured on this server" in page
    assert page.count('disabled aria-label="Buy') == 3
    r = buy(client)
    assert r.status_code == 503
    assert "payments are not configured on this server" in r.text


def test_solidarity_toggle(client, buyer) -> None:
    r = client.post("/credits/solidarity", data={"opt_in": "true"}, headers=ORIGIN,
                    follow_redirects=False)  # fmt: skip
    assert r.status_code == 303 and r.headers["location"] == "/credits#price"
    page = client.get("/credits").text
    assert "Leave the solidarity price" in page
    assert 'id="price-per-credit">0.10472 USD' in page and "31.42 USD" in page
    client.post("/credits/solidarity", data={"opt_in": "false"}, headers=ORIGIN)
    assert "Take the solidarity price" in client.get("/credits").text
    cross = client.post("/credits/solidarity", data={"opt_in": "true"},
                        headers={"origin": "https://evil.example"})  # fmt: skip
    assert cross.status_code == 403
    assert "Take the solidarity price" in client.get("/credits").text


def test_cancelled_checkout_notice(client, buyer) -> None:
    assert (
        "Payment cancelled: nothing was charged." in client.get("/credits?checkout=cancelled").text
    )


def test_return_page_before_stripe_confirms(client, buyer) -> None:
    session_id = buy(client).headers["location"].rsplit("/", 1)[-1]
    r = client.get(f"/credits/return?session_id={session_id}")
    assert r.status_code == 200
    assert "the credits arrive when Stripe confirms it" in r.text
    assert re.search(r'id="balance">400<', r.text)


def test_return_page_and_webhook_credit_once(client, buyer, fake_stripe) -> None:
    session_id = buy(client).headers["location"].rsplit("/", 1)[-1]
    fake_stripe.mark_paid(session_id)
    r = client.get(f"/credits/return?session_id={session_id}")
    assert "Payment received: 300 credits were added." in r.text
    assert re.search(r'id="balance">700<', r.text)
    payload, headers = fake_stripe.event("checkout.session.completed",
                                         fake_stripe.sessions[session_id])  # fmt: skip
    assert client.post(WEBHOOK, content=payload, headers=headers).json()["status"] == "duplicate"
    again = client.get(f"/credits/return?session_id={session_id}")
    assert "its 300 credits are in your balance" in again.text
    assert re.search(r'id="balance">700<', again.text)
    with client.app.state.db.session() as session:
        assert service.balance(session, buyer) == 700
        assert service.ledger_sum(session, buyer) == 700


def test_return_page_for_someone_elses_or_unknown_session_is_404(client, buyer) -> None:
    session_id = buy(client).headers["location"].rsplit("/", 1)[-1]
    client.cookies.clear()
    register(client, "other@example.com")
    r = client.get(f"/credits/return?session_id={session_id}")
    assert r.status_code == 404 and "unknown, or it is not yours" in r.text
    assert client.get("/credits/return?session_id=cs_test_nope").status_code == 404


def test_ledger_notes_are_escaped(client, buyer) -> None:
    with client.app.state.db.session() as session:
        service.adjust(session, buyer, 5, '<script>alert("x")</script>', buyer)
        session.commit()
    page = client.get("/credits").text
    assert '<script>alert("x")</script>' not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page


def test_buy_forms_may_follow_the_redirect_to_checkout_and_nowhere_else(client, buyer, fake_stripe):
    """The browser checks the redirect after a form post against CSP form-action."""
    csp = client.get("/credits").headers["content-security-policy"]
    directive = next(d.strip() for d in csp.split(";") if d.strip().startswith("form-action"))
    assert directive == f"form-action 'self' https://checkout.stripe.com {fake_stripe.base_url}"
    assert "script-src 'self';" in csp  # the rest of the policy is unchanged
    other = client.get("/").headers["content-security-policy"]
    assert "form-action 'self';" in other
