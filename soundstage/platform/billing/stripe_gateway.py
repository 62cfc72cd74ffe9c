"""Stripe payments with the official `stripe` library: Checkout Sessions and verified webhooks.

The API address is a setting (`stripe_api_base`), so tests talk to a local fake
that speaks the same HTTP API. Without a secret key nothing pretends: checkout
answers 503 "payments are not configured on this server". A pack is credited
once per payment: the Stripe event id and the Checkout Session id are both
unique in the ledger.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import stripe
from sqlalchemy.orm import Session

from soundstage.config import Settings
from soundstage.platform.billing import service
from soundstage.platform.billing.pricing import PackPrice, PriceBreakdown
from soundstage.platform.errors import AppError, NotFound

log = logging.getLogger("soundstage.billing.stripe")

WEBHOOK_TOLERANCE_S = 300
STRIPE_CHECKOUT_ORIGIN = "https://checkout.stripe.com"
CREDITING_EVENTS = {"checkout.session.completed", "checkout.session.async_payment_succeeded"}


class PaymentsNotConfigured(AppError):
    status = 503


class PaymentProviderError(AppError):
    """Stripe refused or could not be reached (502: the fault is upstream, not the request)."""

    status = 502


class WebhookRejected(AppError):
    status = 400


@dataclass(frozen=True)
class CheckoutSession:
    id: str
    url: str


@dataclass(frozen=True)
class WebhookResult:
    status: str  # credited, duplicate, ignored
    credits: int = 0
    reason: str | None = None


def payments_configured(settings: Settings) -> bool:
    key = settings.stripe_secret_key
    return bool(key and key.get_secret_value())


def checkout_origins(settings: Settings) -> list[str]:
    """Where Checkout pages live: Stripe's own, and the configured API's host (a fake or a proxy).

    Pages that post a "Buy" form allow these in their CSP `form-action`, since the
    browser checks the redirect to the payment page against it.
    """
    if not payments_configured(settings):
        return []
    api = urlsplit(settings.stripe_api_base)
    origins = [STRIPE_CHECKOUT_ORIGIN]
    if api.scheme in ("http", "https") and api.netloc:
        origins.append(f"{api.scheme}://{api.netloc}")
    return list(dict.fromkeys(origins))


def require_payments(settings: Settings) -> str:
    """The Stripe secret key; 503 "payments are not configured" when there is none."""
    key = settings.stripe_secret_key.get_secret_value() if settings.stripe_secret_key else ""
    if not key:
        raise PaymentsNotConfigured(
            "payments are not configured on this server "
            "(the administrator sets SOUNDSTAGE_STRIPE_SECRET_KEY)"
        )
    return key


def stripe_client(settings: Settings) -> stripe.StripeClient:
    """A client for the configured key and API address; 503 when no key is set."""
    return stripe.StripeClient(
        require_payments(settings),
        base_addresses={"api": settings.stripe_api_base.rstrip("/")},
        http_client=stripe.RequestsClient(timeout=settings.stripe_timeout_s),
        max_network_retries=2,
    )


def _provider_error(exc: stripe.StripeError) -> PaymentProviderError:
    message = getattr(exc, "user_message", None) or str(exc) or type(exc).__name__
    return PaymentProviderError(f"the payment provider refused the request: {message}")


def create_checkout_session(
    settings: Settings,
    *,
    user_id: str,
    email: str | None,
    pack: PackPrice,
    breakdown: PriceBreakdown,
    base_url: str,
) -> CheckoutSession:
    """A Stripe-hosted payment page for one credit pack at this buyer's price."""
    client = stripe_client(settings)
    base = (settings.public_url or base_url).rstrip("/")
    metadata = {
        "user_id": user_id,
        "pack": str(pack.credits),
        "credits": str(pack.credits),
        "unit_amount": str(pack.unit_amount),
        "ppp_band": breakdown.ppp_band,
        "solidarity_opt_in": "true" if breakdown.solidarity_opt_in else "false",
        "price_per_credit": str(breakdown.price_per_credit),
    }
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": pack.currency,
                    "unit_amount": pack.unit_amount,
                    "product_data": {
                        "name": f"{pack.credits} Soundstage credits",
                        "description": f"{pack.credits} credits = {pack.credits * 30 // 60} "
                        "minutes of generated audio",
                    },
                },
            }
        ],
        "metadata": metadata,
        "payment_intent_data": {"metadata": metadata},
        "client_reference_id": user_id,
        "success_url": f"{base}/credits/return?session_id={{CHECKOUT_SESSION_ID}}",
        "cancel_url": f"{base}/credits?checkout=cancelled",
    }
    if email:
        params["customer_email"] = email
    try:
        created = client.v1.checkout.sessions.create(params=params)  # type: ignore[arg-type]
    except stripe.StripeError as exc:
        log.warning("Stripe checkout session failed: %s", exc)
        raise _provider_error(exc) from exc
    if not created.url:
        raise PaymentProviderError("the payment provider returned no checkout page address")
    return CheckoutSession(id=created.id, url=created.url)


