"""Credits pages: balance, plan and free-tier status, packs at your price, the price
breakdown, the solidarity choice, the ledger; "Buy" goes to Stripe Checkout.

Pages call the same billing functions as the JSON API (pricing, checkout, the free
tier), so rules and messages live in one place. Forms are plain HTML (they work
without JavaScript) and pass the same-origin check every page router applies.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from soundstage.config import Settings
from soundstage.platform.billing import free_tier, service, stripe_gateway
from soundstage.platform.billing.api import pricing_for, start_checkout
from soundstage.platform.deps import SessionDep, SettingsDep
from soundstage.platform.errors import AppError, NotFound
from soundstage.platform.http import PageParams, paginate
from soundstage.web.auth import PageUser, same_origin
from soundstage.web.templating import CSP, render

router = APIRouter(tags=["web"], include_in_schema=False, dependencies=[Depends(same_origin)])

LEDGER_PAGE_SIZE = 20
MAX_SESSION_ID = 255
FORM_ACTION = "form-action 'self'"


def _page_with_buy_forms(
    request: Request, settings: Settings, context: dict[str, Any], status_code: int = 200
) -> Response:
    """The Credits page; its CSP lets "Buy" forms follow the redirect to Stripe's checkout."""
    response = render(request, "billing/credits.html", context, status_code=status_code)
    origins = stripe_gateway.checkout_origins(settings)
    if origins and FORM_ACTION in CSP:
        policy = CSP.replace(FORM_ACTION, " ".join([FORM_ACTION, *origins]))
        response.headers["Content-Security-Policy"] = policy
    return response


def _credits_context(
    session: Session, settings: Settings, user: Any, page: int = 1
) -> dict[str, Any]:
    account = service.open_account(session, user.id, settings)
    ledger = paginate(
        session, service.ledger_query(user.id), PageParams(page=page, page_size=LEDGER_PAGE_SIZE)
    )
    return {
        "user": user,
        "nav": "credits",
        "account": account,
        "pricing": pricing_for(session, settings, user.id),
        "free": free_tier.free_mode_status(session, settings, user.id),
        "ledger": ledger,
        "pages": max(1, -(-ledger["total"] // LEDGER_PAGE_SIZE)),
        "payments": stripe_gateway.payments_configured(settings),
    }


@router.get("/credits")
def credits_page(
    request: Request,
    user: PageUser,
    session: SessionDep,
    settings: SettingsDep,
    page: Annotated[int, Query(ge=1)] = 1,
    checkout: Annotated[str, Query(max_length=20)] = "",
):
    context = _credits_context(session, settings, user, page)
    session.commit()  # an account opened on this first visit
    context["cancelled"] = checkout == "cancelled"
    return _page_with_buy_forms(request, settings, context)


@router.post("/credits/buy")
def buy(
    request: Request,
    user: PageUser,
    session: SessionDep,
    settings: SettingsDep,
    pack: Annotated[int, Form()],
):
    """Create the Checkout Session and send the browser to Stripe's payment page."""
    try:
        checkout = start_checkout(session, settings, user, pack, str(request.base_url))
        session.commit()
    except AppError as exc:
        session.rollback()
        context = _credits_context(session, settings, user)
        session.commit()
        context["error"] = exc.message
        return _page_with_buy_forms(request, settings, context, exc.status)
    return RedirectResponse(checkout.checkout_url, status_code=303)


@router.post("/credits/solidarity")
def solidarity(
    user: PageUser,
    session: SessionDep,
    settings: SettingsDep,
    opt_in: Annotated[bool, Form()],
) -> Response:
    service.set_solidarity(session, user.id, opt_in, settings)
    session.commit()
    return RedirectResponse("/credits#price", status_code=303)


def _paid_checkout(
    session: Session, settings: Settings, user_id: str, session_id: str
) -> dict[str, Any]:
    """What Stripe says of the user's checkout; credits it now if Stripe already has the money.

    The webhook may come later (or never reach a server behind a firewall):
    crediting here too is safe, the checkout session id is unique in the ledger.
    """
    found = stripe_gateway.retrieve_checkout_session(settings, session_id)
    if found.get("client_reference_id") != user_id:
        raise NotFound("no such checkout session")
    result = stripe_gateway.fulfill_checkout(session, settings, found, f"return:{session_id}")
    return {"checkout": found, "result": result}


@router.get("/credits/return")
def checkout_return(
    request: Request,
    user: PageUser,
    session: SessionDep,
    settings: SettingsDep,
    session_id: Annotated[str, Query(min_length=1, max_length=MAX_SESSION_ID)],
):
    """Where Stripe sends the buyer back after paying."""
    context: dict[str, Any] = {"user": user, "nav": "credits", "session_id": session_id}
    status_code = 200
    try:
        context.update(_paid_checkout(session, settings, user.id, session_id))
        session.commit()
    except NotFound:
        session.rollback()
        context["error"] = "This payment is unknown, or it is not yours."
        status_code = 404
    except AppError as exc:  # payments off, or Stripe unreachable: the webhook still counts
        session.rollback()
        context["error"] = exc.message
    context["balance"] = service.balance(session, user.id, settings)
    session.commit()
    return render(request, "billing/return.html", context, status_code=status_code)
