"""Job rules: the state machine, submit, cancel, retry, claim and restart recovery.

Functions take a Session and flush; callers commit (so a workflow can create
its own rows and a job in one transaction). The runner's own functions
(`claim_next`, `requeue_interrupted`) commit themselves.
"""

from __future__ import annotations

import json
import threading
import weakref
from collections.abc import Callable, Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, event, select, update
from sqlalchemy.orm import Session

from soundstage.platform.db import new_id, utcnow
from soundstage.platform.jobs.errors import IllegalTransition, JobNotFound, UnknownJobType
from soundstage.platform.jobs.models import TERMINAL_STATES, Job, JobEvent, JobState
from soundstage.platform.jobs.registry import get_job_type, max_attempts_for

S = JobState

ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    # queued -> moderating: held at submission for an asynchronous moderation provider.
    S.QUEUED: frozenset({S.RUNNING, S.CANCELLED, S.MODERATING}),
    S.MODERATING: frozenset({S.QUEUED, S.MODERATION_FAILED, S.CANCELLED}),
    # running -> queued: a transient-error retry or recovery after a restart.
    # running -> waiting: fanned out to child jobs; queued again when they have all ended.
    S.RUNNING: frozenset({S.COMPLETED, S.FAILED, S.CANCELLED, S.QUEUED, S.WAITING}),
    S.WAITING: frozenset({S.QUEUED, S.CANCELLED}),
    S.FAILED: frozenset({S.QUEUED}),  # a manual retry
    S.COMPLETED: frozenset(),
    S.CANCELLED: frozenset(),
    S.MODERATION_FAILED: frozenset(),  # refused content is not retried
}
WAITING_STATES = frozenset({S.QUEUED, S.MODERATING})  # not started: cancelled at once

# Live runners, poked after a commit that enqueued work so they need not poll.
_wakers: weakref.WeakSet[Any] = weakref.WeakSet()
_wakers_lock = threading.Lock()


def add_waker(runner: Any) -> None:
    """Register an object with a `wake()` method to be poked when jobs are queued."""
    with _wakers_lock:
        _wakers.add(runner)


def _wake_runners(_session: Session) -> None:
    with _wakers_lock:
        runners = list(_wakers)
    for runner in runners:
        runner.wake()


def wake_after_commit(session: Session) -> None:
    """Poke the live runners once `session` commits (it queued work)."""
    if not event.contains(session, "after_commit", _wake_runners):
        event.listen(session, "after_commit", _wake_runners, once=True)


TransitionListener = Callable[[Session, Job, "str | None", str], None]
_transition_listeners: list[TransitionListener] = []


def add_transition_listener(listener: TransitionListener) -> None:
    """Call `listener(session, job, from_state, to_state)` inside every transition's transaction.

    Platform services hang their rules here (a refund when a paid job fails, a
    charge again on a manual retry) so they commit or roll back with the move
    itself. A listener that raises aborts the transition. Registering twice is a no-op.
    """
    if listener not in _transition_listeners:
        _transition_listeners.append(listener)


def _notify(session: Session, job: Job, from_state: str | None, to_state: str) -> None:
    for listener in list(_transition_listeners):
        listener(session, job, from_state, to_state)


def transition(session: Session, job: Job, to_state: str, message: str = "") -> JobEvent:
    """Move `job` to `to_state` and record one history row; refuses illegal moves.

    Lock the job first (`lock_job`) when another thread may change it.
    Transition listeners run before the history row is flushed.
    """
    to_state = JobState(to_state)
    if to_state not in ALLOWED_TRANSITIONS[job.state]:
        raise IllegalTransition(f"job cannot go from {job.state} to {to_state}")
    now = utcnow()
    from_state, job.state = job.state, to_state
    if to_state == S.RUNNING:
        job.started_at = now
    elif to_state in TERMINAL_STATES:
        job.finished_at = now
        job.eta_s = None
    elif to_state in WAITING_STATES:
        job.finished_at = None
        job.eta_s = None
    _notify(session, job, from_state, to_state)
    row = JobEvent(job_id=job.id, at=now, from_state=from_state, to_state=to_state, message=message)
    session.add(row)
    session.flush()
    return row


def lock_job(session: Session, job_id: str) -> Job | None:
    """Load the job fresh, locking its row (FOR UPDATE on PostgreSQL; SQLite writes are serialized)."""
    return session.get(Job, job_id, with_for_update=True, populate_existing=True)


def _check_json(value: Any, what: str) -> None:
    try:
        json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} is not JSON-serializable: {exc}") from exc


