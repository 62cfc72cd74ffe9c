"""Leases for jobs run by separate worker processes (scale-out mode).

A worker that claims a job holds a lease and renews it while the job runs. A
worker killed mid-job stops renewing; once the lease runs out, any surviving
worker's sweep puts the job back in the queue (the lost attempt counts), and
the broker is asked to deliver it again. The job table stays the only truth:
a broker message only says "look at this job".
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from soundstage.platform.db import utcnow
from soundstage.platform.jobs.models import Job, JobState
from soundstage.platform.jobs.service import conclude_lost_attempt

S = JobState


def renew_lease(session: Session, job_id: str, worker: str, lease_s: float) -> bool:
    """Extend `worker`'s lease on its running job; False when the job is no longer its own."""
    renewed = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.state == S.RUNNING, Job.worker == worker)
        .values(lease_until=utcnow() + timedelta(seconds=lease_s))
        .execution_options(synchronize_session=False)
    ).rowcount
    session.commit()
    return renewed == 1


def release_expired_leases(session: Session) -> list[str]:
    """Re-queue (or fail, or cancel) running jobs whose worker stopped renewing; commits.

    Returns the ids handled. Rows are locked and skipped when another sweeper has them.
    """
    now = utcnow()
    jobs = session.scalars(
        select(Job)
        .where(Job.state == S.RUNNING, Job.lease_until.is_not(None), Job.lease_until < now)
        .with_for_update(skip_locked=True)
    ).all()
    for job in jobs:
        conclude_lost_attempt(session, job, f"worker {job.worker or '?'} stopped")
    session.commit()
    return [job.id for job in jobs]


def due_for_dispatch(session: Session, older_than_s: float) -> list[tuple[str, str, str]]:
    """(id, type, state) of queued or moderating jobs due for longer than `older_than_s`
    and not sent to the broker in that time; marks them sent now; commits."""
    now = utcnow()
    cutoff = now - timedelta(seconds=older_than_s)
    rows = session.execute(
        select(Job.id, Job.type, Job.state)
        .where(
            Job.state.in_([S.QUEUED, S.MODERATING]),
            Job.run_after <= cutoff,
            or_(Job.dispatched_at.is_(None), Job.dispatched_at <= cutoff),
        )
        .with_for_update(skip_locked=True)
    ).all()
    if rows:
        session.execute(
            update(Job)
            .where(Job.id.in_([r.id for r in rows]))
            .values(dispatched_at=now)
            .execution_options(synchronize_session=False)
        )
    session.commit()
    return [(r.id, r.type, r.state) for r in rows]
