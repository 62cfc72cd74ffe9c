"""Routes under /api/auth: register, login, refresh, logout, me."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response

from soundstage.platform.accounts import service
from soundstage.platform.accounts.schemas import (
    Credentials,
    RefreshIn,
    RegisterIn,
    TokenOut,
    UserCreatedOut,
    UserOut,
)
from soundstage.platform.deps import CurrentUser, SessionDep, SettingsDep

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post("/register", status_code=201, response_model=UserCreatedOut)
def register(body: RegisterIn, session: SessionDep, settings: SettingsDep) -> UserCreatedOut:
    """Create an account (unless registration is closed)."""
    if not settings.allow_registration:
        raise HTTPException(
            403, "registration is closed on this server; ask the administrator for an account"
        )
    user = service.create_user(session, body.email, body.password)
    return UserCreatedOut(id=user.id, email=user.email)


@router.post("/login", response_model=TokenOut)
def login(body: Credentials, session: SessionDep, settings: SettingsDep) -> TokenOut:
    """Exchange email and password for an access token and a refresh token."""
    pair = service.login(session, settings, body.email, body.password)
    return TokenOut(access_token=pair.access_token, refresh_token=pair.refresh_token)


@router.post("/refresh", response_model=TokenOut)
def refresh(body: RefreshIn, session: SessionDep, settings: SettingsDep) -> TokenOut:
    """Exchange a refresh token (once) for a new pair; reuse revokes the whole family."""
    pair = service.refresh(session, settings, body.refresh_token)
    return TokenOut(access_token=pair.access_token, refresh_token=pair.refresh_token)


@router.post("/logout", status_code=204)
def logout(body: RefreshIn, session: SessionDep) -> Response:
    """Revoke the refresh token and every token rotated from the same login."""
    service.logout(session, body.refresh_token)
    return Response(status_code=204)


@router.get("/me", response_model=UserOut)
def me(user: CurrentUser) -> UserOut:
    return UserOut.model_validate(user)
