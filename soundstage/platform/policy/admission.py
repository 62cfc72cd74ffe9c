"""`admit_job`: the one call a workflow makes for a job that carries user text.

    job = submit_job(session, GENERATE_JOB, owner_id, payload)
    admit_job(session, settings, job, {"prompt": prompt})
    session.commit()

In order: the content rules (422 ContentRefused), the cost estimate and the
budgets (402 BudgetExceeded, 429 DailyBudgetExceeded), then, when an asynchronous
moderator is configured, the job is held in `moderating`. Call it before the
commit: a refusal leaves the transaction to be rolled back, so nothing of the
request is stored (the track row, the job, a credit charge made by a listener).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from soundstage.config import Settings
from soundstage.platform.costs.estimates import Estimate, estimate_job
from soundstage.platform.costs.service import check_budget
from soundstage.platform.jobs.models import Job
from soundstage.platform.jobs.service import hold_for_moderation
from soundstage.platform.policy.moderation import async_provider
from soundstage.platform.policy.service import check_content, texts_of


def admit_job(
    session: Session,
    settings: Settings,
    job: Job,
    texts: Mapping[str, str | None],
    *,
    estimate_payload: Mapping[str, Any] | None = None,
) -> Estimate:
    """Check a just-submitted (uncommitted) job at the door; returns its accepted estimate.

    `texts` maps field names the user knows to their text. `estimate_payload` is
    what the job type's cost estimator reads (default: the job's own payload).
    """
    check_content(settings, texts)
    payload = job.payload if estimate_payload is None else estimate_payload
    estimate = estimate_job(settings, job.type, payload)
    check_budget(session, settings, job.owner_id, estimate, exclude_job_id=job.id)
    job.estimated_usd = estimate.total_usd
    provider = async_provider(settings)
    fields = texts_of(texts)
    if provider is not None and fields:
        hold_for_moderation(session, job, fields, provider)
    session.flush()
    return estimate
