"""FastAPI assembly: platform services on `app.state`, platform and workflow routers, errors."""

from __future__ import annotations

import logging
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse

import soundstage.web
import soundstage.workflows
from soundstage import __version__
from soundstage.config import Settings, get_settings
from soundstage.platform.accounts.api import router as auth_router
from soundstage.platform.db import Database, upgrade
from soundstage.platform.http import install_error_handlers
from soundstage.platform.jobs.api import router as jobs_router
from soundstage.platform.jobs.runner import EmbeddedRunner
from soundstage.platform.models import import_platform_models
from soundstage.platform.storage import LocalStorage
from soundstage.platform.storage.api import router as files_router

log = logging.getLogger("soundstage.app")


def _check_workflow_router(router: APIRouter) -> None:
    """Workflow routers carry their full paths, all under /api/."""
    for route in router.routes:
        path = getattr(route, "path", "")
        if not path.startswith("/api/"):
            raise ValueError(
                f"workflow route {path!r} must start with /api/ (routers carry full paths)"
            )


def prepare(settings: Settings) -> None:
    """Create the data folders and bring the database schema up to date."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.files_dir.mkdir(parents=True, exist_ok=True)
    # Work folders of jobs a crash interrupted: nothing runs yet, and re-queued jobs start clean.
    shutil.rmtree(settings.tmp_dir, ignore_errors=True)
    settings.tmp_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The whole web app; startup migrates the database and starts the embedded job runner."""
    settings = settings or get_settings()
    import_platform_models()
    soundstage.workflows.import_models()

    db = Database(settings.resolved_database_url)
    storage = LocalStorage(settings.files_dir, secret_key=settings.resolved_secret_key())
    runner = EmbeddedRunner(db, settings, storage)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await anyio.to_thread.run_sync(prepare, settings)
        storage.ensure_dirs()
        storage.cleanup_temp()
        soundstage.workflows.register_job_handlers()
        runner.start()
        try:
            yield
        finally:
            await anyio.to_thread.run_sync(runner.stop)
            db.dispose()

    app = FastAPI(
        title="Soundstage",
        version=__version__,
        description="Self-hosted AI music and video studio.",
        lifespan=lifespan,
        docs_url="/docs",
        openapi_url="/openapi.json",
    )
    app.state.settings = settings
    app.state.db = db
    app.state.storage = storage
    app.state.runner = runner
    install_error_handlers(app)

    @app.get("/healthz", tags=["health"])
    def healthz() -> JSONResponse:
        """200 when the database answers, 503 otherwise."""
        if db.ping():
            return JSONResponse({"status": "ok", "version": __version__})
        return JSONResponse({"detail": "database unreachable"}, status_code=503)

    for router in (auth_router, jobs_router, files_router):
        app.include_router(router)
    for router in soundstage.workflows.routers():
        _check_workflow_router(router)
        app.include_router(router)
    soundstage.web.install(app)  # pages, static files, the redirect to /login
    return app
