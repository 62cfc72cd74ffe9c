"""Fan-out and fan-in: child jobs, the parent waiting, progress, cancel, failures, retries.

Runs on SQLite and PostgreSQL (the second run of the API suites), with two runner
threads so siblings end concurrently and the parent row lock is what serialises them.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import select, update

from soundstage.platform.costs.models import JobCost
from soundstage.platform.jobs import (
    Job,
    JobContext,
    JobState,
    cancel_job,
    list_jobs_query,
    register_job_type,
    retry_job,
)
from soundstage.platform.jobs.fanout import children_of, resume_finished_parents
from tests.platform.test_platform_jobs import load, states, submit, wait_for

S = JobState


def _gather(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Fan out one child per number; on the run after them, add up their results."""
    children = ctx.children()
    if not children:
        ctx.progress(10, "splitting")
        parts = [{"n": n} for n in range(payload["n"])]
        ctx.fan_out("t.square", parts, label="parts", progress_to=80)
    failed = [c for c in children if c.state != S.COMPLETED]
    if failed:
        raise RuntimeError(f"part {failed[0].payload['n']} {failed[0].state}: {failed[0].error}")
    return {"sum": sum(c.result["square"] for c in children), "attempt": ctx.attempt}


def test_children_run_in_parallel_and_the_parent_gathers_them(db, owner, runner_factory):
    from soundstage.platform.costs.estimates import embedded

    def square(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
        ctx.record_cost(embedded("square", 0.5, 0.5, "cpu_second"))
        return {"square": payload["n"] ** 2}

    register_job_type("t.square", square)
    register_job_type("t.gather", _gather)
    parent_id = submit(db, "t.gather", owner, {"n": 6})
    runner_factory(workers=2).start()
    parent = wait_for(db, parent_id, lambda j: j.state in (S.COMPLETED, S.FAILED))

    assert parent.state == S.COMPLETED, parent.error
    assert parent.result == {"sum": sum(n * n for n in range(6)), "attempt": 1}
    assert parent.attempts == 1  # the parked attempt does not count
    assert states(db, parent_id) == [
        (None, "queued"), ("queued", "running"), ("running", "waiting"),
        ("waiting", "queued"), ("queued", "running"), ("running", "completed"),
    ]  # fmt: skip
    with db.session() as session:
        children = children_of(session, parent_id)
        assert [c.state for c in children] == [S.COMPLETED] * 6
        assert sorted(c.payload["n"] for c in children) == list(range(6))
        # The children's costs (their own lines and their compute time) are the parent's.
        cost_jobs = set(session.scalars(select(JobCost.job_id)))
        assert cost_jobs == {parent_id}
        steps = list(session.scalars(select(JobCost.step).where(JobCost.job_id == parent_id)))
        assert steps.count("square") == 6
        # Job lists show the parent only.
        listed = [j.id for j in session.scalars(list_jobs_query(owner))]
        assert listed == [parent_id]


def test_the_parent_shows_its_children_progress_while_it_waits(db, owner, runner_factory):
    release = [threading.Event() for _ in range(4)]

    def held(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
        assert release[payload["n"]].wait(20)
        return {"square": payload["n"] ** 2}

    register_job_type("t.square", held)
    register_job_type("t.gather", _gather)
    parent_id = submit(db, "t.gather", owner, {"n": 4})
    runner_factory(workers=3).start()
    parent = wait_for(db, parent_id, lambda j: j.state == S.WAITING)
    assert parent.progress == 10 and parent.stage == "parts (0 of 4 done)"
    assert parent.worker is None and parent.lease_until is None
    release[0].set()
    release[1].set()
    parent = wait_for(db, parent_id, lambda j: j.stage == "parts (2 of 4 done)")
    assert parent.state == S.WAITING and parent.progress == 10 + (80 - 10) * 2 / 4
    release[2].set()
    release[3].set()
    parent = wait_for(db, parent_id, lambda j: j.state == S.COMPLETED)
    assert parent.result["sum"] == 0 + 1 + 4 + 9 and parent.progress == 100


def test_cancelling_a_waiting_parent_cancels_its_children(db, owner, runner_factory):
    started, release = threading.Event(), threading.Event()
    seen_cancel: list[bool] = []

    def slow(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
        started.set()
        release.wait(20)
        try:
            ctx.progress(50, "half way")
        except Exception as error:
            seen_cancel.append(type(error).__name__ == "JobCancelled")
            raise
        return {"square": 0}

    register_job_type("t.square", slow)
    register_job_type("t.gather", _gather)
    parent_id = submit(db, "t.gather", owner, {"n": 5})
    runner_factory(workers=2).start()  # one thread parks the parent, then two children run
    wait_for(db, parent_id, lambda j: j.state == S.WAITING)
    assert started.wait(20)
    with db.session() as session:
        cancel_job(session, session.get(Job, parent_id))
        session.commit()
    assert load(db, parent_id).state == S.CANCELLED
    release.set()
    with db.session() as session:
        ids = [c.id for c in children_of(session, parent_id)]
    for child_id in ids:
        wait_for(db, child_id, lambda j: j.state == S.CANCELLED)
    assert seen_cancel and all(seen_cancel)
    assert load(db, parent_id).state == S.CANCELLED  # ended children did not resume it


def test_a_failed_child_fails_the_parent_and_a_retry_fans_out_afresh(db, owner, runner_factory):
    fail_once = {"armed": True}

    def flaky(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
        if payload["n"] == 2 and fail_once.pop("armed", False):
            raise ValueError("the renderer ran out of ink")
        return {"square": payload["n"] ** 2}

    register_job_type("t.square", flaky)
    register_job_type("t.gather", _gather)
    parent_id = submit(db, "t.gather", owner, {"n": 3})
    runner_factory(workers=2).start()
    parent = wait_for(db, parent_id, lambda j: j.state in (S.COMPLETED, S.FAILED))
    assert parent.state == S.FAILED
    assert parent.error == "part 2 failed: the renderer ran out of ink"

    with db.session() as session:
        retry_job(session, session.get(Job, parent_id))
        session.commit()
    parent = wait_for(db, parent_id, lambda j: j.state in (S.COMPLETED, S.FAILED))
    assert parent.state == S.COMPLETED and parent.result["sum"] == 0 + 1 + 4
    with db.session() as session:  # the first round's children went with the retry
        assert [c.state for c in children_of(session, parent_id)] == [S.COMPLETED] * 3


def test_the_sweep_resumes_a_parent_whose_children_all_ended(db, owner):
    register_job_type("t.square", lambda ctx, payload: {"square": 1})
    register_job_type("t.gather", _gather)
    with db.session() as session:  # a parent parked by hand, its children ended behind its back
        parent = Job(type="t.gather", owner_id=owner, state=S.WAITING, payload={"n": 2},
                     fan_out={"label": "parts", "from": 0, "to": 80, "total": 2})  # fmt: skip
        session.add(parent)
        session.flush()
        for n in range(2):
            session.add(Job(type="t.square", owner_id=owner, parent_id=parent.id, payload={"n": n}))
        session.commit()
        parent_id = parent.id
    with db.session() as session:
        assert resume_finished_parents(session) == []  # children still queued
        session.execute(update(Job).where(Job.parent_id == parent_id).values(state=S.COMPLETED))
        session.commit()
    with db.session() as session:
        assert resume_finished_parents(session) == [parent_id]
    assert load(db, parent_id).state == S.QUEUED


def test_a_child_the_cancel_missed_stops_before_it_starts(db, owner, runner_factory):
    """The cancel cascade skips child rows another transaction holds (one being claimed);
    such a child finds its parent ended and is cancelled without running."""
    ran: list[int] = []
    register_job_type("t.square", lambda ctx, payload: ran.append(payload["n"]) or {"square": 0})
    register_job_type("t.gather", _gather)
    with db.session() as session:
        parent = Job(type="t.gather", owner_id=owner, state=S.CANCELLED, payload={"n": 1})
        session.add(parent)
        session.flush()
        child = Job(type="t.square", owner_id=owner, parent_id=parent.id, payload={"n": 0})
        session.add(child)
        session.commit()
        child_id = child.id
    runner = runner_factory()
    assert runner.run_once()
    assert load(db, child_id).state == S.CANCELLED and ran == []
