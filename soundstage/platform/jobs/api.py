"""Routes under /api/jobs: status, live progress (SSE), history, cancel, retry, list."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Query
from sse_starlette import EventSourceResponse

from soundstage.platform.db import Database
from soundstage.platform.deps import CurrentUser, DatabaseDep, SessionDep
from soundstage.platform.http import Page, PageDep, paginate
from soundstage.platform.jobs import service
from soundstage.platform.jobs.models import TERMINAL_STATES, Job, JobState
from soundstage.platform.jobs.schemas import JobEventOut, JobOut

router = APIRouter(prefix="/api/jobs", tags=["jobs"])

SSE_POLL_INTERVAL_S = 0.3
SSE_PING_S = 15


def job_json(job: Job) -> dict[str, Any]:
    """The public JSON of a job (as GET /api/jobs/{id} answers)."""
    return JobOut.model_validate(job).model_dump(mode="json")


@router.get("", response_model=Page[JobOut])
def list_jobs(
    user: CurrentUser,
    session: SessionDep,
    page: PageDep,
    state: Annotated[JobState | None, Query(description="Only jobs in this state")] = None,
    type: Annotated[str | None, Query(description="Only jobs of this type")] = None,
) -> dict[str, Any]:
    """Your jobs, newest first."""
    stmt = service.list_jobs_query(user.id, state=state, type=type)
    return paginate(session, stmt, page, JobOut.model_validate)


@router.get("/{job_id}", response_model=JobOut)
def get_job(job_id: str, user: CurrentUser, session: SessionDep) -> JobOut:
    return JobOut.model_validate(service.get_job_for_owner(session, job_id, user.id))


@router.get("/{job_id}/history", response_model=list[JobEventOut])
def job_history(job_id: str, user: CurrentUser, session: SessionDep) -> list[JobEventOut]:
    """Every state transition of the job, oldest first."""
    service.get_job_for_owner(session, job_id, user.id)
    return [JobEventOut.model_validate(e) for e in service.job_history(session, job_id)]


@router.post("/{job_id}/cancel", response_model=JobOut)
def cancel(job_id: str, user: CurrentUser, session: SessionDep) -> JobOut:
    """Cancel a queued job at once, or ask a running one to stop (state turns `cancelled` soon)."""
    job = service.cancel_job(session, service.get_job_for_owner(session, job_id, user.id))
    session.commit()
    return JobOut.model_validate(job)


@router.post("/{job_id}/retry", response_model=JobOut)
def retry(job_id: str, user: CurrentUser, session: SessionDep) -> JobOut:
    """Queue a failed job again."""
    job = service.retry_job(session, service.get_job_for_owner(session, job_id, user.id))
    session.commit()
    return JobOut.model_validate(job)


@router.get(
    "/{job_id}/events",
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
def job_events(
    job_id: str, user: CurrentUser, session: SessionDep, db: DatabaseDep
) -> EventSourceResponse:
    """Server-Sent Events: `progress` with the job JSON on every change, then `done` at the end.

    EventSource cannot send headers: pass the token as `?access_token=`.
    """
    service.get_job_for_owner(session, job_id, user.id)
    return EventSourceResponse(_stream(db, job_id), ping=SSE_PING_S)


def _snapshot(db: Database, job_id: str) -> dict[str, Any] | None:
    with db.session() as session:
        job = session.get(Job, job_id)
        return job_json(job) if job else None


async def _stream(db: Database, job_id: str) -> AsyncIterator[dict[str, str]]:
    last = None
    while True:
        data = await anyio.to_thread.run_sync(_snapshot, db, job_id)
        if data is None:
            yield {"event": "error", "data": json.dumps({"detail": "job not found"})}
            return
        text = json.dumps(data)
        if text != last:
            yield {"event": "progress", "data": text}
            last = text
        if data["state"] in TERMINAL_STATES:
            yield {"event": "done", "data": text}
            return
        await anyio.sleep(SSE_POLL_INTERVAL_S)