def submit_job(
    session: Session,
    type: str,
    owner_id: str,
    payload: dict[str, Any] | None = None,
    *,
    max_attempts: int | None = None,
    run_after: datetime | None = None,
) -> Job:
    """Queue a job of a registered type; commit the session to make it runnable."""
    if get_job_type(type) is None:
        raise UnknownJobType(f"no handler registered for job type {type!r}")
    payload = dict(payload or {})
    _check_json(payload, "job payload")
    now = utcnow()
    job = Job(
        id=new_id(),
        type=type,
        owner_id=owner_id,
        state=S.QUEUED,
        progress=0.0,
        stage="queued",
        attempts=0,
        max_attempts=max_attempts or max_attempts_for(type),
        payload=payload,
        created_at=now,
        run_after=run_after or now,
        cancel_requested=False,
    )
    session.add(job)
    session.flush()
    _notify(session, job, None, S.QUEUED)
    session.add(
        JobEvent(job_id=job.id, at=now, from_state=None, to_state=S.QUEUED, message="submitted")
    )
    session.flush()
    wake_after_commit(session)
    return job


def get_job_for_owner(session: Session, job_id: str, owner_id: str) -> Job:
    """The job if it belongs to `owner_id`; JobNotFound (404) otherwise, even if it exists."""
    job = session.get(Job, job_id)
    if job is None or job.owner_id != owner_id:
        raise JobNotFound()
    return job


def cancel_job(session: Session, job: Job, message: str = "cancelled by user") -> Job:
    """Cancel a queued, moderating or waiting job now (a waiting job's children too); ask
    a running one to stop at its next progress report.

    Already cancelled: no change. Finished otherwise: IllegalTransition (409).
    """
    locked = lock_job(session, job.id)
    if locked is None:
        raise JobNotFound()
    if locked.state in WAITING_STATES or locked.state == S.WAITING:
        transition(session, locked, S.CANCELLED, message)
    elif locked.state == S.RUNNING:
        locked.cancel_requested = True
        session.flush()
    elif locked.state != S.CANCELLED:
        raise IllegalTransition(f"job already {locked.state}; it cannot be cancelled")
    return locked


def retry_job(session: Session, job: Job) -> Job:
    """Put a failed job back in the queue with a fresh set of attempts."""
    locked = lock_job(session, job.id)
    if locked is None:
        raise JobNotFound()
    if locked.state != S.FAILED:
        raise IllegalTransition(f"only failed jobs can be retried; this one is {locked.state}")
    from soundstage.platform.jobs.fanout import forget_children  # fanout uses this module

    forget_children(session, locked.id)
    transition(session, locked, S.QUEUED, "retry requested")
    locked.attempts = 0
    locked.fan_out = None
    locked.error = None
    locked.run_after = utcnow()
    locked.cancel_requested = False
    session.flush()
    wake_after_commit(session)
    return locked


def list_jobs_query(
    owner_id: str, *, state: str | None = None, type: str | None = None
) -> Select[tuple[Job]]:
    """Newest first; filters by state and type when given. Child jobs (a fanned-out job's
    parts) are left out: their parent shows their progress."""
    stmt = select(Job).where(Job.owner_id == owner_id, Job.parent_id.is_(None))
    if state:
        stmt = stmt.where(Job.state == state)
    if type:
        stmt = stmt.where(Job.type == type)
    return stmt.order_by(Job.created_at.desc(), Job.id)


def job_history(session: Session, job_id: str) -> list[JobEvent]:
    stmt = select(JobEvent).where(JobEvent.job_id == job_id).order_by(JobEvent.at, JobEvent.id)
    return list(session.scalars(stmt))


# -- used by the runner ----------------------------------------------------


def claim_next(session: Session) -> Job | None:
    """Atomically take the oldest runnable queued job, or None; commits.

    The claim is `UPDATE jobs ... WHERE id = :id AND state = 'queued'`: two
    runners racing for one job both try, exactly one sees a row updated. On
    PostgreSQL, candidates are read with FOR UPDATE SKIP LOCKED so runners
    spread over different jobs instead of queueing on one row lock.
    """
    now = utcnow()
    candidates = session.scalars(
        select(Job.id)
        .where(Job.state == S.QUEUED, Job.run_after <= now)
        .order_by(Job.run_after, Job.created_at, Job.id)
        .limit(3)
        .with_for_update(skip_locked=True)
    ).all()
    for job_id in candidates:
        job = claim_job(session, job_id, now=now)
        if job is not None:
            return job
    session.commit()
    return None


