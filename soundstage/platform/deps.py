"""FastAPI dependencies for routers: settings, database session, storage, current user.

The app keeps its singletons on `app.state` (`settings`, `db`, `storage`,
`runner`); these dependencies read them from the request, so tests can build
apps with their own settings side by side.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from soundstage.config import Settings
from soundstage.platform.accounts.models import Role, User
from soundstage.platform.accounts.service import AuthError, user_for_access_token
from soundstage.platform.accounts.tokens import is_api_token, user_for_api_token
from soundstage.platform.db import Database
from soundstage.platform.storage.base import Storage


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_db(request: Request) -> Database:
    return request.app.state.db


def get_storage(request: Request) -> Storage:
    return request.app.state.storage


def get_session(request: Request) -> Iterator[Session]:
    """One session per request, closed (uncommitted work rolled back) when the route returns.

    Routes commit explicitly. With `scope="function"` the session closes before
    the response is sent, so a streamed response never holds a transaction.
    """
    with request.app.state.db.session() as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_db)]
StorageDep = Annotated[Storage, Depends(get_storage)]
SessionDep = Annotated[Session, Depends(get_session, scope="function")]

_bearer = HTTPBearer(
    auto_error=False,
    description="Access token from /api/auth/login, or an API token (ss_...) from /api/tokens",
)

# How the request authenticated (request.state.auth_method): a JWT access token or an API token.
AUTH_ACCESS_TOKEN = "access_token"
AUTH_API_TOKEN = "api_token"


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


def current_user(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    access_token: Annotated[
        str | None,
        Query(description="Access token, for EventSource and media tags that cannot send headers"),
    ] = None,
) -> User:
    """The user of the `Authorization: Bearer` token (or `?access_token=`); 401 otherwise.

    The bearer may be a JWT access token or an API token (`ss_...`). API tokens
    are long-lived, so they are accepted only in the header, never in a URL
    (URLs end up in logs and browser history).
    """
    token = credentials.credentials if credentials else access_token
    if not token:
        raise _unauthorized("not authenticated")
    try:
        if is_api_token(token):
            if not credentials:
                raise AuthError("API tokens are accepted only in the Authorization header")
            user, _ = user_for_api_token(session, token)
            session.commit()  # last_used_at, when it moved
            request.state.auth_method = AUTH_API_TOKEN
            return user
        user = user_for_access_token(session, settings, token)
        session.commit()  # end the read: on SQLite an open transaction holds the write lock
    except AuthError as exc:
        raise _unauthorized(str(exc)) from exc
    request.state.auth_method = AUTH_ACCESS_TOKEN
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def login_user(request: Request, user: CurrentUser) -> User:
    """The current user when they signed in with their password (not with an API token); 403."""
    if getattr(request.state, "auth_method", None) == AUTH_API_TOKEN:
        raise HTTPException(
            403,
            "an API token cannot do this (e.g. create API tokens); log in with your password "
            "(POST /api/auth/login) and use the access token",
        )
    return user


LoginUser = Annotated[User, Depends(login_user)]


def admin_user(user: CurrentUser) -> User:
    """The current user when an administrator; 403 otherwise."""
    if user.role != Role.ADMIN:
        raise HTTPException(403, "this needs an administrator account")
    return user


AdminUser = Annotated[User, Depends(admin_user)]
