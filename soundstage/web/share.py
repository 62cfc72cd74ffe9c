"""The public page of a shared music video: a player in the studio's look, no login.

A client of the music video service like the API; the files it plays come from
the public /api/share/{token}/... routes. A revoked or unknown link is the
studio's 404 page.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request

from soundstage.platform.deps import SessionDep
from soundstage.platform.errors import NotFound
from soundstage.web.auth import OptionalPageUser
from soundstage.web.templating import render
from soundstage.workflows.music_video import service

router = APIRouter(tags=["web"])


@router.get("/v/{token}", include_in_schema=False)
def share_page(token: str, request: Request, session: SessionDep, user: OptionalPageUser):
    try:
        video = service.shared_video(session, token)
    except NotFound:
        return render(request, "error.html",
                      {"user": user, "title": "No such video",
                       "message": "This share link does not exist, or it was revoked."},
                      status_code=404)  # fmt: skip
    files = f"/api/share/{quote(token, safe='')}"
    return render(request, "share.html", {"user": user, "video": video, "files": files})
