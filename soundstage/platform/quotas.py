"""The per-user storage quota: every file a user keeps lives under `users/<id>/` in storage.

Usage is measured from storage itself (songs, their videos and clips, ambient
tracks, and any workflow that follows the `users/<id>/` layout), so it can never
drift from what is really on disk. Uploads call `check_storage_quota` once the
file is received and before it is stored: past the quota they are refused with
413 (Content Too Large: "more than this server accepts from you") and a message
saying how much is used and how to free space. 507 would describe a full disk,
and a 5xx tells clients to retry, which would not help here.
"""

from __future__ import annotations

from dataclasses import dataclass

from soundstage.config import Settings
from soundstage.platform.errors import AppError
from soundstage.platform.storage.base import Storage


class StorageQuotaExceeded(AppError):
    status = 413


@dataclass(frozen=True)
class StorageUsage:
    used_bytes: int
    quota_bytes: int

    @property
    def free_bytes(self) -> int:
        return max(0, self.quota_bytes - self.used_bytes)


def user_prefix(user_id: str) -> str:
    return f"users/{user_id}/"


def storage_usage(storage: Storage, settings: Settings, user_id: str) -> StorageUsage:
    """Bytes the user's files take now, and their quota."""
    used = storage.usage_bytes(user_prefix(user_id))
    return StorageUsage(used_bytes=used, quota_bytes=settings.user_storage_quota_bytes)


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def check_storage_quota(
    storage: Storage, settings: Settings, user_id: str, incoming_bytes: int
) -> StorageUsage:
    """Refuse (413) when storing `incoming_bytes` more would pass the user's quota."""
    usage = storage_usage(storage, settings, user_id)
    if usage.used_bytes + incoming_bytes > usage.quota_bytes:
        raise StorageQuotaExceeded(
            f"storage quota exceeded: your files use {_mb(usage.used_bytes)} of "
            f"{_mb(usage.quota_bytes)} and this upload needs {_mb(incoming_bytes)}; "
            "delete songs, videos or tracks to free space"
        )
    return usage
