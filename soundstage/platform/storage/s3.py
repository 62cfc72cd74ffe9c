"""`S3Storage`: blobs as objects in an S3-compatible bucket (AWS S3, MinIO, Ceph...) via boto3.

Uploads go through boto3's managed transfer (in parallel parts above a size threshold); an
object appears only once its upload completes, which gives the atomicity LocalStorage gets
from rename. Tools that need a file path get a copy from a local read-through cache.
"""

from __future__ import annotations

import mimetypes
import shutil
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import partial
from io import BytesIO
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import BotoCoreError, ClientError

from soundstage.platform.storage.base import (
    InvalidKey,
    ObjectChanged,
    ObjectInfo,
    StorageUnavailable,
    content_disposition,
    validate_key,
)
from soundstage.platform.storage.cache import ReadThroughCache
from soundstage.platform.storage.signing import sign_download

MAX_PRESIGN_TTL_S = 7 * 24 * 3600  # the longest a SigV4 presigned URL may last
_DELETE_BATCH = 1000  # DeleteObjects takes at most 1000 keys
_MISSING_CODES = {"404", "NoSuchKey", "NotFound"}


@dataclass(frozen=True)
class S3Location:
    """A bucket and a key prefix (no slashes at either end; '' for the whole bucket)."""

    bucket: str
    prefix: str = ""

    @classmethod
    def parse(cls, url: str) -> S3Location:
        """`s3://bucket/some/prefix` → S3Location("bucket", "some/prefix")."""
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ValueError(f"an S3 storage URL looks like s3://bucket/prefix, not {url!r}")
        if parts.query or parts.fragment:
            raise ValueError(f"an S3 storage URL takes no ?query or #fragment: {url!r}")
        prefix = parts.path.strip("/")
        if prefix:
            try:
                validate_key(prefix)
            except InvalidKey as exc:
                raise ValueError(f"invalid prefix in storage URL {url!r}: {exc}") from exc
        return cls(parts.netloc, prefix)


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _is_missing(exc: ClientError) -> bool:
    return _error_code(exc) in _MISSING_CODES


@contextmanager
def _s3_errors(bucket: str, key: str | None = None) -> Iterator[None]:
    """Missing objects become FileNotFoundError, every other failure StorageUnavailable (503)."""
    try:
        yield
    except ClientError as exc:
        if key is not None and _is_missing(exc):
            raise FileNotFoundError(f"no such stored file: {key}") from exc
        if _error_code(exc) == "NoSuchBucket":
            raise StorageUnavailable(
                f"storage unavailable: bucket {bucket!r} does not exist"
            ) from exc
        raise StorageUnavailable(f"storage unavailable: {exc}") from exc
    except BotoCoreError as exc:
        raise StorageUnavailable(f"storage unavailable: {exc}") from exc


