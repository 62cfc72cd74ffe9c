"""API tokens: long-lived credentials for scripts and the CLI, shown once, stored hashed.

A token reads `ss_<43 random URL-safe characters>` (256 bits). Only its SHA-256
is kept, with its first characters (`prefix`) so lists can tell tokens apart.
A token works until it expires or is revoked; it acts as its user, except that
it cannot create more tokens (routes enforce that with `deps.LoginUser`).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from soundstage.config import Settings
from soundstage.platform.accounts.models import ApiToken, User
from soundstage.platform.accounts.service import AuthError
from soundstage.platform.db import utcnow
from soundstage.platform.errors import AppError, Conflict, NotFound

TOKEN_PREFIX = "ss_"
PREFIX_CHARS = 10  # "ss_" and 7 random characters: enough to recognise, useless to guess
TOUCH_EVERY_S = 60  # last_used_at is refreshed at most once a minute per token


def is_api_token(value: str) -> bool:
    return value.startswith(TOKEN_PREFIX)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _active(now: datetime | None = None) -> ColumnElement[bool]:
    """SQL condition: neither revoked nor expired."""
    now = now or utcnow()
    return ApiToken.revoked_at.is_(None) & or_(
        ApiToken.expires_at.is_(None), ApiToken.expires_at > now
    )


def is_active(token: ApiToken) -> bool:
    return token.revoked_at is None and (token.expires_at is None or token.expires_at > utcnow())


def active_count(session: Session, user_id: str) -> int:
    stmt = select(func.count()).select_from(ApiToken).where(ApiToken.user_id == user_id, _active())
    return session.scalar(stmt) or 0


def create_api_token(
    session: Session,
    settings: Settings,
    user_id: str,
    name: str,
    expires_in_days: int | None = None,
) -> tuple[ApiToken, str]:
    """A new token row and the token itself (to show once); the caller commits.

    422 for a blank name or a lifetime past `api_token_max_days`; 409 when the
    user already holds `api_tokens_max_per_user` live tokens.
    """
    name = name.strip()
    if not name:
        raise AppError("name: give the token a name, e.g. the script that will use it", 422)
    if expires_in_days is not None and not 1 <= expires_in_days <= settings.api_token_max_days:
        raise AppError(
            f"expires_in_days: must be between 1 and {settings.api_token_max_days} "
            "(or null for a token that does not expire)",
            422,
        )
    if active_count(session, user_id) >= settings.api_tokens_max_per_user:
        raise Conflict(
            f"you already have {settings.api_tokens_max_per_user} active API tokens; "
            "revoke one (DELETE /api/tokens/{id}) first"
        )
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    row = ApiToken(
        user_id=user_id,
        name=name,
        token_hash=hash_token(token),
        prefix=token[:PREFIX_CHARS],
        created_at=now,
        expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None,
    )
    session.add(row)
    session.flush()
    return row, token


def list_api_tokens(session: Session, user_id: str) -> list[ApiToken]:
    """The user's tokens, newest first, revoked and expired ones included (marked inactive)."""
    stmt = (
        select(ApiToken)
        .where(ApiToken.user_id == user_id)
        .order_by(ApiToken.created_at.desc(), ApiToken.id)
    )
    return list(session.scalars(stmt))


def get_api_token(session: Session, user_id: str, token_id: str) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None or row.user_id != user_id:
        raise NotFound("API token not found")
    return row


def revoke_api_token(session: Session, user_id: str, token_id: str) -> ApiToken:
    """Revoke one of the user's tokens (again: no change); 404 for anyone else's. Flushes."""
    row = get_api_token(session, user_id, token_id)
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.flush()
    return row


def user_for_api_token(session: Session, token: str) -> tuple[User, ApiToken]:
    """The active user of a live token; AuthError (401) saying why not otherwise.

    Refreshes `last_used_at` (at most once a minute) and flushes; the caller commits.
    """
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if row is None:
        raise AuthError("invalid API token")
    now = utcnow()
    if row.revoked_at is not None:
        raise AuthError("API token revoked; create a new one")
    if row.expires_at is not None and row.expires_at <= now:
        raise AuthError("API token expired; create a new one")
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        raise AuthError("invalid API token")
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() >= TOUCH_EVERY_S:
        row.last_used_at = now
        session.flush()
    return user, row
