"""Workflows plug into the platform here: their routers, job handlers and tables."""

from __future__ import annotations

from fastapi import APIRouter


def routers() -> list[APIRouter]:
    """Every workflow's API router; routers carry their full /api/... paths."""
    from soundstage.workflows.ambient.api import router as ambient
    from soundstage.workflows.music_video.api import router as music_video
    from soundstage.workflows.songs.api import router as songs
    from soundstage.workflows.tracks.api import router as tracks

    return [ambient, songs, music_video, tracks]


def register_job_handlers() -> None:
    """Register every workflow's job handlers with the platform job registry."""
    from soundstage.workflows.ambient.pipeline import register_jobs as ambient
    from soundstage.workflows.music_video.pipeline import register_jobs as music_video
    from soundstage.workflows.songs.pipeline import register_jobs as songs
    from soundstage.workflows.tracks.pipeline import register_jobs as tracks

    ambient()
    songs()
    music_video()
    tracks()


def import_models() -> None:
    """Import every workflow's table definitions so metadata and Alembic see them."""
    import soundstage.workflows.ambient.models
    import soundstage.workflows.music_video.models
    import soundstage.workflows.songs.models
    import soundstage.workflows.tracks.models  # noqa: F401
