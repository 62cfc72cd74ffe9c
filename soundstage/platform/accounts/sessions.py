"""Browser sessions for the web studio: one signed cookie value per login.

A session is a login like the API's: `login()` starts a refresh-token family,
and the cookie holds a signed JWT (`typ: "session"`) naming the user and that
family. It is valid while the family is neither revoked nor expired, so
logging out (here or through `POST /api/auth/logout` with that family's token)
ends it at once, and it lasts as long as a refresh token. Unlike the API's
refresh tokens it does not rotate: pages, media requests and event streams run
in parallel and would race a rotation.
"""

from __future__ import annotations

from datetime import timedelta

import jwt
from sqlalchemy import select
from sqlalchemy.orm import Session

from soundstage.config import Settings
from soundstage.platform.accounts import service
from soundstage.platform.accounts.models import RefreshToken, User
from soundstage.platform.accounts.service import JWT_ALGORITHM, AuthError
from soundstage.platform.db import utcnow

SESSION_TYPE = "session"


def start_session(session: Session, settings: Settings, email: str, password: str) -> str:
    """Check the credentials and return the cookie value of a new session (AuthError if bad)."""
    pair = service.login(session, settings, email, password)
    row = session.scalar(
        select(RefreshToken).where(
            RefreshToken.token_hash == service._hash_token(pair.refresh_token)
        )
    )
    assert row is not None
    now = utcnow()
    claims = {
        "sub": row.user_id,
        "fam": row.family_id,
        "typ": SESSION_TYPE,
        "iat": now,
        "exp": now + timedelta(seconds=settings.refresh_token_ttl_s),
    }
    return jwt.encode(claims, settings.resolved_secret_key(), algorithm=JWT_ALGORITHM)


def _claims(settings: Settings, value: str, *, verify_exp: bool = True) -> dict:
    try:
        claims = jwt.decode(
            value,
            settings.resolved_secret_key(),
            algorithms=[JWT_ALGORITHM],
            options={"require": ["exp", "sub", "typ", "fam"], "verify_exp": verify_exp},
        )
    except jwt.ExpiredSignatureError as exc:
        raise AuthError("session expired; please log in again") from exc
    except jwt.InvalidTokenError as exc:
        raise AuthError("invalid session") from exc
    if claims.get("typ") != SESSION_TYPE:
        raise AuthError("invalid session")
    return claims


def user_for_session(session: Session, settings: Settings, value: str) -> User:
    """The active user of a live session; AuthError when expired, revoked or unknown."""
    claims = _claims(settings, value)
    live = session.scalar(
        select(RefreshToken.id)
        .where(
            RefreshToken.family_id == claims["fam"],
            RefreshToken.user_id == claims["sub"],
            RefreshToken.revoked_at.is_(None),
            RefreshToken.expires_at > utcnow(),
        )
        .limit(1)
    )
    if live is None:
        raise AuthError("session ended; please log in again")
    user = session.get(User, claims["sub"])
    if user is None or not user.is_active:
        raise AuthError("invalid session")
    return user


def end_session(session: Session, settings: Settings, value: str) -> None:
    """Revoke the session's family (logout); invalid values are ignored."""
    try:
        claims = _claims(settings, value, verify_exp=False)
    except AuthError:
        return
    service.revoke_family(session, claims["fam"])
    session.commit()