def retrieve_checkout_session(settings: Settings, session_id: str) -> dict[str, Any]:
    """The Checkout Session as a plain dict (for the return page)."""
    client = stripe_client(settings)
    try:
        found = client.v1.checkout.sessions.retrieve(session_id)
    except stripe.InvalidRequestError as exc:
        raise NotFound("no such checkout session") from exc
    except stripe.StripeError as exc:
        raise _provider_error(exc) from exc
    return found.to_dict()


def verify_webhook(settings: Settings, payload: bytes, signature: str | None) -> dict[str, Any]:
    """The event, once its Stripe-Signature and timestamp check out; 400 with the reason otherwise."""
    hook_secret = settings.stripe_webhook_secret
    secret = hook_secret.get_secret_value() if hook_secret else ""
    if not secret:
        raise PaymentsNotConfigured(
            "Stripe webhooks are not configured on this server "
            "(the administrator sets SOUNDSTAGE_STRIPE_WEBHOOK_SECRET)"
        )
    if not signature:
        raise WebhookRejected("missing Stripe-Signature header")
    try:
        event = json.loads(payload)
    except ValueError as exc:
        raise WebhookRejected("webhook body is not valid JSON") from exc
    if not isinstance(event, dict) or not isinstance(event.get("id"), str):
        raise WebhookRejected("webhook body is not a Stripe event (a JSON object with an id)")
    try:  # the signature over the raw bytes, and the timestamp's age
        stripe.Webhook.construct_event(payload, signature, secret, tolerance=WEBHOOK_TOLERANCE_S)
    except stripe.SignatureVerificationError as exc:
        if "tolerance" in str(exc):
            raise WebhookRejected(
                f"stale Stripe webhook: its timestamp is more than {WEBHOOK_TOLERANCE_S} s old "
                "(a replayed request, or a clock that is off)"
            ) from exc
        raise WebhookRejected(
            "invalid Stripe signature: the payload was not signed with this server's webhook secret"
        ) from exc
    return event


def _pack_credits(metadata: dict[str, Any]) -> int | None:
    try:
        credits = int(str(metadata.get("credits", "")))
    except ValueError:
        return None
    return credits if credits > 0 else None


def fulfill_checkout(
    session: Session, settings: Settings, checkout: dict[str, Any], external_id: str
) -> WebhookResult:
    """Credit a paid Checkout Session's pack to its buyer, once (keyed by `external_id` too)."""
    if checkout.get("payment_status") != "paid":
        return WebhookResult("ignored", reason="the checkout session is not paid yet")
    metadata = checkout.get("metadata") or {}
    user_id = metadata.get("user_id") or checkout.get("client_reference_id")
    credits = _pack_credits(metadata)
    if not user_id or credits is None:
        log.warning("checkout session %s has no Soundstage pack metadata", checkout.get("id"))
        return WebhookResult("ignored", reason="not a Soundstage credit pack")
    snapshot = {
        "checkout_session": checkout.get("id"),
        "amount_total": checkout.get("amount_total"),
        "currency": checkout.get("currency"),
        "payment_intent": checkout.get("payment_intent"),
        "metadata": dict(metadata),
    }
    try:
        _, created = service.record_purchase(
            session,
            user_id,
            credits,
            external_id,
            snapshot,
            checkout_session_id=checkout.get("id"),
            settings=settings,
        )
    except NotFound:
        log.warning("paid checkout %s for unknown user %s", checkout.get("id"), user_id)
        return WebhookResult("ignored", reason="the buyer's account no longer exists")
    return WebhookResult("credited" if created else "duplicate", credits=credits)


def handle_event(session: Session, settings: Settings, event: dict[str, Any]) -> WebhookResult:
    """Act on a verified event: paid checkouts credit their pack; other types are ignored."""
    event_type = event.get("type")
    if event_type not in CREDITING_EVENTS:
        return WebhookResult("ignored", reason=f"event type {event_type!r} is not used")
    checkout = (event.get("data") or {}).get("object") or {}
    if checkout.get("object") != "checkout.session":
        return WebhookResult("ignored", reason="the event carries no checkout session")
    return fulfill_checkout(session, settings, checkout, external_id=event["id"])
