"""Routes: credits, ledger, cost preview, pricing, checkout, the Stripe webhook, free-mode
status, and the administrator's adjustments (tag "billing")."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from fastapi import APIRouter, FastAPI, Header, Query, Request
from sqlalchemy.orm import Session

from soundstage.config import Settings
from soundstage.platform.billing import free_tier, service, stripe_gateway
from soundstage.platform.billing.models import LedgerKind
from soundstage.platform.billing.pricing import (
    SECONDS_PER_CREDIT,
    credits_for_duration,
    pack_prices,
)
from soundstage.platform.billing.schemas import (
    MAX_PREVIEW_DURATION_S,
    AdminBillingIn,
    AdminBillingOut,
    AdminCreditsIn,
    BillingSettingsIn,
    CheckoutIn,
    CheckoutOut,
    CostPreviewOut,
    CreditsOut,
    FreeModeStatusOut,
    FreeTierVerdict,
    LedgerEntryOut,
    PackOut,
    PriceBreakdownOut,
    PricingOut,
    WebhookOut,
)
from soundstage.platform.db import Database
from soundstage.platform.deps import (
    AdminUser,
    CurrentUser,
    DatabaseDep,
    SessionDep,
    SettingsDep,
)
from soundstage.platform.errors import AppError, Forbidden
from soundstage.platform.http import Page, PageDep, paginate
from soundstage.platform.jobs import get_job_type, registered_types

router = APIRouter(tags=["billing"])

MAX_WEBHOOK_BYTES = 1 << 20


def _credits_out(account: Any) -> CreditsOut:
    return CreditsOut.model_validate(account)


@router.get("/api/credits", response_model=CreditsOut)
def get_credits(user: CurrentUser, session: SessionDep, settings: SettingsDep) -> CreditsOut:
    """Your balance, plan, pricing band and solidarity choice."""
    account = service.open_account(session, user.id, settings)
    session.commit()
    return _credits_out(account)


@router.get("/api/credits/ledger", response_model=Page[LedgerEntryOut])
def get_ledger(
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    page: PageDep,
    kind: Annotated[LedgerKind | None, Query(description="Only entries of this kind")] = None,
) -> dict[str, Any]:
    """Every change of your balance, newest first."""
    service.open_account(session, user.id, settings)
    session.commit()
    return paginate(
        session, service.ledger_query(user.id, kind), page, LedgerEntryOut.model_validate
    )


def preview_cost(
    session: Session, settings: Settings, user_id: str, duration_s: float, job_type: str | None
) -> CostPreviewOut:
    """What a job of `duration_s` seconds would cost this user, and whether it may start."""
    if job_type and get_job_type(job_type) is None:
        known = ", ".join(registered_types()) or "none registered"
        raise AppError(f"job_type: unknown job type {job_type!r} (known: {known})", 422)
    try:
        credits = credits_for_duration(duration_s)
    except ValueError as exc:
        raise AppError(f"duration_s: {exc}", 422) from exc
    service.open_account(session, user_id, settings)
    verdict = free_tier.free_tier_verdict(session, settings, user_id, duration_s)
    balance = service.balance(session, user_id, settings)
    return CostPreviewOut(
        duration_s=duration_s,
        job_type=job_type,
        credits_required=credits,
        balance=balance,
        balance_after=balance - credits,
        affordable=balance >= credits,
        free_tier=FreeTierVerdict(**verdict),
    )


@router.get("/api/credits/cost-preview", response_model=CostPreviewOut)
def cost_preview(
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    duration_s: Annotated[
        float, Query(gt=0, le=MAX_PREVIEW_DURATION_S, description="Length of the track, seconds")
    ],
    job_type: Annotated[
        str | None, Query(max_length=100, description="The job type it would run as")
    ] = None,
) -> CostPreviewOut:
    """Credits a job of this length costs (1 per started 30 s), your balance after it, and
    whether the free plan allows it. Nothing is charged."""
    preview = preview_cost(session, settings, user.id, duration_s, job_type)
    session.commit()
    return preview


def pricing_for(session: Session, settings: Settings, user_id: str) -> PricingOut:
    account = service.open_account(session, user_id, settings)
    breakdown = service.breakdown_for(settings, account)
    return PricingOut(
        seconds_per_credit=SECONDS_PER_CREDIT,
        breakdown=PriceBreakdownOut.model_validate(breakdown),
        packs=[PackOut.model_validate(p) for p in pack_prices(breakdown, settings.credit_packs)],
    )


@router.get("/api/pricing", response_model=PricingOut)
def get_pricing(user: CurrentUser, session: SessionDep, settings: SettingsDep) -> PricingOut:
    """The price of a credit for you (every factor shown) and the packs at that price."""
    pricing = pricing_for(session, settings, user.id)
    session.commit()
    return pricing


@router.patch("/api/credits/settings", response_model=CreditsOut)
def update_settings(
    body: BillingSettingsIn, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> CreditsOut:
    """Opt in to (or out of) the solidarity price. The pricing band and plan are set by an
    administrator."""
    if body.ppp_band is not None or body.plan is not None:
        raise Forbidden(
            "only an administrator can change the pricing band or the plan; "
            "you may change solidarity_opt_in"
        )
    if body.solidarity_opt_in is None:
        raise AppError("solidarity_opt_in: give true or false", 422)
    account = service.set_solidarity(session, user.id, body.solidarity_opt_in, settings)
    session.commit()
    return _credits_out(account)


def start_checkout(
    session: Session, settings: Settings, user: Any, pack: int, base_url: str
) -> CheckoutOut:
    """A Stripe Checkout Session for one of the configured packs at the user's price."""
    stripe_gateway.require_payments(settings)
    if pack not in settings.credit_packs:
        packs = ", ".join(str(p) for p in sorted(settings.credit_packs))
        raise AppError(f"pack: choose one of {packs} credits", 422)
    account = service.open_account(session, user.id, settings)
    breakdown = service.breakdown_for(settings, account)
    (price,) = pack_prices(breakdown, [pack])
    checkout = stripe_gateway.create_checkout_session(
        settings,
        user_id=user.id,
        email=user.email,
        pack=price,
        breakdown=breakdown,
        base_url=base_url,
    )
    return CheckoutOut(
        checkout_url=checkout.url,
        session_id=checkout.id,
        credits=pack,
        price=price.price,
        currency=price.currency,
    )


