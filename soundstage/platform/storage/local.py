"""`LocalStorage`: blobs as files under one root folder, published atomically."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import BinaryIO

from soundstage.platform.db import new_id
from soundstage.platform.storage.base import InvalidKey, validate_key
from soundstage.platform.storage.signing import sign_download

TMP_DIR_NAME = ".tmp"


def _fsync_path(path: Path, *, directory: bool = False) -> None:
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on directories
    finally:
        os.close(fd)


def _tree_size(path: Path) -> int:
    """Bytes in the files under `path` (or of `path` itself), ignoring vanishing files."""
    if path.is_file():
        with suppress(FileNotFoundError):
            return path.stat().st_size
        return 0
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            with suppress(FileNotFoundError):
                total += os.lstat(os.path.join(dirpath, name)).st_size
    return total


class LocalStorage:
    """A local folder. Temporary files live in `<root>/.tmp` (same filesystem) until published."""

    def __init__(self, root: Path | str, *, secret_key: str | None = None) -> None:
        self.root = Path(root).resolve()
        self.tmp_root = self.root / TMP_DIR_NAME
        self._secret_key = secret_key

    # -- housekeeping -------------------------------------------------

    def ensure_dirs(self) -> None:
        self.tmp_root.mkdir(parents=True, exist_ok=True)

    def ping(self) -> bool:
        """True when the root folder exists and can be written to."""
        return self.root.is_dir() and os.access(self.root, os.W_OK | os.X_OK)

    def cleanup_temp(self, max_age_s: float = 0) -> int:
        """Delete temporary files older than `max_age_s` (all of them at start); returns count."""
        if not self.tmp_root.is_dir():
            return 0
        cutoff = time.time() - max_age_s
        removed = 0
        for entry in self.tmp_root.iterdir():
            with suppress(FileNotFoundError):
                if entry.lstat().st_mtime > cutoff:
                    continue
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink()
                removed += 1
        return removed

    # -- paths --------------------------------------------------------

    def local_path(self, key: str) -> Path:
        return self.root / validate_key(key)

    def _temp_path(self, key: str) -> Path:
        """A fresh temporary path that keeps the key's file name (and so its suffix)."""
        self.tmp_root.mkdir(parents=True, exist_ok=True)
        return self.tmp_root / f"{new_id()}-{key.rsplit('/', 1)[-1]}"

    # -- writing ------------------------------------------------------

    @contextmanager
    def writer(self, key: str) -> Iterator[Path]:
        """Yield a temporary path to write; on success fsync and rename it to `key`.

        If the block raises (or writes nothing), the temporary file is deleted
        and nothing appears at `key`.
        """
        target = self.local_path(key)
        tmp = self._temp_path(key)
        try:
            yield tmp
            if not tmp.is_file():
                raise FileNotFoundError(f"nothing was written for storage key {key!r}")
            self._publish(tmp, target)
        except BaseException:
            if tmp.is_dir() and not tmp.is_symlink():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                tmp.unlink(missing_ok=True)
            raise

    def _publish(self, tmp: Path, target: Path) -> None:
        _fsync_path(tmp)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, target)
        _fsync_path(target.parent, directory=True)

    def put_file(self, key: str, src: Path | str, *, move: bool = False) -> None:
        """Store `src` at `key` atomically; `move=True` renames it when on the same filesystem."""
        src = Path(src)
        if not src.is_file():
            raise FileNotFoundError(f"no such file: {src}")
        with self.writer(key) as tmp:
            if move:
                try:
                    os.replace(src, tmp)
                    return
                except OSError:
                    pass  # another filesystem: copy, then remove the source
            shutil.copyfile(src, tmp)
        if move:
            src.unlink(missing_ok=True)

    def put_bytes(self, key: str, data: bytes) -> None:
        with self.writer(key) as tmp:
            tmp.write_bytes(data)

    # -- reading ------------------------------------------------------

    def open_read(self, key: str) -> BinaryIO:
        return self.local_path(key).open("rb")

    def exists(self, key: str) -> bool:
        return self.local_path(key).is_file()

    def size(self, key: str) -> int:
        return self.local_path(key).stat().st_size

    def list_keys(self, prefix: str = "") -> list[str]:
        """Every key under the folder `prefix`, sorted."""
        base = self.root / validate_key(prefix, prefix=True) if prefix else self.root
        if base.is_file():
            return [validate_key(prefix, prefix=True)]
        keys = []
        for dirpath, dirs, files in os.walk(base):
            if Path(dirpath) == self.root:
                dirs[:] = [d for d in dirs if d != TMP_DIR_NAME]
            rel = Path(dirpath).relative_to(self.root)
            keys.extend((rel / name).as_posix() for name in files)
        return sorted(keys)

    def usage_bytes(self, prefix: str = "") -> int:
        """Bytes stored under the folder `prefix` ('' for everything, temp files excluded)."""
        if prefix:
            return _tree_size(self.root / validate_key(prefix, prefix=True))
        if not self.root.is_dir():
            return 0
        return sum(_tree_size(p) for p in self.root.iterdir() if p.name != TMP_DIR_NAME)

    # -- deleting -----------------------------------------------------

    def delete(self, key: str) -> bool:
        path = self.local_path(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        self._prune_empty_parents(path.parent)
        return True

    def delete_prefix(self, prefix: str) -> int:
        """Delete everything under the folder `prefix`; returns the bytes freed."""
        prefix = validate_key(prefix, prefix=True)
        if not prefix:
            raise InvalidKey("refusing to delete the whole storage; give a prefix")
        path = self.root / prefix
        freed = _tree_size(path) if path.exists() else 0
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        self._prune_empty_parents(path.parent)
        return freed

    def _prune_empty_parents(self, folder: Path) -> None:
        """Remove folders left empty up to (not including) the root."""
        while folder != self.root and self.root in folder.parents:
            try:
                folder.rmdir()
            except OSError:
                return
            folder = folder.parent

    # -- links --------------------------------------------------------

    def sign_download(self, key: str, ttl_s: float, filename: str | None = None) -> str:
        if not self._secret_key:
            raise RuntimeError("LocalStorage needs secret_key to sign download links")
        return sign_download(self._secret_key, validate_key(key), ttl_s, filename)

    def download_url(self, key: str, ttl_s: float, filename: str | None = None) -> str:
        return f"/api/files/{self.sign_download(key, ttl_s, filename)}"
