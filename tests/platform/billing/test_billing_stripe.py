"""Stripe through the official library against a fake Stripe on loopback: checkout sessions,
503 when unconfigured, and webhooks (forged, stale, replayed, same session twice, unpaid,
unknown types)."""

from __future__ import annotations

import json
import time

import pytest

from tests.platform.billing.conftest import assert_ledger_consistent, stripe_overrides
from tests.providers.fake_stripe import FakeStripe, sign

WEBHOOK = "/api/webhooks/stripe"


def checkout(client, user, pack: int = 300) -> dict:
    r = client.post("/api/credits/checkout", json={"pack": pack}, headers=user.headers)
    assert r.status_code == 200, r.text
    return r.json()


def balance(client, user) -> int:
    return client.get("/api/credits", headers=user.headers).json()["balance"]


def test_checkout_creates_a_stripe_session_at_the_users_price(client, user, fake_stripe):
    body = checkout(client, user, 700)
    assert body["session_id"].startswith("cs_test_")
    assert body["checkout_url"] == f"{fake_stripe.base_url}/c/pay/{body['session_id']}"
    assert (body["credits"], body["price"], body["currency"]) == (700, "86.24", "usd")
    sent = fake_stripe.requests[-1]
    assert sent.headers["authorization"] == f"Bearer {fake_stripe.secret_key}"
    assert sent.form["mode"] == "payment"
    item = sent.form["line_items"][0]
    assert item["quantity"] == "1"
    assert item["price_data"]["unit_amount"] == "8624"
    assert item["price_data"]["currency"] == "usd"
    assert item["price_data"]["product_data"]["name"] == "700 Soundstage credits"
    assert sent.form["metadata"]["user_id"] == user.id
    assert sent.form["metadata"]["credits"] == "700" and sent.form["metadata"]["pack"] == "700"
    assert sent.form["client_reference_id"] == user.id
    assert sent.form["customer_email"] == user.email
    assert sent.form["success_url"] == (
        "http://testserver/credits/return?session_id={CHECKOUT_SESSION_ID}"
    )
    assert sent.form["cancel_url"] == "http://testserver/credits?checkout=cancelled"
    assert balance(client, user) == 400  # nothing until Stripe confirms


def test_checkout_uses_public_url_when_set(make_client, fake_stripe, make_user_on):
    client = make_client(public_url="https://studio.example.com/", rate_limit_enabled=False,
                         **stripe_overrides(fake_stripe))  # fmt: skip
    user = make_user_on(client)
    checkout(client, user)
    assert (
        fake_stripe.requests[-1]
        .form["success_url"]
        .startswith("https://studio.example.com/credits/return?session_id=")
    )


@pytest.mark.parametrize("pack", [0, 1, 299, 5000, -300])
def test_checkout_refuses_unknown_packs(client, user, fake_stripe, pack: int) -> None:
    r = client.post("/api/credits/checkout", json={"pack": pack}, headers=user.headers)
    assert r.status_code == 422
    assert r.json()["detail"] == "pack: choose one of 300, 700, 2000 credits"
    assert fake_stripe.requests == []


def test_checkout_without_a_key_is_503_and_never_pretends(make_client, make_user_on, fake_stripe):
    client = make_client(rate_limit_enabled=False)
    user = make_user_on(client)
    r = client.post("/api/credits/checkout", json={"pack": 300}, headers=user.headers)
    assert r.status_code == 503
    assert r.json()["detail"].startswith("payments are not configured on this server")
    assert fake_stripe.requests == []
    hook = client.post(WEBHOOK, content=b"{}", headers={"Stripe-Signature": "t=1,v1=00"})
    assert hook.status_code == 503
    assert "webhooks are not configured" in hook.json()["detail"]


def test_checkout_when_stripe_refuses_is_502(make_client, make_user_on, fake_stripe):
    overrides = stripe_overrides(fake_stripe) | {"stripe_secret_key": "sk_test_revoked"}
    client = make_client(rate_limit_enabled=False, **overrides)
    user = make_user_on(client)
    r = client.post("/api/credits/checkout", json={"pack": 300}, headers=user.headers)
    assert r.status_code == 502
    assert "payment provider refused" in r.json()["detail"]
    assert "Invalid API Key" in r.json()["detail"]


