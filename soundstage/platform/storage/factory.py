"""`open_storage(settings)`: the storage backend SOUNDSTAGE_STORAGE_URL names."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from soundstage.config import Settings
from soundstage.platform.storage.base import Storage
from soundstage.platform.storage.local import LocalStorage

if TYPE_CHECKING:
    from soundstage.platform.storage.s3 import S3Storage

S3_POOL_CONNECTIONS = 32  # requests, job threads and parallel part uploads share one client
S3_TRANSFER_THREADS = 8  # parts of one upload sent at once


def open_storage(settings: Settings) -> Storage:
    """LocalStorage in data_dir/files (the default) or in a file:// folder, or S3Storage.

    Raises ValueError naming the setting to fix when the URL or S3 settings are wrong.
    """
    url = (settings.storage_url or "").strip()
    secret = settings.resolved_secret_key()
    if not url:
        return LocalStorage(settings.files_dir, secret_key=secret)
    scheme = urlsplit(url).scheme
    if scheme == "file":
        return LocalStorage(_file_url_path(url), secret_key=secret)
    if scheme == "s3":
        return open_s3_storage(settings)
    raise ValueError(
        f"SOUNDSTAGE_STORAGE_URL must be file:///path or s3://bucket/prefix, not {url!r}"
    )


def _file_url_path(url: str) -> Path:
    parts = urlsplit(url)
    path = Path(unquote(parts.path))
    if parts.netloc not in ("", "localhost") or not path.is_absolute():
        raise ValueError(f"SOUNDSTAGE_STORAGE_URL file URLs are file:///absolute/path, not {url!r}")
    return path


def open_s3_storage(settings: Settings) -> S3Storage:
    """S3Storage for `settings.storage_url` (s3://bucket/prefix) with the s3_* settings."""
    from boto3.s3.transfer import TransferConfig

    from soundstage.platform.storage.cache import ReadThroughCache
    from soundstage.platform.storage.s3 import MAX_PRESIGN_TTL_S, S3Location, S3Storage

    location = S3Location.parse((settings.storage_url or "").strip())
    if settings.s3_presigned_links and settings.signed_link_ttl_s > MAX_PRESIGN_TTL_S:
        raise ValueError(
            "SOUNDSTAGE_SIGNED_LINK_TTL_S is at most 604800 (7 days) with presigned S3 links"
        )
    client = _s3_client(settings, settings.s3_endpoint_url)
    presign_client = None
    if settings.s3_public_endpoint_url:
        presign_client = _s3_client(settings, settings.s3_public_endpoint_url)
    cache_dir = settings.s3_cache_dir or settings.data_dir / "s3-cache"
    return S3Storage(
        location,
        client,
        ReadThroughCache(cache_dir, settings.s3_cache_max_bytes),
        presign_client=presign_client,
        transfer=TransferConfig(
            multipart_threshold=settings.s3_multipart_threshold_bytes,
            multipart_chunksize=settings.s3_multipart_chunk_bytes,
            max_concurrency=S3_TRANSFER_THREADS,
        ),
        secret_key=settings.resolved_secret_key(),
        serve_mode=settings.s3_serve,
        redirect_ttl_s=settings.s3_presign_ttl_s,
        presigned_links=settings.s3_presigned_links,
    )


def _s3_client(settings: Settings, endpoint_url: str | None) -> Any:
    """A boto3 S3 client; explicit credentials when set, else boto3's own chain."""
    import boto3
    from botocore.config import Config

    key_id = settings.s3_access_key_id
    secret = (
        settings.s3_secret_access_key.get_secret_value() if settings.s3_secret_access_key else None
    )
    if bool(key_id) != bool(secret):
        raise ValueError(
            "set both SOUNDSTAGE_S3_ACCESS_KEY_ID and SOUNDSTAGE_S3_SECRET_ACCESS_KEY, or neither"
        )
    session = boto3.session.Session(
        aws_access_key_id=key_id or None,
        aws_secret_access_key=secret or None,
        region_name=settings.s3_region,
    )
    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": settings.s3_addressing_style},
        max_pool_connections=S3_POOL_CONNECTIONS,
        retries={"mode": "standard", "max_attempts": 3},  # throttling, 5xx, dropped connections
    )
    return session.client("s3", endpoint_url=endpoint_url or None, config=config)
