"""Serving stored files: `file_response` (with HTTP Range) and signed download links."""

from __future__ import annotations

import mimetypes

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

from soundstage.platform.deps import SettingsDep, StorageDep
from soundstage.platform.storage.base import InvalidKey, Storage
from soundstage.platform.storage.signing import LinkError, read_download

router = APIRouter(tags=["files"])


def file_response(
    storage: Storage,
    key: str,
    filename: str | None = None,
    media_type: str | None = None,
    *,
    inline: bool = False,
) -> FileResponse:
    """A response streaming `key`, answering `Range` requests with 206; 404 when missing.

    `inline=True` lets browsers play or show it (media tags) instead of saving it.
    """
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


@router.get(
    "/api/files/{token}",
    summary="Download a file through a signed, expiring link (no login)",
    responses={403: {"description": "Invalid link"}, 410: {"description": "Expired link"}},
)
def download(token: str, storage: StorageDep, settings: SettingsDep) -> FileResponse:
    try:
        grant = read_download(settings.resolved_secret_key(), token)
    except LinkError as exc:
        raise HTTPException(exc.status, str(exc)) from exc
    return file_response(storage, grant.key, grant.filename)
