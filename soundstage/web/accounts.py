"""Login, register and logout pages (plain forms that work without JavaScript)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from soundstage.platform.accounts import service
from soundstage.platform.accounts.service import (
    MIN_PASSWORD_LENGTH,
    AccountError,
    PasswordRejected,
)
from soundstage.platform.accounts.sessions import end_session, start_session
from soundstage.platform.deps import SessionDep, SettingsDep
from soundstage.web.auth import (
    COOKIE,
    OptionalPageUser,
    clear_session_cookie,
    safe_next,
    same_origin,
    set_session_cookie,
)
from soundstage.web.templating import render

router = APIRouter(tags=["web"], include_in_schema=False, dependencies=[Depends(same_origin)])


def _logged_in(request: Request, value: str, target: str) -> Response:
    response = RedirectResponse(safe_next(target), status_code=303)
    set_session_cookie(response, request, value, request.app.state.settings)
    return response


@router.get("/login")
def login_page(request: Request, user: OptionalPageUser, next: str = "/"):
    if user is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return render(request, "login.html", {"next": safe_next(next)})


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form(max_length=2000)] = "/",
):
    try:
        value = start_session(session, settings, email, password)
    except AccountError as exc:
        context = {"next": safe_next(next), "email": email, "error": exc.message}
        return render(request, "login.html", context, status_code=exc.status)
    return _logged_in(request, value, next)


@router.get("/register")
def register_page(request: Request, user: OptionalPageUser, settings: SettingsDep):
    if user is not None:
        return RedirectResponse("/", status_code=303)
    return render(request, "register.html", {"min_password": MIN_PASSWORD_LENGTH})


@router.post("/register")
def register(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1024)],
    password_again: Annotated[str, Form(max_length=1024)],
):
    context = {"min_password": MIN_PASSWORD_LENGTH, "email": email}
    if not settings.allow_registration:
        return render(request, "register.html", context, status_code=403)
    error = None
    if password != password_again:
        error = "the two passwords differ"
    else:
        try:
            service.create_user(session, email, password)
        except ValueError as exc:
            field = "password" if isinstance(exc, PasswordRejected) else "email"
            error = f"{field}: {exc}"
        except AccountError as exc:
            return render(request, "register.html", {**context, "error": exc.message}, status_code=exc.status)  # fmt: skip
    if error:
        return render(request, "register.html", {**context, "error": error}, status_code=422)
    return _logged_in(request, start_session(session, settings, email, password), "/")


@router.post("/logout")
def logout(request: Request, session: SessionDep, settings: SettingsDep):
    value = request.cookies.get(COOKIE)
    if value:
        end_session(session, settings, value)
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(response)
    return response
