"""Fan-out and fan-in: a job splits its parallel steps into child jobs and gathers them.

A handler calls `JobContext.fan_out(type, payloads)`: in one transaction the
children are queued (each a normal job, on its type's queue, so scaled-out
workers anywhere take them) and the parent moves from running to `waiting`
without using up an attempt. While it waits, each child that ends moves the
parent's progress. When the last child ends, the parent is queued again and its
handler runs from the top: it sees its children (`JobContext.children()`) and
carries on with the gathering step (fan-in). Cancelling the parent cancels the
children that have not ended.

Races: every child's end locks the parent row before counting its siblings, so of
two children ending at once on two workers, the second sees the first and resumes
the parent. The scale-out sweep also resumes a parent whose children all ended
(`resume_finished_parents`), in case a worker died between the two.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from soundstage.platform.db import utcnow
from soundstage.platform.jobs import service
from soundstage.platform.jobs.models import TERMINAL_STATES, Job, JobState

S = JobState


def park_for_children(
    session: Session,
    parent: Job,
    job_type: str,
    payloads: Sequence[dict[str, Any]],
    *,
    label: str,
    progress_to: float,
) -> list[Job]:
    """Queue one child of `job_type` per payload and park the running `parent` in `waiting`.

    The parked attempt does not count. The caller holds the parent's row lock and commits.
    """
    children = []
    for payload in payloads:
        child = service.submit_job(session, job_type, parent.owner_id, payload)
        child.parent_id = parent.id
        children.append(child)
    parent.fan_out = {
        "label": label,
        "from": float(parent.progress),
        "to": float(progress_to),
        "total": len(children),
    }
    parent.worker, parent.lease_until = None, None
    service.transition(session, parent, S.WAITING, f"waiting for {len(children)} {label}")
    parent.attempts = max(0, parent.attempts - 1)
    parent.stage = f"{label} (0 of {len(children)} done)"
    session.flush()
    return children


def children_of(session: Session, job_id: str) -> list[Job]:
    """The job's children, oldest first."""
    stmt = select(Job).where(Job.parent_id == job_id).order_by(Job.created_at, Job.id)
    return list(session.scalars(stmt))


def on_transition(session: Session, job: Job, from_state: str | None, to_state: str) -> None:
    """Transition listener: fan-in when a child ends; cancel the children of an ended parent."""
    if to_state not in TERMINAL_STATES:
        return
    if job.parent_id is not None:
        _child_ended(session, job.parent_id)
    if job.fan_out and to_state != S.COMPLETED:
        session.flush()  # the parent's own end is visible to its children's listeners
        _cancel_children(session, job)


def _child_ended(session: Session, parent_id: str) -> None:
    parent = service.lock_job(session, parent_id)  # serialises siblings ending together
    if parent is None or parent.state != S.WAITING:
        return
    ended, total = _count_children(session, parent_id)
    plan = dict(parent.fan_out or {})
    start, end = float(plan.get("from", parent.progress)), float(plan.get("to", parent.progress))
    parent.progress = start + (end - start) * ended / max(1, total)
    parent.stage = f"{plan.get('label', 'steps')} ({ended} of {total} done)"[:200]
    if ended >= total:
        _resume(session, parent, "all child jobs ended")
    session.flush()


def _count_children(session: Session, parent_id: str) -> tuple[int, int]:
    """(ended, total) children, read in their own statement so that a child whose end was
    just committed by another transaction counts (READ COMMITTED)."""
    session.flush()
    rows = session.execute(
        select(Job.state, func.count()).where(Job.parent_id == parent_id).group_by(Job.state)
    ).all()
    total = sum(n for _, n in rows)
    ended = sum(n for state, n in rows if state in TERMINAL_STATES)
    return ended, total


def _resume(session: Session, parent: Job, why: str) -> None:
    service.transition(session, parent, S.QUEUED, f"{why}; gathering their results")
    parent.run_after = utcnow()
    service.wake_after_commit(session)


def _cancel_children(session: Session, parent: Job) -> None:
    """Stop the children still queued or running (rows another transaction holds are
    ending right now and are skipped: nothing waits for them any more)."""
    children = session.scalars(
        select(Job)
        .where(Job.parent_id == parent.id, Job.state.not_in(list(TERMINAL_STATES)))
        .with_for_update(skip_locked=True)
    ).all()
    for child in children:
        if child.state in service.WAITING_STATES:
            service.transition(session, child, S.CANCELLED, "its parent job ended")
        elif child.state == S.RUNNING:
            child.cancel_requested = True
    session.flush()


def resume_finished_parents(session: Session) -> list[str]:
    """Queue again every waiting parent whose children have all ended; commits. A safety
    net for the sweep: normally the last child's own transition does it."""
    waiting = session.scalars(
        select(Job).where(Job.state == S.WAITING).with_for_update(skip_locked=True)
    ).all()
    resumed = []
    for parent in waiting:
        ended, total = _count_children(session, parent.id)
        if ended >= total:
            _resume(session, parent, "its child jobs had ended")
            resumed.append(parent.id)
    session.commit()
    return resumed


def forget_children(session: Session, parent_id: str) -> None:
    """Before a manual retry: ended children go (their costs are the parent's already);
    any still running is detached, so the retry fans out afresh."""
    ended = list(TERMINAL_STATES)
    session.execute(
        delete(Job)
        .where(Job.parent_id == parent_id, Job.state.in_(ended))
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Job)
        .where(Job.parent_id == parent_id)
        .values(parent_id=None)
        .execution_options(synchronize_session=False)
    )
