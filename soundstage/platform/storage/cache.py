"""`ReadThroughCache`: local copies of remote blobs for tools that need a file path (FFmpeg)."""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

from soundstage.platform.db import new_id
from soundstage.platform.storage.base import validate_key

TMP_DIR_NAME = ".tmp"
_UNSAFE_RE = re.compile(r"[^A-Za-z0-9_-]")


def _version_name(version: str) -> str:
    """A folder name for an object version (an ETag such as `"9b2c...-3"`)."""
    return "v-" + (_UNSAFE_RE.sub("", version)[:120] or "unknown")


class ReadThroughCache:
    """Copies of blobs under `root`, one folder per key and version.

    The layout is `k-users/k-u1/k-track.mp3/v-<etag>/track.mp3`: the `k-` and `v-` prefixes
    keep key folders and version folders apart whatever the keys are, and the copy keeps the
    key's file name (FFmpeg picks formats from suffixes). A copy is downloaded into
    `root/.tmp` and renamed into place, so a half-downloaded file is never handed out. A new
    version of a key removes the older ones; past `max_bytes`, the least recently used copies
    (by modification time, refreshed on every hit) are deleted.
    """

    def __init__(self, root: Path | str, max_bytes: int) -> None:
        self.root = Path(root).resolve()
        self.tmp_root = self.root / TMP_DIR_NAME
        self.max_bytes = max_bytes
        self._lock = threading.Lock()

    def ensure_dirs(self) -> None:
        self.tmp_root.mkdir(parents=True, exist_ok=True)

    def temp_path(self, name: str) -> Path:
        """A fresh path in the cache's temporary folder ending in `name`."""
        self.tmp_root.mkdir(parents=True, exist_ok=True)
        return self.tmp_root / f"{new_id()}-{name}"

    def cleanup_temp(self, max_age_s: float = 0) -> int:
        """Delete temporary files older than `max_age_s` (all of them at start); returns count."""
        if not self.tmp_root.is_dir():
            return 0
        cutoff = time.time() - max_age_s
        removed = 0
        for entry in self.tmp_root.iterdir():
            with suppress(FileNotFoundError):
                if entry.lstat().st_mtime <= cutoff:
                    entry.unlink()
                    removed += 1
        return removed

    def _key_dir(self, key: str) -> Path:
        return self.root.joinpath(*(f"k-{part}" for part in validate_key(key).split("/")))

    def path_for(self, key: str, version: str) -> Path:
        """Where the copy of `key` at `version` lives (whether or not it is there)."""
        return self._key_dir(key) / _version_name(version) / key.rsplit("/", 1)[-1]

    def get(self, key: str, version: str, fetch: Callable[[Path], None]) -> Path:
        """The cached copy of `key` at `version`; `fetch(path)` downloads it when missing."""
        path = self.path_for(key, version)
        if path.is_file():
            with suppress(FileNotFoundError):
                os.utime(path)  # most recently used
                return path
        tmp = self.temp_path(path.name)
        try:
            fetch(tmp)
            with self._lock:
                path.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, path)
                self._drop_other_versions(path.parent)
                self._prune(keep=path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return path

    def _drop_other_versions(self, version_dir: Path) -> None:
        for sibling in version_dir.parent.iterdir():
            if sibling.name.startswith("v-") and sibling != version_dir:
                shutil.rmtree(sibling, ignore_errors=True)

    def forget(self, prefix: str) -> None:
        """Drop the copies of `prefix` and of every key under the folder `prefix`."""
        folder = self._key_dir(prefix)
        with self._lock:
            shutil.rmtree(folder, ignore_errors=True)
            self._prune_empty_parents(folder.parent)

    def _entries(self) -> list[tuple[float, int, Path]]:
        """(mtime, size, path) of every cached copy."""
        entries = []
        for dirpath, dirs, files in os.walk(self.root):
            if Path(dirpath) == self.root:
                dirs[:] = [d for d in dirs if d != TMP_DIR_NAME]
            for name in files:
                path = Path(dirpath) / name
                with suppress(FileNotFoundError):
                    stat = path.stat()
                    entries.append((stat.st_mtime, stat.st_size, path))
        return entries

    def usage_bytes(self) -> int:
        return sum(size for _mtime, size, _path in self._entries())

    def prune(self) -> int:
        """Delete least recently used copies until the cache fits `max_bytes`; bytes freed."""
        with self._lock:
            return self._prune()

    def _prune(self, keep: Path | None = None) -> int:
        entries = self._entries()
        total = sum(size for _mtime, size, _path in entries)
        freed = 0
        for _mtime, size, path in sorted(entries, key=lambda e: e[0]):
            if total - freed <= self.max_bytes:
                break
            if path == keep:
                continue  # the copy being handed out stays, even when larger than the cache
            path.unlink(missing_ok=True)
            self._prune_empty_parents(path.parent)
            freed += size
        return freed

    def _prune_empty_parents(self, folder: Path) -> None:
        while folder != self.root and self.root in folder.parents:
            try:
                folder.rmdir()
            except OSError:
                return
            folder = folder.parent
