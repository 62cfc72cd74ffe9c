"""Background jobs: one `jobs` table, a state machine with history, an embedded runner.

Workflows register a handler per job type and submit jobs from their routes:

    register_job_type("ambient.generate", run)          # run(ctx, payload) -> dict | None
    job = submit_job(session, "ambient.generate", user.id, {"prompt": "..."})
    session.commit()
"""

from soundstage.platform.jobs.context import JobContext
from soundstage.platform.jobs.errors import (
    IllegalTransition,
    JobCancelled,
    JobInterrupted,
    JobNotFound,
    JobOverBudget,
    JobParked,
    TransientJobError,
    UnknownJobType,
)
from soundstage.platform.jobs.fanout import on_transition as _fan_in_and_out
from soundstage.platform.jobs.models import TERMINAL_STATES, Job, JobEvent, JobState
from soundstage.platform.jobs.registry import (
    JobHandler,
    get_job_type,
    register_job_type,
    registered_types,
)
from soundstage.platform.jobs.runner import EmbeddedRunner
from soundstage.platform.jobs.service import (
    ALLOWED_TRANSITIONS,
    add_transition_listener,
    cancel_job,
    get_job_for_owner,
    job_history,
    list_jobs_query,
    retry_job,
    submit_job,
    transition,
)

__all__ = [
    "ALLOWED_TRANSITIONS",
    "TERMINAL_STATES",
    "EmbeddedRunner",
    "IllegalTransition",
    "Job",
    "JobCancelled",
    "JobContext",
    "JobEvent",
    "JobHandler",
    "JobInterrupted",
    "JobNotFound",
    "JobOverBudget",
    "JobParked",
    "JobState",
    "TransientJobError",
    "UnknownJobType",
    "add_transition_listener",
    "cancel_job",
    "get_job_for_owner",
    "get_job_type",
    "job_history",
    "list_jobs_query",
    "register_job_type",
    "registered_types",
    "retry_job",
    "submit_job",
    "transition",
]

add_transition_listener(_fan_in_and_out)
