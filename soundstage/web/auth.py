"""Who is using a page: the session cookie, redirects to /login, and a same-origin check.

- The session cookie (`soundstage_session`) is HttpOnly, SameSite=Lax, and
  Secure when the page was served over HTTPS; its value is a session from
  `soundstage.platform.accounts.sessions` (revoked by logout).
- Page routes depend on `PageUser`: without a live session a page redirects
  to `/login?next=...`, an htmx request gets `HX-Redirect`, and a script's
  fetch gets 401 JSON.
- CSRF: besides SameSite=Lax, every state-changing web request must come from
  this origin: its `Origin` (or, without one, `Referer`) must name this host,
  or it must carry the `HX-Request` / `X-Requested-With` header that only
  same-origin scripts can send without a CORS preflight (which this app never
  grants). The JSON API keeps its Bearer tokens and is not affected.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from soundstage.config import Settings
from soundstage.platform.accounts.models import User
from soundstage.platform.accounts.service import AuthError
from soundstage.platform.accounts.sessions import user_for_session
from soundstage.platform.deps import SessionDep, SettingsDep

COOKIE = "soundstage_session"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class LoginRequired(Exception):
    """Raised by `page_user` when the request has no live session."""


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def optional_page_user(request: Request, session: SessionDep, settings: SettingsDep) -> User | None:
    value = request.cookies.get(COOKIE)
    if not value:
        return None
    try:
        user = user_for_session(session, settings, value)
    except AuthError:
        return None
    session.commit()  # end the read: on SQLite an open transaction holds the write lock
    return user


def page_user(user: Annotated[User | None, Depends(optional_page_user)]) -> User:
    if user is None:
        raise LoginRequired()
    return user


OptionalPageUser = Annotated[User | None, Depends(optional_page_user)]
PageUser = Annotated[User, Depends(page_user)]


def same_origin(request: Request) -> None:
    """Refuse (403) a state-changing request that did not come from one of our pages."""
    if request.method in SAFE_METHODS:
        return
    # X-Forwarded-Host: a reverse proxy that rewrites Host; a cross-site page cannot set it.
    hosts = {request.headers.get("host", ""), request.headers.get("x-forwarded-host", "")} - {""}
    source = request.headers.get("origin") or request.headers.get("referer")
    if source and source != "null":
        if urlsplit(source).netloc in hosts:
            return
        raise HTTPException(403, "cross-site request refused")
    if is_htmx(request) or request.headers.get("x-requested-with"):
        return
    raise HTTPException(403, "cross-site request refused")


def safe_next(target: str | None) -> str:
    """A local path to go back to after login; anything else becomes `/`."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def set_session_cookie(response: Response, request: Request, value: str, settings: Settings):
    response.set_cookie(
        COOKIE,
        value,
        max_age=settings.refresh_token_ttl_s,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax")


async def login_required_handler(request: Request, exc: LoginRequired) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    login = f"/login?next={quote(target, safe='/')}"
    if is_htmx(request):
        # 200 so htmx follows HX-Redirect without logging a failed request.
        return Response(status_code=200, headers={"HX-Redirect": "/login"})
    if request.method == "GET" and not request.url.path.startswith("/ui/"):
        return RedirectResponse(login, status_code=303)
    return JSONResponse(
        {"detail": "not logged in"}, status_code=401, headers={"HX-Redirect": "/login"}
    )


async def form_data(request: Request) -> FormData:
    """The request's parsed form, read on the event loop.

    Routes take it as `form: FormDep` and stay plain functions, which FastAPI
    runs in a thread: database work must never run on the event loop, where a
    lock wait would freeze every other request (including the one holding it).
    """
    return await request.form()


FormDep = Annotated[FormData, Depends(form_data)]
