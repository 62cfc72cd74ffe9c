"""Serving stored files: `file_response` (with HTTP Range) and signed download links.

Local files go out through Starlette's FileResponse. Remote blobs (S3) are streamed from
the backend by byte range through the app (same origin, so media tags need no CORS), or,
with `serve_mode="redirect"`, answered by a 307 to a short-lived presigned URL.
"""

from __future__ import annotations

import mimetypes
from collections.abc import AsyncIterator, Iterator
from email.utils import formatdate
from typing import BinaryIO

import anyio
from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import iterate_in_threadpool
from starlette.datastructures import Headers
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from soundstage.platform.deps import SettingsDep, StorageDep
from soundstage.platform.storage.base import (
    InvalidKey,
    ObjectChanged,
    ObjectInfo,
    RemoteStorage,
    Storage,
    StorageUnavailable,
    content_disposition,
)
from soundstage.platform.storage.signing import LinkError, read_download

router = APIRouter(tags=["files"])

CHUNK_BYTES = 256 * 1024


def file_response(
    storage: Storage,
    key: str,
    filename: str | None = None,
    media_type: str | None = None,
    *,
    inline: bool = False,
) -> Response:
    """A response streaming `key`, answering `Range` requests with 206; 404 when missing.

    `inline=True` lets browsers play or show it (media tags) instead of saving it.
    """
    if isinstance(storage, RemoteStorage):
        return _remote_response(storage, key, filename, media_type, inline)
    try:
        path = storage.local_path(key)
    except InvalidKey as exc:
        raise HTTPException(404, "file not found") from exc
    if not path.is_file():
        raise HTTPException(404, "file not found")
    name = filename or path.name
    return FileResponse(
        path,
        media_type=media_type or mimetypes.guess_type(name)[0] or "application/octet-stream",
        filename=name,
        content_disposition_type="inline" if inline else "attachment",
    )


def _remote_response(
    storage: RemoteStorage, key: str, filename: str | None, media_type: str | None, inline: bool
) -> Response:
    try:
        info = storage.stat(key)
    except (InvalidKey, FileNotFoundError) as exc:
        raise HTTPException(404, "file not found") from exc
    name = filename or key.rsplit("/", 1)[-1]
    media = media_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
    if storage.serve_mode == "redirect":
        url = storage.presigned_url(
            key, storage.redirect_ttl_s, name, inline=inline, media_type=media
        )
        return RedirectResponse(url, status_code=307)
    return StoredObjectResponse(
        storage, key, info, media_type=media, disposition=content_disposition(name, inline=inline)
    )


class MalformedRange(ValueError):
    """A Range header that cannot be read (400)."""


class RangeNotSatisfiable(ValueError):
    """A Range that starts past the end of the file (416)."""


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """(start, end) — end excluded — of a one-range `bytes=` header for a file of `size` bytes.

    None means "send the whole file" (several ranges: allowed by RFC 9110, and media
    players ask for one). Same rules as Starlette's FileResponse for one range.
    """
    unit, sep, spec = header.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        raise MalformedRange("Range header must look like bytes=START-END")
    parts = [part.strip() for part in spec.split(",") if part.strip() not in ("", "-")]
    if len(parts) != 1:
        if parts:
            return None
        raise MalformedRange("Range header must ask for a range")
    first, dash, last = parts[0].partition("-")
    first, last = first.strip(), last.strip()
    if not dash or not (first.isdigit() or (not first and last.isdigit())):
        raise MalformedRange(f"Range header is not bytes=START-END: {header!r}")
    if last and not last.isdigit():
        raise MalformedRange(f"Range header is not bytes=START-END: {header!r}")
    if first:
        start = int(first)
        end = min(int(last) + 1, size) if last else size
    else:
        start, end = max(size - int(last), 0), size
    if start >= size:
        raise RangeNotSatisfiable(f"range starts past the end of the file ({size} bytes)")
    if start >= end:
        raise MalformedRange("Range header: start must be less than end")
    return start, end


