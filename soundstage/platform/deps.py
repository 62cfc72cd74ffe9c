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
from soundstage.platform.accounts.models import User
from soundstage.platform.accounts.service import AuthError, user_for_access_token
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

_bearer = HTTPBearer(auto_error=False, description="Access token from /api/auth/login")


def current_user(
    session: SessionDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    access_token: Annotated[
        str | None,
        Query(description="Access token, for EventSource and media tags that cannot send headers"),
    ] = None,
) -> User:
    """The user of the `Authorization: Bearer` token (or `?access_token=`); 401 otherwise."""
    token = credentials.credentials if credentials else access_token
    if not token:
        raise HTTPException(401, "not authenticated", headers={"WWW-Authenticate": "Bearer"})
    try:
        return user_for_access_token(session, settings, token)
    except AuthError as exc:
        raise HTTPException(401, str(exc), headers={"WWW-Authenticate": "Bearer"}) from exc


CurrentUser = Annotated[User, Depends(current_user)]