@router.post("/api/credits/checkout", response_model=CheckoutOut)
def checkout(
    body: CheckoutIn,
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
) -> CheckoutOut:
    """Start paying for a credit pack: open `checkout_url` (Stripe's payment page). Credits
    arrive when Stripe confirms the payment to POST /api/webhooks/stripe."""
    out = start_checkout(session, settings, user, body.pack, str(request.base_url))
    session.commit()
    return out


def _process_webhook(
    db: Database, settings: Settings, payload: bytes, signature: str | None
) -> WebhookOut:
    event = stripe_gateway.verify_webhook(settings, payload, signature)
    with db.session() as session:
        result = stripe_gateway.handle_event(session, settings, event)
        session.commit()
    return WebhookOut(status=result.status, credits=result.credits, reason=result.reason)


WEBHOOK_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "description": "A Stripe event, exactly as Stripe sent it (the signature covers "
                "the raw bytes)",
                "required": ["id", "type", "data"],
                "properties": {
                    "id": {"type": "string"},
                    "type": {"type": "string"},
                    "data": {"type": "object"},
                },
            }
        }
    },
}


@router.post(
    "/api/webhooks/stripe",
    response_model=WebhookOut,
    responses={400: {"description": "Bad signature, stale timestamp or not an event"}},
    openapi_extra={"requestBody": WEBHOOK_BODY},
)
async def stripe_webhook(
    request: Request,
    db: DatabaseDep,
    settings: SettingsDep,
    stripe_signature: Annotated[
        str | None, Header(description="t=<unix time>,v1=<HMAC-SHA256 of t.payload>")
    ] = None,
) -> WebhookOut:
    """Stripe's events, verified by their Stripe-Signature (no login). A paid checkout
    credits its pack once, however often Stripe delivers it; other event types are ignored."""
    payload = await request.body()
    if len(payload) > MAX_WEBHOOK_BYTES:
        raise AppError("webhook body too large", 413)
    return await anyio.to_thread.run_sync(_process_webhook, db, settings, payload, stripe_signature)


@router.get("/api/free-mode/status", response_model=FreeModeStatusOut)
def free_mode_status(
    user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> FreeModeStatusOut:
    """The free plan's limits and what is left of today's."""
    status = free_tier.free_mode_status(session, settings, user.id)
    session.commit()
    return FreeModeStatusOut(**status)


@router.post("/api/admin/users/{user_id}/credits", response_model=LedgerEntryOut, status_code=201)
def admin_adjust(
    user_id: str, body: AdminCreditsIn, admin: AdminUser, session: SessionDep, settings: SettingsDep
) -> LedgerEntryOut:
    """Add (or take, with a negative amount) credits; never below zero (409). Recorded in the
    user's ledger as an ADJUSTMENT with your note."""
    entry = service.adjust(session, user_id, body.amount, body.note, admin.id, settings)
    session.commit()
    return LedgerEntryOut.model_validate(entry)


@router.patch("/api/admin/users/{user_id}/billing", response_model=AdminBillingOut)
def admin_billing(
    user_id: str, body: AdminBillingIn, admin: AdminUser, session: SessionDep, settings: SettingsDep
) -> AdminBillingOut:
    """Set a user's plan and/or purchasing-power band."""
    account = service.update_billing(
        session, user_id, plan=body.plan, ppp_band=body.ppp_band, settings=settings
    )
    session.commit()
    return AdminBillingOut.model_validate(account)


def install(app: FastAPI) -> None:
    """The job rules (refund on failure, charge on retry). The router itself is included by the app with the other platform routers."""
    service.install_job_rules()
