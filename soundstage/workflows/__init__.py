"""Workflows plug into the platform here: their routers, job handlers and tables."""

from __future__ import annotations

from fastapi import APIRouter


def routers() -> list[APIRouter]:
    """Every workflow's API router, mounted by the app under /api."""
    return []


def register_job_handlers() -> None:
    """Register every workflow's job handlers with the platform job registry."""


def import_models() -> None:
    """Import every workflow's table definitions so metadata and Alembic see them."""