class S3Storage:
    """Objects under `location.prefix` in `location.bucket`, addressed by validated keys.

    `client` is a boto3 S3 client (thread-safe, shared by requests and job threads);
    `presign_client` signs the URLs handed to browsers (another endpoint, same credentials).
    `secret_key` signs app links (/api/files/...), like LocalStorage's.
    """

    list_page_size = 1000  # keys per ListObjectsV2 page (S3's maximum)

    def __init__(
        self,
        location: S3Location,
        client: Any,
        cache: ReadThroughCache,
        *,
        presign_client: Any | None = None,
        transfer: TransferConfig | None = None,
        secret_key: str | None = None,
        serve_mode: str = "stream",
        redirect_ttl_s: float = 300,
        presigned_links: bool = True,
    ) -> None:
        if serve_mode not in ("stream", "redirect"):
            raise ValueError(f"serve_mode is 'stream' or 'redirect', not {serve_mode!r}")
        self.location = location
        self.bucket = location.bucket
        self.cache = cache
        self.serve_mode = serve_mode
        self.redirect_ttl_s = redirect_ttl_s
        self.presigned_links = presigned_links
        self._client = client
        self._presign_client = presign_client or client
        self._transfer = transfer or TransferConfig()
        self._secret_key = secret_key

    def __repr__(self) -> str:
        return f"S3Storage(s3://{self.bucket}/{self.location.prefix})"

    # -- housekeeping -------------------------------------------------

    def ensure_dirs(self) -> None:
        """Create the cache folders and check that the bucket answers (fail fast at startup)."""
        self.cache.ensure_dirs()
        if not self.ping():
            raise StorageUnavailable(
                f"storage unavailable: bucket {self.bucket!r} cannot be reached "
                "(check SOUNDSTAGE_STORAGE_URL, SOUNDSTAGE_S3_ENDPOINT_URL and credentials)"
            )

    def cleanup_temp(self, max_age_s: float = 0) -> int:
        """Delete temporary upload and download files older than `max_age_s`; returns count."""
        return self.cache.cleanup_temp(max_age_s)

    def ping(self) -> bool:
        """True when the bucket exists and the credentials may use it."""
        try:
            self._client.head_bucket(Bucket=self.bucket)
        except (ClientError, BotoCoreError):
            return False
        return True

    # -- keys ---------------------------------------------------------

    def _object_key(self, key: str, *, prefix: bool = False) -> str:
        key = validate_key(key, prefix=prefix)
        base = self.location.prefix
        if not key:
            return f"{base}/" if base else ""
        return f"{base}/{key}" if base else key

    def _storage_key(self, object_key: str) -> str:
        base = self.location.prefix
        return object_key[len(base) + 1 :] if base else object_key

    # -- writing ------------------------------------------------------

    @contextmanager
    def writer(self, key: str) -> Iterator[Path]:
        """Yield a temporary local path; upload it to `key` if the block succeeds.

        The temporary file is always deleted. If the block raises (or writes nothing),
        nothing is uploaded and an earlier object at `key` stays as it was.
        """
        object_key = self._object_key(key)
        tmp = self.cache.temp_path(key.rsplit("/", 1)[-1])
        try:
            yield tmp
            if not tmp.is_file():
                raise FileNotFoundError(f"nothing was written for storage key {key!r}")
            self._upload_file(tmp, object_key)
        finally:
            if tmp.is_dir() and not tmp.is_symlink():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                tmp.unlink(missing_ok=True)

    def _extra_args(self, object_key: str) -> dict[str, str]:
        media_type = mimetypes.guess_type(object_key)[0]
        return {"ContentType": media_type or "application/octet-stream"}

    def _upload_file(self, path: Path, object_key: str) -> None:
        with _s3_errors(self.bucket):
            self._client.upload_file(
                str(path),
                self.bucket,
                object_key,
                ExtraArgs=self._extra_args(object_key),
                Config=self._transfer,
            )

    def put_file(self, key: str, src: Path | str, *, move: bool = False) -> None:
        """Upload `src` to `key` (in parts when large); `move=True` deletes `src` afterwards."""
        src = Path(src)
        if not src.is_file():
            raise FileNotFoundError(f"no such file: {src}")
        self._upload_file(src, self._object_key(key))
        if move:
            src.unlink(missing_ok=True)

    def put_bytes(self, key: str, data: bytes) -> None:
        object_key = self._object_key(key)
        with _s3_errors(self.bucket):
            self._client.upload_fileobj(
                BytesIO(data),
                self.bucket,
                object_key,
                ExtraArgs=self._extra_args(object_key),
                Config=self._transfer,
            )

    # -- reading ------------------------------------------------------

    def stat(self, key: str) -> ObjectInfo:
        """Size, ETag and modification time of `key`; FileNotFoundError when missing."""
        object_key = self._object_key(key)
        with _s3_errors(self.bucket, key):
            head = self._client.head_object(Bucket=self.bucket, Key=object_key)
        return ObjectInfo(
            size=int(head["ContentLength"]),
            etag=str(head.get("ETag", "")),
            last_modified=head.get("LastModified"),
        )

    def open_read(self, key: str) -> BinaryIO:
        """A streaming, non-seekable file object over the whole object (close it)."""
        object_key = self._object_key(key)
        with _s3_errors(self.bucket, key):
            return self._client.get_object(Bucket=self.bucket, Key=object_key)["Body"]

    def open_range(self, key: str, start: int, end: int, etag: str) -> BinaryIO:
        """Bytes start..end-1 of `key`, refused (ObjectChanged) if it is no longer `etag`."""
        object_key = self._object_key(key)
        if not 0 <= start < end:
            raise ValueError(f"empty or negative byte range {start}..{end}")
        try:
            with _s3_errors(self.bucket, key):
                response = self._client.get_object(
                    Bucket=self.bucket,
                    Key=object_key,
                    Range=f"bytes={start}-{end - 1}",
                    IfMatch=etag,
                )
        except StorageUnavailable as exc:
            cause = exc.__cause__
            if isinstance(cause, ClientError) and _error_code(cause) == "PreconditionFailed":
                raise ObjectChanged(f"stored file {key!r} changed while being read") from exc
            raise
        return response["Body"]

    def exists(self, key: str) -> bool:
        try:
            self.stat(key)
        except FileNotFoundError:
            return False
        return True

    def size(self, key: str) -> int:
        return self.stat(key).size

    def _objects(self, prefix: str) -> list[tuple[str, int]]:
        """(object key, size) of the object `prefix` and of every object under folder `prefix`."""
        folder = self._object_key(prefix, prefix=True)
        if folder and not folder.endswith("/"):
            folder += "/"
        found: list[tuple[str, int]] = []
        with _s3_errors(self.bucket):
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket,
                Prefix=folder,
                PaginationConfig={"PageSize": self.list_page_size},
            )
            for page in pages:
                found.extend((obj["Key"], int(obj["Size"])) for obj in page.get("Contents", ()))
        if prefix and not found:  # `prefix` may name one file rather than a folder
            with suppress(FileNotFoundError):
                found.append((self._object_key(prefix, prefix=True), self.size(prefix.rstrip("/"))))
        return found

    def list_keys(self, prefix: str = "") -> list[str]:
        """Every key under the folder `prefix` (or `prefix` itself if it is a file), sorted."""
        return sorted(self._storage_key(object_key) for object_key, _size in self._objects(prefix))

    def usage_bytes(self, prefix: str = "") -> int:
        """Bytes stored under the folder `prefix` ('' for everything under the URL's prefix)."""
        return sum(size for _key, size in self._objects(prefix))

    def local_path(self, key: str) -> Path:
        """A local copy of `key` from the read-through cache (downloaded if missing or stale).

        Raises FileNotFoundError when `key` is not stored. The copy may be evicted later:
        use it now (hand it to FFmpeg), do not keep the path.
        """
        for _attempt in range(3):
            info = self.stat(key)
            try:
                return self.cache.get(key, info.etag, partial(self._download, key, info))
            except ObjectChanged:
                continue  # replaced between HEAD and GET: fetch the new version
        raise StorageUnavailable(f"storage unavailable: {key!r} keeps changing while read")

    def _download(self, key: str, info: ObjectInfo, dest: Path) -> None:
        if info.size == 0:
            dest.write_bytes(b"")
            return
        body = self.open_range(key, 0, info.size, info.etag)
        with body, dest.open("wb") as out, _s3_errors(self.bucket, key):
            shutil.copyfileobj(body, out, 1 << 20)

    # -- deleting -----------------------------------------------------

    def delete(self, key: str) -> bool:
        """Delete one object; False when it was not there."""
        if not self.exists(key):
            return False
        with _s3_errors(self.bucket):
            self._client.delete_object(Bucket=self.bucket, Key=self._object_key(key))
        self.cache.forget(key)
        return True

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under the folder `prefix` (batched); returns the bytes freed."""
        prefix = validate_key(prefix, prefix=True)
        if not prefix:
            raise InvalidKey("refusing to delete the whole storage; give a prefix")
        objects = self._objects(prefix)
        for start in range(0, len(objects), _DELETE_BATCH):
            batch = objects[start : start + _DELETE_BATCH]
            with _s3_errors(self.bucket):
                response = self._client.delete_objects(
                    Bucket=self.bucket,
                    Delete={"Objects": [{"Key": key} for key, _size in batch], "Quiet": True},
                )
            if errors := response.get("Errors"):
                first = errors[0]
                raise StorageUnavailable(
                    f"storage unavailable: could not delete {len(errors)} file(s) under "
                    f"{prefix!r}, e.g. {first.get('Key')!r}: {first.get('Message')}"
                )
        self.cache.forget(prefix)
        return sum(size for _key, size in objects)

    # -- links --------------------------------------------------------

    def sign_download(self, key: str, ttl_s: float, filename: str | None = None) -> str:
        """A token for the app's /api/files/{token} route (streams from S3 through the app)."""
        if not self._secret_key:
            raise RuntimeError("S3Storage needs secret_key to sign download links")
        return sign_download(self._secret_key, validate_key(key), ttl_s, filename)

    def download_url(self, key: str, ttl_s: float, filename: str | None = None) -> str:
        """A presigned S3 URL (or, with presigned_links off, an app link) valid for `ttl_s`."""
        if not self.presigned_links:
            return f"/api/files/{self.sign_download(key, ttl_s, filename)}"
        return self.presigned_url(key, ttl_s, filename)

    def presigned_url(
        self,
        key: str,
        ttl_s: float,
        filename: str | None = None,
        *,
        inline: bool = False,
        media_type: str | None = None,
    ) -> str:
        """A GET URL of the bucket itself, valid for `ttl_s` (1 s to 7 days)."""
        expires = int(ttl_s)
        if not 1 <= expires <= MAX_PRESIGN_TTL_S:
            raise ValueError(f"presigned URLs last 1 s to 7 days, not {ttl_s} s")
        params: dict[str, str] = {"Bucket": self.bucket, "Key": self._object_key(key)}
        name = filename or key.rsplit("/", 1)[-1]
        params["ResponseContentDisposition"] = content_disposition(name, inline=inline)
        if media_type:
            params["ResponseContentType"] = media_type
        with _s3_errors(self.bucket):
            return self._presign_client.generate_presigned_url(
                "get_object", Params=params, ExpiresIn=expires
            )
