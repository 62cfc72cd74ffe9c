"""Account rules: users, passwords, JWT access tokens and rotating refresh tokens."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

import jwt
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from soundstage.config import Settings
from soundstage.platform.accounts.models import RefreshToken, Role, User
from soundstage.platform.accounts.password_policy import (
    MAX_PASSWORD_LENGTH as MAX_PASSWORD_LENGTH,
)
from soundstage.platform.accounts.password_policy import (
    MIN_PASSWORD_LENGTH as MIN_PASSWORD_LENGTH,
)
from soundstage.platform.accounts.password_policy import (
    PasswordRejected as PasswordRejected,
)
from soundstage.platform.accounts.password_policy import check_password
from soundstage.platform.accounts.passwords import (
    burn_time,
    hash_password,
    needs_rehash,
    verify_password,
)
from soundstage.platform.db import new_id, utcnow
from soundstage.platform.errors import AppError

JWT_ALGORITHM = "HS256"
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


class AccountError(AppError):
    """An account rule was broken."""


class EmailTaken(AccountError):
    status = 409


class AuthError(AccountError):
    """Bad credentials or token: answer 401."""

    status = 401


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    token_type: str = "bearer"


def normalize_email(email: str) -> str:
    """Trimmed, lower-cased, and checked for a plausible shape; raises ValueError."""
    email = email.strip().lower()
    if len(email) > 320 or not _EMAIL_RE.match(email):
        raise ValueError("not a valid email address")
    return email


def check_role(role: str) -> Role:
    """The role named `role`; raises ValueError listing the roles otherwise."""
    try:
        return Role(role)
    except ValueError:
        names = ", ".join(r.value for r in Role)
        raise ValueError(f"unknown role {role!r}; use one of: {names}") from None


def get_user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email.strip().lower()))


def create_user(session: Session, email: str, password: str, *, role: str = "user") -> User:
    """Create and commit a user; raises ValueError (bad input, PasswordRejected) or EmailTaken."""
    email = normalize_email(email)
    check_password(password, email)
    if get_user_by_email(session, email) is not None:
        raise EmailTaken("an account with this email already exists")
    user = User(email=email, password_hash=hash_password(password), role=check_role(role).value)
    session.add(user)
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise EmailTaken("an account with this email already exists") from exc
    return user


def authenticate(session: Session, email: str, password: str) -> User:
    """The active user with these credentials; raises AuthError otherwise."""
    user = get_user_by_email(session, email)
    if user is None:
        burn_time(password)
        raise AuthError("incorrect email or password")
    if not verify_password(user.password_hash, password):
        raise AuthError("incorrect email or password")
    if not user.is_active:
        raise AuthError("this account is disabled")
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        session.commit()
    return user


def create_access_token(settings: Settings, user: User) -> str:
    now = utcnow()
    claims = {
        "sub": user.id,
        "typ": "access",
        "iat": now,
        "exp": now + timedelta(seconds=settings.access_token_ttl_s),
    }
    return jwt.encode(claims, settings.resolved_secret_key(), algorithm=JWT_ALGORITHM)


def decode_access_token(settings: Settings, token: str) -> str:
    """The user id in a valid, unexpired access token; raises AuthError."""
    try:
        claims = jwt.decode(
            token,
            settings.resolved_secret_key(),
            algorithms=[JWT_ALGORITHM],
            options={"require": ["exp", "sub", "typ"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise AuthError("access token expired") from exc
    except jwt.InvalidTokenError as exc:
        raise AuthError("invalid access token") from exc
    if claims.get("typ") != "access":
        raise AuthError("invalid access token")
    return str(claims["sub"])


def user_for_access_token(session: Session, settings: Settings, token: str) -> User:
    user = session.get(User, decode_access_token(settings, token))
    if user is None or not user.is_active:
        raise AuthError("invalid access token")
    return user


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _issue_refresh(session: Session, settings: Settings, user_id: str, family_id: str) -> str:
    token = secrets.token_urlsafe(32)
    session.add(
        RefreshToken(
            user_id=user_id,
            family_id=family_id,
            token_hash=_hash_token(token),
            expires_at=utcnow() + timedelta(seconds=settings.refresh_token_ttl_s),
        )
    )
    return token


def login(session: Session, settings: Settings, email: str, password: str) -> TokenPair:
    """Check credentials and start a new refresh-token family."""
    user = authenticate(session, email, password)
    refresh = _issue_refresh(session, settings, user.id, family_id=new_id())
    session.commit()
    return TokenPair(create_access_token(settings, user), refresh)


def revoke_family(session: Session, family_id: str) -> None:
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def refresh(session: Session, settings: Settings, token: str) -> TokenPair:
    """Rotate: mark `token` used and issue the next one in its family.

    A used or revoked token means it leaked (or was replayed): the whole family
    is revoked and the caller must log in again.
    """
    row = session.scalar(select(RefreshToken).where(RefreshToken.token_hash == _hash_token(token)))
    if row is None:
        raise AuthError("invalid refresh token")
    now = utcnow()
    claimed = session.execute(
        update(RefreshToken)
        .where(
            RefreshToken.id == row.id,
            RefreshToken.used_at.is_(None),
            RefreshToken.revoked_at.is_(None),
        )
        .values(used_at=now)
    ).rowcount
    if claimed != 1:
        revoke_family(session, row.family_id)
        session.commit()
        raise AuthError("refresh token already used or revoked; please log in again")
    if row.expires_at <= now:
        session.rollback()
        raise AuthError("refresh token expired; please log in again")
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        session.rollback()
        raise AuthError("invalid refresh token")
    new_token = _issue_refresh(session, settings, user.id, row.family_id)
    session.commit()
    return TokenPair(create_access_token(settings, user), new_token)


def logout(session: Session, token: str) -> None:
    """Revoke the family of `token`; unknown tokens are ignored."""
    row = session.scalar(select(RefreshToken).where(RefreshToken.token_hash == _hash_token(token)))
    if row is not None:
        revoke_family(session, row.family_id)
        session.commit()
