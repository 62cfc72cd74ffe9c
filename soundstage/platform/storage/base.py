"""The `Storage` interface and key rules shared by every backend."""

from __future__ import annotations

import re
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable
from urllib.parse import quote

from soundstage.platform.errors import AppError

_SEGMENT_RE = re.compile(r"^[^\x00-\x1f/\\]+$")


class InvalidKey(ValueError):
    """A storage key that could escape its folder or is malformed."""


class StorageUnavailable(AppError):
    """The storage backend cannot be reached or refused a request (503: try again later)."""

    status = 503


class ObjectChanged(Exception):
    """A blob was replaced between reading its size and reading its bytes."""


def validate_key(key: str, *, prefix: bool = False) -> str:
    """Return `key` when safe: relative, '/'-separated, no '.', '..', backslashes or empties.

    With `prefix=True` a trailing '/' is allowed (and dropped) and '' means everything.
    """
    if not isinstance(key, str):
        raise InvalidKey("storage key must be a string")
    if prefix:
        if key == "":
            return key
        key = key.removesuffix("/")
    if not key:
        raise InvalidKey("storage key is empty")
    if key.startswith("/") or "\\" in key:
        raise InvalidKey(f"storage key must be relative and use '/': {key!r}")
    for segment in key.split("/"):
        if segment in ("", ".", "..") or not _SEGMENT_RE.match(segment):
            raise InvalidKey(f"invalid storage key segment in {key!r}")
    if key.split("/", 1)[0].startswith(".tmp"):
        raise InvalidKey(f"storage key uses a reserved name: {key!r}")
    return key


def content_disposition(filename: str, *, inline: bool = False) -> str:
    """`attachment; filename="x.mp3"` (as Starlette writes it), RFC 5987-encoded when needed."""
    kind = "inline" if inline else "attachment"
    quoted = quote(filename)
    if quoted == filename:
        return f'{kind}; filename="{filename}"'
    return f"{kind}; filename*=utf-8''{quoted}"


@runtime_checkable
class Storage(Protocol):
    """Blobs addressed by keys like `users/<uid>/tracks/<tid>/track.mp3`."""

    def writer(self, key: str) -> AbstractContextManager[Path]:
        """Yield a temporary path; publish it at `key` atomically if the block succeeds."""
        ...

    def put_file(self, key: str, src: Path, *, move: bool = False) -> None:
        """Store a copy of `src` (or move it) at `key`, atomically."""
        ...

    def put_bytes(self, key: str, data: bytes) -> None: ...

    def open_read(self, key: str) -> BinaryIO: ...

    def exists(self, key: str) -> bool: ...

    def size(self, key: str) -> int: ...

    def delete(self, key: str) -> bool:
        """Delete one blob; False when it was not there."""
        ...

    def delete_prefix(self, prefix: str) -> int:
        """Delete every blob under the folder `prefix`; returns the bytes freed."""
        ...

    def list_keys(self, prefix: str = "") -> list[str]: ...

    def local_path(self, key: str) -> Path:
        """A filesystem path for `key` (for FFmpeg and FileResponse)."""
        ...

    def usage_bytes(self, prefix: str = "") -> int: ...

    def ping(self) -> bool:
        """True when the backend answers and can be written to (health checks)."""
        ...

    def sign_download(self, key: str, ttl_s: float, filename: str | None = None) -> str:
        """A token that lets anyone download `key` until it expires."""
        ...

    def download_url(self, key: str, ttl_s: float, filename: str | None = None) -> str:
        """A URL (path) serving `key` without login until it expires."""
        ...


@dataclass(frozen=True)
class ObjectInfo:
    """What a remote backend knows about one blob without reading it."""

    size: int
    etag: str
    last_modified: datetime | None = None


@runtime_checkable
class RemoteStorage(Storage, Protocol):
    """A backend whose blobs are not local files (S3): `file_response` streams byte ranges
    from it, or redirects to a presigned URL when `serve_mode` is "redirect"."""

    serve_mode: str
    redirect_ttl_s: float

    def stat(self, key: str) -> ObjectInfo:
        """Size and version of `key`; FileNotFoundError when missing."""
        ...

    def open_range(self, key: str, start: int, end: int, etag: str) -> BinaryIO:
        """Bytes start..end-1 of `key`; ObjectChanged if it is no longer version `etag`."""
        ...

    def presigned_url(
        self,
        key: str,
        ttl_s: float,
        filename: str | None = None,
        *,
        inline: bool = False,
        media_type: str | None = None,
    ) -> str:
        """A URL of the backend itself that serves `key` until it expires."""
        ...