def test_paid_checkout_credits_once_and_lifts_the_free_plan(client, user, fake_stripe):
    session_id = checkout(client, user)["session_id"]
    payload, headers = fake_stripe.complete(session_id)
    r = client.post(WEBHOOK, content=payload, headers=headers)
    assert r.status_code == 200
    assert r.json() == {"received": True, "status": "credited", "credits": 300, "reason": None}
    credits = client.get("/api/credits", headers=user.headers).json()
    assert (credits["balance"], credits["plan"]) == (700, "PRO")
    purchase = client.get("/api/credits/ledger?kind=PURCHASE", headers=user.headers).json()
    (entry,) = purchase["items"]
    assert entry["amount"] == 300 and entry["balance_after"] == 700
    snapshot = entry["pricing_snapshot"]
    assert snapshot["checkout_session"] == session_id
    assert (snapshot["amount_total"], snapshot["currency"]) == (3696, "usd")
    assert snapshot["metadata"]["price_per_credit"] == "0.1232"

    # The same delivery again (Stripe retries), and a second event for the same payment.
    replay = client.post(WEBHOOK, content=payload, headers=headers)
    assert replay.status_code == 200 and replay.json()["status"] == "duplicate"
    second_payload, second_headers = fake_stripe.event(
        "checkout.session.async_payment_succeeded", fake_stripe.sessions[session_id]
    )
    second = client.post(WEBHOOK, content=second_payload, headers=second_headers)
    assert second.status_code == 200 and second.json()["status"] == "duplicate"
    assert balance(client, user) == 700
    assert_ledger_consistent(client.app.state.db, user.id)


def test_forged_signature_is_400_and_credits_nothing(client, user, fake_stripe):
    session_id = checkout(client, user)["session_id"]
    payload, headers = fake_stripe.complete(session_id, secret="whsec_attacker")
    r = client.post(WEBHOOK, content=payload, headers=headers)
    assert r.status_code == 400
    assert "invalid Stripe signature" in r.json()["detail"]
    genuine, genuine_headers = fake_stripe.complete(session_id)
    tampered = genuine.replace(b'"300"', b'"30000"')
    assert tampered != genuine
    r = client.post(WEBHOOK, content=tampered, headers=genuine_headers)
    assert r.status_code == 400
    for bad in ({}, {"Stripe-Signature": ""}, {"Stripe-Signature": "garbage"}):
        r = client.post(WEBHOOK, content=genuine, headers=bad)
        assert r.status_code == 400, bad
    assert balance(client, user) == 400


def test_stale_timestamp_is_400(client, user, fake_stripe):
    session_id = checkout(client, user)["session_id"]
    old = int(time.time()) - 301
    payload, headers = fake_stripe.complete(session_id, timestamp=old)
    r = client.post(WEBHOOK, content=payload, headers=headers)
    assert r.status_code == 400
    assert "stale Stripe webhook" in r.json()["detail"] and "300 s" in r.json()["detail"]
    assert balance(client, user) == 400
    fresh_payload, fresh_headers = fake_stripe.complete(session_id)
    assert client.post(WEBHOOK, content=fresh_payload, headers=fresh_headers).json()["status"] == (
        "credited"
    )


def test_unknown_unpaid_and_foreign_events_are_ignored_with_200(client, user, fake_stripe):
    session_id = checkout(client, user)["session_id"]
    for event_type, obj in [
        ("customer.created", {"object": "customer", "id": "cus_1"}),
        ("checkout.session.completed", fake_stripe.sessions[session_id]),  # still unpaid
        ("checkout.session.completed", {"object": "checkout.session", "id": "cs_other",
                                        "payment_status": "paid", "metadata": {}}),
    ]:  # fmt: skip
        payload, headers = fake_stripe.event(event_type, obj)
        r = client.post(WEBHOOK, content=payload, headers=headers)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "ignored" and r.json()["reason"]
    assert balance(client, user) == 400


def test_signed_garbage_is_400(client, fake_stripe):
    for payload in (b"not json", b"[1, 2]", json.dumps({"type": "x"}).encode()):
        headers = {"Stripe-Signature": sign(payload, fake_stripe.webhook_secret)}
        r = client.post(WEBHOOK, content=payload, headers=headers)
        assert r.status_code == 400, payload


def test_purchase_for_a_deleted_user_is_acknowledged(client, user, fake_stripe):
    session_id = checkout(client, user)["session_id"]
    with client.app.state.db.session() as session:
        from soundstage.platform.accounts.models import User

        session.delete(session.get(User, user.id))
        session.commit()
    payload, headers = fake_stripe.complete(session_id)
    r = client.post(WEBHOOK, content=payload, headers=headers)
    assert r.status_code == 200 and r.json()["status"] == "ignored"


def test_fake_signature_matches_the_library(fake_stripe: FakeStripe) -> None:
    """The fake signs independently; the official library accepts it (and only the right key)."""
    import stripe

    payload, headers = fake_stripe.event("ping", {})
    event = stripe.Webhook.construct_event(payload, headers["Stripe-Signature"], "whsec_billing")
    assert event.type == "ping"
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload, headers["Stripe-Signature"], "whsec_other")
