"""FastAPI assembly: platform services on `app.state`, platform and workflow routers, errors."""

from __future__ import annotations

import logging
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

import soundstage.web
import soundstage.workflows
from soundstage import __version__
from soundstage.config import Settings, get_settings
from soundstage.platform.accounts.api import account_router, admin_router, tokens_router
from soundstage.platform.accounts.api import router as auth_router
from soundstage.platform.billing.api import install as install_billing
from soundstage.platform.billing.api import router as billing_router
from soundstage.platform.costs.api import install as install_costs
from soundstage.platform.db import Database, upgrade
from soundstage.platform.http import install_error_handlers
from soundstage.platform.jobs.api import router as jobs_router
from soundstage.platform.jobs.registry import QUEUES, queue_for
from soundstage.platform.jobs.runner import EmbeddedRunner
from soundstage.platform.models import import_platform_models
from soundstage.platform.observability.health import health_report
from soundstage.platform.observability.metrics import JobCollector, render_metrics
from soundstage.platform.policy.api import install as install_policy
from soundstage.platform.ratelimit import install_rate_limits
from soundstage.platform.storage import Storage, open_storage
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
    if not settings.broker_url:
        # Work folders of jobs a crash interrupted: nothing runs yet, and re-queued jobs
        # start clean. Scaled out, workers sharing this folder may be running jobs now.
        shutil.rmtree(settings.tmp_dir, ignore_errors=True)
    settings.tmp_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)


def require_shared_secret(settings: Settings) -> None:
    """Scaled out, every process must sign tokens and links with one key: no per-folder key."""
    if not settings.secret_key:
        raise ValueError(
            "SOUNDSTAGE_SECRET_KEY must be set when SOUNDSTAGE_BROKER_URL is: the API and the "
            "workers sign and check tokens and links with the same key"
        )


def job_runner(db: Database, settings: Settings, storage: Storage):
    """The embedded runner, or with a broker a dispatcher: jobs then run in workers."""
    if settings.broker_url:
        from soundstage.platform.jobs.celery_runner import Dispatcher, make_celery

        require_shared_secret(settings)

        return Dispatcher(make_celery(settings.broker_url))
    return EmbeddedRunner(db, settings, storage)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The whole web app; startup migrates the database and starts the embedded job runner."""
    settings = settings or get_settings()
    import_platform_models()
    soundstage.workflows.import_models()

    db = Database.from_settings(settings)
    storage = open_storage(settings)  # LocalStorage, or S3Storage for SOUNDSTAGE_STORAGE_URL=s3://
    runner = job_runner(db, settings, storage)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await anyio.to_thread.run_sync(prepare, settings)
        storage.ensure_dirs()
        if not settings.broker_url:  # scaled out, workers may be writing temp files now
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
    install_policy(app, settings)  # content rules: /api/policy (a refusal is a 422 AppError)
    install_costs(app)  # estimates, job costs, summaries
    install_billing(app)  # refunds and re-charges on job moves
    install_rate_limits(app, settings)

    @app.get("/healthz", tags=["health"])
    def healthz() -> JSONResponse:
        """200 when the database, the storage and (scaled out) the broker answer; 503 else."""
        healthy, body = health_report(db, storage, settings.broker_url)
        body["version"] = __version__
        return JSONResponse(body, status_code=200 if healthy else 503)

    metrics = JobCollector(db, queue_for, settings.broker_url, QUEUES)

    @app.get("/metrics", tags=["health"], response_class=PlainTextResponse)
    def prometheus_metrics() -> Response:
        """Prometheus metrics: jobs by type and state, durations, queue depth."""
        return Response(render_metrics(metrics), media_type=CONTENT_TYPE_LATEST)

    for router in (auth_router, jobs_router, files_router, billing_router):
        app.include_router(router)
    for router in (tokens_router, account_router, admin_router):  # accounts: tokens, admin
        app.include_router(router)
    for router in soundstage.workflows.routers():
        _check_workflow_router(router)
        app.include_router(router)
    soundstage.web.install(app)  # pages, static files, the redirect to /login
    return app
