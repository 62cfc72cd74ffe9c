"""The account page: storage use and API tokens (create, shown once; list; revoke).

Plain forms that work without JavaScript; with htmx they swap only the tokens
section. A new token is in the answer to its creation only: the page never
shows it again. Revoking asks for confirmation (htmx's `hx-confirm`, or a
confirmation page without JavaScript). The pages call the same account
services as /api/tokens, so the rules and messages are the API's.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from soundstage.platform.accounts import tokens
from soundstage.platform.accounts.models import ApiToken, User
from soundstage.platform.deps import SessionDep, SettingsDep, StorageDep
from soundstage.platform.errors import AppError, NotFound
from soundstage.platform.quotas import storage_usage
from soundstage.web.auth import PageUser, is_htmx, same_origin
from soundstage.web.templating import render

router = APIRouter(tags=["web"], include_in_schema=False, dependencies=[Depends(same_origin)])

# Lifetimes offered by the form (days; "" = never expires).
LIFETIMES = [("30", "30 days"), ("90", "90 days"), ("365", "1 year"), ("", "Never")]


def _token_rows(session, user: User) -> list[dict[str, Any]]:
    return [
        {"token": row, "active": tokens.is_active(row)}
        for row in tokens.list_api_tokens(session, user.id)
    ]


def _tokens_context(session, settings, user: User, **extra: Any) -> dict[str, Any]:
    return {
        "user": user,
        "tokens": _token_rows(session, user),
        "lifetimes": [(v, label) for v, label in LIFETIMES if not v or int(v) <= settings.api_token_max_days],
        "max_tokens": settings.api_tokens_max_per_user,
        **extra,
    }  # fmt: skip


def _account_page(request: Request, session, settings, storage, user: User, *,
                  status_code: int = 200, **extra: Any) -> Response:  # fmt: skip
    usage = storage_usage(storage, settings, user.id)
    context = _tokens_context(session, settings, user, usage=usage, nav="account", **extra)
    return render(request, "account/account.html", context, status_code=status_code)


def _tokens_section(request: Request, session, settings, storage, user: User, *,
                    status_code: int = 200, **extra: Any) -> Response:  # fmt: skip
    """The tokens section alone for htmx (always 200 so htmx swaps it), or the whole page."""
    if is_htmx(request):
        return render(request, "account/_tokens.html", _tokens_context(session, settings, user, **extra))  # fmt: skip
    return _account_page(request, session, settings, storage, user, status_code=status_code, **extra)  # fmt: skip


@router.get("/account")
def account_page(
    request: Request, user: PageUser, session: SessionDep, settings: SettingsDep,
    storage: StorageDep,
):  # fmt: skip
    return _account_page(request, session, settings, storage, user)


def _lifetime(value: str) -> int | None:
    value = value.strip()
    if not value:
        return None
    if not value.isdigit():
        raise AppError("expires_in_days: choose a lifetime from the list", 422)
    return int(value)


@router.post("/account/tokens")
def create_token(
    request: Request,
    user: PageUser,
    session: SessionDep,
    settings: SettingsDep,
    storage: StorageDep,
    name: Annotated[str, Form(max_length=100)] = "",
    expires_in_days: Annotated[str, Form(max_length=6)] = "",
):
    """Create a token and show it once (201); a refused form shows why (422, nothing stored)."""
    try:
        row, secret = tokens.create_api_token(
            session, settings, user.id, name, _lifetime(expires_in_days)
        )
        session.commit()
    except AppError as exc:
        session.rollback()
        return _tokens_section(request, session, settings, storage, user,
                               status_code=exc.status, error=exc.message, name=name)  # fmt: skip
    return _tokens_section(request, session, settings, storage, user, status_code=201,
                           created={"token": row, "secret": secret})  # fmt: skip


def _own_token(session, user: User, token_id: str) -> ApiToken | None:
    try:
        return tokens.get_api_token(session, user.id, token_id)
    except NotFound:
        return None


def _missing(request: Request, user: User) -> Response:
    return render(request, "error.html",
                  {"user": user, "title": "No such token",
                   "message": "This API token does not exist, or it is not yours."},
                  status_code=404)  # fmt: skip


@router.get("/account/tokens/{token_id}/revoke")
def confirm_revoke(token_id: str, request: Request, user: PageUser, session: SessionDep):
    """The confirmation step when JavaScript is off (htmx asks with hx-confirm instead)."""
    row = _own_token(session, user, token_id)
    if row is None:
        return _missing(request, user)
    return render(request, "account/revoke.html", {"user": user, "token": row, "nav": "account"})


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token(
    token_id: str, request: Request, user: PageUser, session: SessionDep,
    settings: SettingsDep, storage: StorageDep,
):  # fmt: skip
    if _own_token(session, user, token_id) is None:
        return _missing(request, user)
    row = tokens.revoke_api_token(session, user.id, token_id)
    session.commit()
    if is_htmx(request):
        return _tokens_section(request, session, settings, storage, user, revoked=row)
    return RedirectResponse("/account?revoked=1", status_code=303)
