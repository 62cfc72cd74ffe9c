"""The `Storage` interface and key rules shared by every backend."""

from __future__ import annotations

import re
from contextlib import AbstractContextManager
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

_SEGMENT_RE = re.compile(r"^[^\x00-\x1f/\\]+$")


class InvalidKey(ValueError):
    """A storage key that could escape its folder or is malformed."""


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

    def sign_download(self, key: str, ttl_s: float, filename: str | None = None) -> str:
        """A token that lets anyone download `key` until it expires."""
        ...

    def download_url(self, key: str, ttl_s: float, filename: str | None = None) -> str:
        """A URL (path) serving `key` without login until it expires."""
        ...
