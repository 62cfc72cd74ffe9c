"""Blob storage: the `Storage` interface, `LocalStorage`, signed links and file responses."""

from typing import Any

from soundstage.platform.storage.base import InvalidKey, Storage, validate_key
from soundstage.platform.storage.local import LocalStorage
from soundstage.platform.storage.signing import DownloadGrant, LinkError, read_download

__all__ = [
    "DownloadGrant",
    "InvalidKey",
    "LinkError",
    "LocalStorage",
    "Storage",
    "file_response",
    "read_download",
    "validate_key",
]


def __getattr__(name: str) -> Any:
    # Lazy: storage.api depends on platform.deps, which depends on this package.
    if name == "file_response":
        from soundstage.platform.storage.api import file_response

        return file_response
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
