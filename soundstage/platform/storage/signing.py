"""Signed, expiring download tokens (JWT, HS256, key derived from the secret key)."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta

import jwt

from soundstage.platform.db import utcnow

_PURPOSE = b"soundstage download links v1"


class LinkError(Exception):
    """A download link that cannot be used; `status` is 403 (invalid) or 410 (expired)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class DownloadGrant:
    key: str
    filename: str | None


def _link_key(secret: str) -> bytes:
    """A key used only for links, so a link can never pass as an access token."""
    return hmac.new(secret.encode(), _PURPOSE, hashlib.sha256).digest()


def sign_download(secret: str, key: str, ttl_s: float, filename: str | None = None) -> str:
    claims: dict[str, object] = {"k": key, "exp": utcnow() + timedelta(seconds=ttl_s)}
    if filename:
        claims["fn"] = filename
    return jwt.encode(claims, _link_key(secret), algorithm="HS256")


def read_download(secret: str, token: str) -> DownloadGrant:
    """The grant in `token`; raises LinkError (410 expired, 403 otherwise)."""
    try:
        claims = jwt.decode(
            token, _link_key(secret), algorithms=["HS256"], options={"require": ["exp", "k"]}
        )
    except jwt.ExpiredSignatureError as exc:
        raise LinkError("download link expired", 410) from exc
    except jwt.InvalidTokenError as exc:
        raise LinkError("invalid download link", 403) from exc
    return DownloadGrant(key=str(claims["k"]), filename=claims.get("fn"))
