"""Blob storage: the `Storage` interface, `LocalStorage`, `S3Storage`, the `open_storage`
factory, signed links and file responses."""

from typing import Any

from soundstage.platform.storage.base import (
    InvalidKey,
    ObjectInfo,
    RemoteStorage,
    Storage,
    StorageUnavailable,
    validate_key,
)
from soundstage.platform.storage.factory import open_storage
from soundstage.platform.storage.local import LocalStorage
from soundstage.platform.storage.signing import DownloadGrant, LinkError, read_download

__all__ = [
    "DownloadGrant",
    "InvalidKey",
    "LinkError",
    "LocalStorage",
    "ObjectInfo",
    "RemoteStorage",
    "S3Storage",
    "Storage",
    "StorageUnavailable",
    "file_response",
    "open_storage",
    "read_download",
    "validate_key",
]


def __getattr__(name: str) -> Any:
    # Lazy: storage.api depends on platform.deps, which depends on this package; s3 needs boto3.
    if name == "file_response":
        from soundstage.platform.storage.api import file_response

        return file_response
    if name == "S3Storage":
        from soundstage.platform.storage.s3 import S3Storage

        return S3Storage
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
