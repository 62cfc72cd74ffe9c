"""Account routes: /api/auth (register, login, refresh, logout, me), /api/tokens (API
tokens), /api/account (storage use) and /api/admin/users (administrators only)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Response

from soundstage.platform.accounts import admin, service, tokens
from soundstage.platform.accounts.models import ApiToken, Role, User
from soundstage.platform.accounts.schemas import (
    AdminUserOut,
    AdminUserPatch,
    ApiTokenCreate,
    ApiTokenCreated,
    ApiTokenOut,
    Credentials,
    RefreshIn,
    RegisterIn,
    StorageUsageOut,
    TokenOut,
    UserCreatedOut,
    UserOut,
)
from soundstage.platform.billing import service as billing
from soundstage.platform.deps import (
    AdminUser,
    CurrentUser,
    LoginUser,
    SessionDep,
    SettingsDep,
    StorageDep,
)
from soundstage.platform.http import Page, PageDep, paginate
from soundstage.platform.quotas import storage_usage

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post("/register", status_code=201, response_model=UserCreatedOut)
def register(body: RegisterIn, session: SessionDep, settings: SettingsDep) -> UserCreatedOut:
    """Create an account (unless registration is closed)."""
    if not settings.allow_registration:
        raise HTTPException(
            403, "registration is closed on this server; ask the administrator for an account"
        )
    user = service.create_user(session, body.email, body.password)
    billing.open_account(session, user.id, settings)  # the trial credits, once
    session.commit()
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


# -- API tokens -----------------------------------------------------------------

tokens_router = APIRouter(prefix="/api/tokens", tags=["tokens"])


def token_out(row: ApiToken) -> ApiTokenOut:
    return ApiTokenOut(
        id=row.id, name=row.name, prefix=row.prefix, created_at=row.created_at,
        last_used_at=row.last_used_at, expires_at=row.expires_at, revoked_at=row.revoked_at,
        active=tokens.is_active(row),
    )  # fmt: skip


@tokens_router.post(
    "",
    status_code=201,
    response_model=ApiTokenCreated,
    responses={403: {"description": "Called with an API token"}, 409: {"description": "Too many"}},
)
def create_token(
    body: ApiTokenCreate, user: LoginUser, session: SessionDep, settings: SettingsDep
) -> ApiTokenCreated:
    """Create an API token for scripts and the CLI; the token is in this answer only.

    Needs a password login (an access token or the web session): an API token
    cannot create tokens, so a leaked one cannot multiply itself.
    """
    row, secret = tokens.create_api_token(
        session, settings, user.id, body.name, body.expires_in_days
    )
    session.commit()
    return ApiTokenCreated(**token_out(row).model_dump(), token=secret)


@tokens_router.get("", response_model=list[ApiTokenOut])
def list_tokens(user: CurrentUser, session: SessionDep) -> list[ApiTokenOut]:
    """Your API tokens, newest first (revoked and expired ones too, marked inactive)."""
    return [token_out(row) for row in tokens.list_api_tokens(session, user.id)]


@tokens_router.delete("/{token_id}", status_code=204)
def revoke_token(token_id: str, user: CurrentUser, session: SessionDep) -> Response:
    """Revoke one of your API tokens: it stops working at once (revoking twice is harmless)."""
    tokens.revoke_api_token(session, user.id, token_id)
    session.commit()
    return Response(status_code=204)


# -- your account -----------------------------------------------------------------

account_router = APIRouter(prefix="/api/account", tags=["auth"])


@account_router.get("/storage", response_model=StorageUsageOut)
def storage(user: CurrentUser, settings: SettingsDep, files: StorageDep) -> StorageUsageOut:
    """Bytes your files use and your storage quota (uploads past it are refused with 413)."""
    usage = storage_usage(files, settings, user.id)
    return StorageUsageOut(
        used_bytes=usage.used_bytes, quota_bytes=usage.quota_bytes, free_bytes=usage.free_bytes
    )


# -- administration -----------------------------------------------------------------

admin_router = APIRouter(prefix="/api/admin/users", tags=["admin"])


def admin_user_out(user: User, job_count: int) -> AdminUserOut:
    return AdminUserOut(**UserOut.model_validate(user).model_dump(), job_count=job_count)


@admin_router.get("", response_model=Page[AdminUserOut])
def list_users(
    _admin: AdminUser,
    session: SessionDep,
    page: PageDep,
    q: Annotated[str | None, Query(max_length=320, description="Part of the email")] = None,
    role: Annotated[Role | None, Query(description="Only users with this role")] = None,
    is_active: Annotated[bool | None, Query(description="Only active (or disabled) users")] = None,
) -> dict[str, Any]:
    """Every account, oldest first, with how many jobs each has submitted (admins only)."""
    result = paginate(session, admin.users_query(q, role, is_active), page)
    counts = admin.job_counts(session, [u.id for u in result["items"]])
    result["items"] = [admin_user_out(u, counts.get(u.id, 0)) for u in result["items"]]
    return result


@admin_router.get("/{user_id}", response_model=AdminUserOut)
def get_user(user_id: str, _admin: AdminUser, session: SessionDep) -> AdminUserOut:
    user = admin.get_user(session, user_id)
    return admin_user_out(user, admin.job_counts(session, [user.id]).get(user.id, 0))


@admin_router.patch(
    "/{user_id}",
    response_model=AdminUserOut,
    responses={409: {"description": "An administrator demoting or disabling themselves"}},
)
def update_user(
    user_id: str, body: AdminUserPatch, acting: AdminUser, session: SessionDep
) -> AdminUserOut:
    """Change a user's role and/or disable (or enable) the account (admins only).

    A disabled user's logins, sessions and tokens are refused at once. You
    cannot demote or disable yourself (409).
    """
    role = body.role.value if body.role is not None else None
    user = admin.update_user(session, acting, user_id, role=role, is_active=body.is_active)
    session.commit()
    return admin_user_out(user, admin.job_counts(session, [user.id]).get(user.id, 0))
