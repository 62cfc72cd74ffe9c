"""Live job progress for pages: the job JSON, its Server-Sent Events, cancel and retry, by cookie.

The same answers as /api/jobs/{id}, /events, /cancel and /retry (these call the same
functions), authenticated by the page's session instead of a Bearer token.
static/studio.js follows them: EventSource first, polling when a stream fails.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from soundstage.platform.deps import DatabaseDep, SessionDep
from soundstage.platform.jobs import api as jobs_api
from soundstage.web.auth import PageUser, same_origin

router = APIRouter(prefix="/ui/jobs", tags=["web"], include_in_schema=False,
                   dependencies=[Depends(same_origin)])  # fmt: skip


@router.get("/{job_id}")
def job(job_id: str, user: PageUser, session: SessionDep) -> dict[str, Any]:
    return jobs_api.get_job(job_id, user, session).model_dump(mode="json")


@router.get("/{job_id}/events")
def job_events(job_id: str, user: PageUser, session: SessionDep, db: DatabaseDep):
    return jobs_api.job_events(job_id, user, session, db)


@router.post("/{job_id}/retry")
def retry(job_id: str, user: PageUser, session: SessionDep) -> dict[str, Any]:
    return jobs_api.retry(job_id, user, session).model_dump(mode="json")


@router.post("/{job_id}/cancel")
def cancel(job_id: str, user: PageUser, session: SessionDep) -> dict[str, Any]:
    return jobs_api.cancel(job_id, user, session).model_dump(mode="json")
