"""The web door: pages served by the same app, clients of the workflow services.

`install(app)` mounts the static files (the studio's CSS and script, and the
npm front-end libraries scripts/setup.sh installs), the page routers and the
redirect to /login.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

log = logging.getLogger("soundstage.web")


def routers() -> list[APIRouter]:
    from soundstage.web.accounts import router as accounts
    from soundstage.web.admin import router as admin
    from soundstage.web.ambient import router as ambient
    from soundstage.web.billing import router as billing
    from soundstage.web.jobs import router as jobs
    from soundstage.web.music_video import router as music_video
    from soundstage.web.share import router as share
    from soundstage.web.tokens import router as tokens
    from soundstage.web.tracks import router as tracks

    # tracks before ambient: its /tracks/new must not be taken for ambient's /tracks/{id}.
    return [share, accounts, jobs, tracks, ambient, music_video, billing, tokens, admin]


def install(app: FastAPI) -> None:
    from soundstage.web.auth import LoginRequired, login_required_handler
    from soundstage.web.templating import STATIC_DIR, missing_vendor_files

    missing = missing_vendor_files()
    if missing:
        log.warning(
            "web studio: front-end libraries missing (%s); run scripts/setup.sh",
            ", ".join(missing),
        )
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_exception_handler(LoginRequired, login_required_handler)  # type: ignore[arg-type]
    for router in routers():
        app.include_router(router)
