"""The web door: pages served by the same app, clients of the workflow services."""

from __future__ import annotations

from fastapi import APIRouter


def routers() -> list[APIRouter]:
    from soundstage.web.share import router as share

    return [share]