def _chunks(body: BinaryIO) -> Iterator[bytes]:
    try:
        while chunk := body.read(CHUNK_BYTES):
            yield chunk
    finally:
        body.close()


class StoredObjectResponse(StreamingResponse):
    """A remote blob streamed by byte range: 200, 206 with Content-Range, or 416.

    The Range header is read when the response is sent (like FileResponse), and the bytes
    are fetched only if the blob is still the version whose size was announced.
    """

    def __init__(
        self,
        storage: RemoteStorage,
        key: str,
        info: ObjectInfo,
        *,
        media_type: str,
        disposition: str,
    ) -> None:
        super().__init__(
            iter(()),
            media_type=media_type,
            headers={"accept-ranges": "bytes", "content-disposition": disposition},
        )
        self.storage = storage
        self.key = key
        self.info = info
        self._body: BinaryIO | None = None

    def _describe(self, info: ObjectInfo) -> None:
        self.info = info
        self.headers["etag"] = info.etag
        if info.last_modified is not None:
            self.headers["last-modified"] = formatdate(info.last_modified.timestamp(), usegmt=True)

    def _wanted_range(self, scope: Scope) -> tuple[int, int] | None:
        """The byte range to send, or None for all; raises MalformedRange/RangeNotSatisfiable."""
        request = Headers(scope=scope)
        header = request.get("range")
        if header is None or scope.get("method", "GET").upper() not in ("GET", "HEAD"):
            return None
        if_range = request.get("if-range")
        if if_range is not None and if_range not in (
            self.headers.get("etag"),
            self.headers.get("last-modified"),
        ):
            return None  # the client's copy is another version: send the whole new one
        return parse_range(header, self.info.size)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self._prepare(scope)
        except RangeNotSatisfiable as exc:
            headers = {"content-range": f"bytes */{self.info.size}"}
            return await JSONResponse({"detail": str(exc)}, 416, headers)(scope, receive, send)
        except MalformedRange as exc:
            return await JSONResponse({"detail": str(exc)}, 400)(scope, receive, send)
        except FileNotFoundError:
            return await JSONResponse({"detail": "file not found"}, 404)(scope, receive, send)
        except StorageUnavailable as exc:
            return await JSONResponse({"detail": exc.message}, 503)(scope, receive, send)
        try:
            await super().__call__(scope, receive, send)
        finally:
            if self._body is not None:
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(self._body.close)

    async def _prepare(self, scope: Scope) -> None:
        """Pick status and headers, and open the byte range (again if the blob changed)."""
        for _attempt in range(3):
            self._describe(self.info)
            wanted = self._wanted_range(scope)
            start, end = wanted or (0, self.info.size)
            self.status_code = 206 if wanted else 200
            if wanted:
                self.headers["content-range"] = f"bytes {start}-{end - 1}/{self.info.size}"
            elif "content-range" in self.headers:
                del self.headers["content-range"]  # left by an attempt on an older version
            self.headers["content-length"] = str(end - start)
            if scope.get("method", "GET").upper() == "HEAD" or start == end:
                self.body_iterator = _empty()
                return
            try:
                self._body = await anyio.to_thread.run_sync(
                    self.storage.open_range, self.key, start, end, self.info.etag
                )
            except ObjectChanged:
                self.info = await anyio.to_thread.run_sync(self.storage.stat, self.key)
                continue
            self.body_iterator = iterate_in_threadpool(_chunks(self._body))
            return
        raise StorageUnavailable(f"storage unavailable: {self.key!r} keeps changing while read")


async def _empty() -> AsyncIterator[bytes]:
    """No body (HEAD, empty files)."""
    for chunk in ():
        yield chunk


@router.get(
    "/api/files/{token}",
    summary="Download a file through a signed, expiring link (no login)",
    responses={403: {"description": "Invalid link"}, 410: {"description": "Expired link"}},
)
def download(token: str, storage: StorageDep, settings: SettingsDep) -> Response:
    try:
        grant = read_download(settings.resolved_secret_key(), token)
    except LinkError as exc:
        raise HTTPException(exc.status, str(exc)) from exc
    return file_response(storage, grant.key, grant.filename)
