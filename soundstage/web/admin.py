"""The administrators' page: list and search accounts, change roles, disable or enable them,
and adjust credit balances.

Only administrators see it (others get a 403 page). The actions call the same
functions as the JSON API (/api/admin/users and the billing helper's
/api/admin/users/{id}/credits), so the rules and messages are the API's: an
administrator cannot demote or disable themselves, and a balance never goes
below zero. With htmx each action swaps only its table row (the outcome or the
refusal shown in it); without JavaScript the forms post and come back to the list.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select

from soundstage.platform.accounts import admin
from soundstage.platform.accounts.models import Role, User
from soundstage.platform.billing import api as billing_api
from soundstage.platform.billing.models import CreditAccount
from soundstage.platform.billing.schemas import AdminCreditsIn
from soundstage.platform.deps import SessionDep, SettingsDep
from soundstage.platform.errors import AppError
from soundstage.platform.http import PageParams, paginate, validation_detail
from soundstage.web.auth import PageUser, is_htmx, same_origin
from soundstage.web.templating import render

router = APIRouter(tags=["web"], include_in_schema=False, dependencies=[Depends(same_origin)])

PAGE_SIZE = 20


def _forbidden(request: Request, user: User) -> Response:
    return render(request, "error.html",
                  {"user": user, "title": "Administrators only",
                   "message": "This page needs an administrator account."},
                  status_code=403)  # fmt: skip


def _balances(session, user_ids: list[str]) -> dict[str, int]:
    if not user_ids:
        return {}
    stmt = select(CreditAccount.user_id, CreditAccount.balance).where(
        CreditAccount.user_id.in_(user_ids)
    )
    return {owner: balance for owner, balance in session.execute(stmt)}


def _rows(session, users: list[User]) -> list[dict[str, Any]]:
    ids = [u.id for u in users]
    jobs, balances = admin.job_counts(session, ids), _balances(session, ids)
    return [{"user": u, "jobs": jobs.get(u.id, 0), "balance": balances.get(u.id)} for u in users]


def _active_filter(value: str | None) -> bool | None:
    return {"yes": True, "no": False}.get(value or "")


@router.get("/admin/users")
def users_page(
    request: Request,
    user: PageUser,
    session: SessionDep,
    q: Annotated[str | None, Query(max_length=320)] = None,
    role: Annotated[str | None, Query(max_length=16)] = None,
    active: Annotated[str | None, Query(max_length=3)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
):
    if user.role != Role.ADMIN:
        return _forbidden(request, user)
    role = role if role in {r.value for r in Role} else None
    result = paginate(session, admin.users_query(q, role, _active_filter(active)),
                      PageParams(page=page, page_size=PAGE_SIZE))  # fmt: skip
    filters = {"q": q or "", "role": role or "", "active": active or ""}
    context = {
        "user": user, "rows": _rows(session, result["items"]), "total": result["total"],
        "page": page, "pages": max(1, -(-result["total"] // PAGE_SIZE)), "filters": filters,
        "query": urlencode({k: v for k, v in filters.items() if v}), "roles": [r.value for r in Role],
        "nav": "admin",
    }  # fmt: skip
    name = "admin/_users.html" if is_htmx(request) else "admin/users.html"
    return render(request, name, context)


def _row(request: Request, session, acting: User, target_id: str, **extra: Any) -> Response:
    target = session.get(User, target_id)
    if target is None:
        return render(request, "error.html",
                      {"user": acting, "title": "No such user", "message": "This account does not exist."},
                      status_code=404)  # fmt: skip
    (row,) = _rows(session, [target])
    return render(request, "admin/_user_row.html", {"user": acting, "row": row, **extra})


def _done(request: Request, session, acting: User, target_id: str, message: str) -> Response:
    if is_htmx(request):
        return _row(request, session, acting, target_id, message=message)
    return RedirectResponse(f"/admin/users?{urlencode({'done': message})}", status_code=303)


def _refused(request: Request, session, acting: User, target_id: str, error: AppError) -> Response:
    session.rollback()
    if is_htmx(request):  # 200, so htmx swaps the row with the reason in it
        return _row(request, session, acting, target_id, error=error.message)
    return render(request, "error.html",
                  {"user": acting, "title": "Not changed", "message": error.message},
                  status_code=error.status)  # fmt: skip


@router.post("/admin/users/{user_id}")
def update_user(
    user_id: str,
    request: Request,
    user: PageUser,
    session: SessionDep,
    role: Annotated[str | None, Form(max_length=16)] = None,
    is_active: Annotated[str | None, Form(max_length=5)] = None,
):
    """Change the role and/or enable or disable the account (`is_active` = "true"/"false")."""
    if user.role != Role.ADMIN:
        return _forbidden(request, user)
    active = {"true": True, "false": False}.get(is_active or "")
    try:
        target = admin.update_user(session, user, user_id, role=role or None, is_active=active)
        session.commit()
    except AppError as exc:
        return _refused(request, session, user, user_id, exc)
    state = "active" if target.is_active else "disabled"
    return _done(request, session, user, user_id, f"{target.email}: {target.role}, {state}")


@router.post("/admin/users/{user_id}/credits")
def adjust_credits(
    user_id: str,
    request: Request,
    user: PageUser,
    session: SessionDep,
    settings: SettingsDep,
    amount: Annotated[str, Form(max_length=12)] = "",
    note: Annotated[str, Form(max_length=500)] = "",
):
    """Add or take credits, through the billing API's own route function."""
    if user.role != Role.ADMIN:
        return _forbidden(request, user)
    try:
        admin.get_user(session, user_id)
        body = AdminCreditsIn.model_validate({"amount": amount.strip() or None, "note": note})
        entry = billing_api.admin_adjust(user_id, body, user, session, settings)
    except ValidationError as exc:
        error = AppError(validation_detail(exc.errors())[0], 422)
        return _refused(request, session, user, user_id, error)
    except AppError as exc:
        return _refused(request, session, user, user_id, exc)
    sign = "+" if entry.amount > 0 else ""
    return _done(request, session, user, user_id,
                 f"credits {sign}{entry.amount}: balance {entry.balance_after}")  # fmt: skip