def claim_job(
    session: Session,
    job_id: str,
    *,
    now: datetime | None = None,
    worker: str | None = None,
    lease_s: float | None = None,
) -> Job | None:
    """Move this queued, due job to running (one more attempt), or None; commits a claim.

    `UPDATE ... WHERE state = 'queued'`: of two runners racing for the job, exactly
    one sees a row updated. A `worker` with a `lease_s` holds a lease it must renew.
    """
    now = now or utcnow()
    lease_until = now + timedelta(seconds=lease_s) if lease_s else None
    claimed = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.state == S.QUEUED, Job.run_after <= now)
        .values(
            state=S.RUNNING,
            started_at=now,
            finished_at=None,
            attempts=Job.attempts + 1,
            progress=0.0,
            stage="starting",
            eta_s=None,
            worker=worker,
            lease_until=lease_until,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        return None
    job = session.get(Job, job_id, populate_existing=True)
    assert job is not None
    message = f"attempt {job.attempts} of {job.max_attempts}" + (f" on {worker}" if worker else "")
    session.add(
        JobEvent(job_id=job_id, at=now, from_state=S.QUEUED, to_state=S.RUNNING, message=message)
    )
    session.commit()
    return job


def requeue_interrupted(session: Session, *, exclude: Collection[str] = ()) -> int:
    """Deal with jobs left `running` by a crash; commits and returns how many.

    The interrupted attempt counts: with attempts left the job is re-queued,
    otherwise it fails; a job whose cancel was requested is cancelled. Jobs in
    `exclude` (running in this process) are left alone.
    """
    stmt = select(Job).where(Job.state == S.RUNNING).with_for_update()
    if exclude:
        stmt = stmt.where(Job.id.not_in(list(exclude)))
    jobs = session.scalars(stmt).all()
    for job in jobs:
        conclude_lost_attempt(session, job, "interrupted by a restart")
    session.commit()
    return len(jobs)


def conclude_lost_attempt(session: Session, job: Job, why: str) -> None:
    """A running attempt that ended without an outcome (crash, dead worker) counts:
    re-queue the job while attempts are left, fail it after; honour a requested cancel."""
    job.worker, job.lease_until = None, None
    if job.cancel_requested:
        transition(session, job, S.CANCELLED, f"cancelled ({why})")
    elif job.attempts >= job.max_attempts:
        job.error = f"{why} after {job.attempts} attempt(s)"
        transition(session, job, S.FAILED, job.error)
    else:
        transition(session, job, S.QUEUED, f"{why}; re-queued")
        job.run_after = utcnow()


# -- moderation (seed 003): jobs held until an asynchronous moderator answers ----------------


def hold_for_moderation(
    session: Session, job: Job, fields: dict[str, str], provider: str
) -> JobEvent:
    """Move a just-submitted job from queued to moderating, keeping the texts to moderate.

    The runner's moderation step (`claim_moderation`, `finish_moderation`) then queues
    it or refuses it (moderation_failed).
    """
    event = transition(session, job, S.MODERATING, f"waiting for {provider} moderation")
    job.moderation = {"provider": provider, "fields": dict(fields), "attempts": 0}
    job.stage = "moderating"
    job.run_after = event.at
    session.flush()
    return event


def claim_moderation(session: Session, lease_s: float) -> Job | None:
    """Take the oldest moderating job that is due, leasing it for `lease_s`; commits.

    The lease (run_after moved ahead) keeps other runners off it while the moderator
    is asked; a crash simply lets the lease run out and the job is moderated again.
    """
    now = utcnow()
    candidates = session.scalars(
        select(Job.id)
        .where(Job.state == S.MODERATING, Job.run_after <= now)
        .order_by(Job.run_after, Job.created_at, Job.id)
        .limit(3)
        .with_for_update(skip_locked=True)
    ).all()
    for job_id in candidates:
        claimed = session.execute(
            update(Job)
            .where(Job.id == job_id, Job.state == S.MODERATING, Job.run_after <= now)
            .values(run_after=now + timedelta(seconds=lease_s))
            .execution_options(synchronize_session=False)
        ).rowcount
        if claimed == 1:
            job = session.get(Job, job_id, populate_existing=True)
            session.commit()
            return job
    session.commit()
    return None


def finish_moderation(
    session: Session,
    job_id: str,
    *,
    refusal: str | None = None,
    outcome: dict[str, Any] | None = None,
    retry_in_s: float | None = None,
) -> Job | None:
    """Conclude one moderation attempt; the caller commits.

    `refusal` (the reason) moves the job to moderation_failed, `retry_in_s` leaves it
    moderating for another attempt later, neither queues it. A job no longer
    moderating (cancelled meanwhile) is left alone; returns the job, or None then.
    """
    job = lock_job(session, job_id)
    if job is None or job.state != S.MODERATING:
        return None
    record = dict(job.moderation or {})
    record["attempts"] = int(record.get("attempts", 0)) + 1
    if outcome is not None:
        record["outcome"] = outcome
    job.moderation = record
    if refusal is not None:
        job.error = refusal
        transition(session, job, S.MODERATION_FAILED, refusal)
    elif retry_in_s is not None:
        job.run_after = utcnow() + timedelta(seconds=retry_in_s)
        job.stage = "moderating (retrying)"
    else:
        transition(session, job, S.QUEUED, f"passed {record.get('provider', '')} moderation")
        job.stage, job.run_after = "queued", utcnow()
        wake_after_commit(session)
    session.flush()
    return job


def retry_delay_s(base_s: float, attempt: int) -> float:
    """Exponential backoff: base * 2**(attempt-1)."""
    return base_s * 2 ** max(0, attempt - 1)
