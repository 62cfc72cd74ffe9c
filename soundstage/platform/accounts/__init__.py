"""Accounts: users, argon2 passwords, JWT access tokens, rotating refresh tokens.

Routers protect routes with `soundstage.platform.deps.CurrentUser`.
"""

from soundstage.platform.accounts.models import RefreshToken, User
from soundstage.platform.accounts.service import (
    AccountError,
    AuthError,
    EmailTaken,
    TokenPair,
    authenticate,
    create_access_token,
    create_user,
    get_user_by_email,
    login,
    logout,
    refresh,
)

from soundstage.platform.deps import CurrentUser, current_user  # isort: skip

__all__ = [
    "AccountError",
    "AuthError",
    "CurrentUser",
    "EmailTaken",
    "RefreshToken",
    "TokenPair",
    "User",
    "authenticate",
    "create_access_token",
    "create_user",
    "current_user",
    "get_user_by_email",
    "login",
    "logout",
    "refresh",
]
