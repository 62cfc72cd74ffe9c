"""Jobs: state machine, history, progress, cancel, retries, restart recovery, atomic claims.

Runs on SQLite and PostgreSQL. Handlers synchronize with the test through
threading.Event; waits use generous timeouts and nothing asserts on timing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import select

from soundstage.platform.db import Database, utcnow
from soundstage.platform.jobs import (
    EmbeddedRunner,
    IllegalTransition,
    Job,
    JobContext,
    JobNotFound,
    JobState,
    TransientJobError,
    UnknownJobType,
    cancel_job,
    get_job_for_owner,
    job_history,
    register_job_type,
    retry_job,
    submit_job,
    transition,
)
from soundstage.platform.jobs.service import claim_next
from soundstage.platform.storage import open_storage

WAIT_S = 20.0


def submit(db: Database, job_type: str, owner: str, payload: dict[str, Any] | None = None) -> str:
    with db.session() as session:
        job = submit_job(session, job_type, owner, payload or {})
        session.commit()
        return job.id


def load(db: Database, job_id: str) -> Job:
    with db.session() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def wait_for(db: Database, job_id: str, predicate: Callable[[Job], bool]) -> Job:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        job = load(db, job_id)
        if predicate(job):
            return job
        time.sleep(0.02)
    raise AssertionError(
        f"job {job_id} never reached the expected condition: {load(db, job_id).state}"
    )


def run_until_idle(runner: EmbeddedRunner) -> None:
    while runner.run_once():
        pass


def states(db: Database, job_id: str) -> list[tuple[str | None, str]]:
    with db.session() as session:
        return [(e.from_state, e.to_state) for e in job_history(session, job_id)]


def test_state_machine_refuses_illegal_transitions(db: Database, owner: str) -> None:
    register_job_type("t.noop", lambda ctx, payload: None)
    job_id = submit(db, "t.noop", owner)
    with db.session() as session:
        job = session.get(Job, job_id)
        with pytest.raises(IllegalTransition):
            transition(session, job, JobState.COMPLETED)
        with pytest.raises(IllegalTransition):
            transition(session, job, JobState.FAILED)
        transition(session, job, JobState.RUNNING)
        transition(session, job, JobState.COMPLETED)
        for target in JobState:
            with pytest.raises(IllegalTransition):
                transition(session, job, target)
        session.commit()
    assert states(db, job_id) == [(None, "queued"), ("queued", "running"), ("running", "completed")]


def test_submit_validates(db: Database, owner: str) -> None:
    with db.session() as session:
        with pytest.raises(UnknownJobType):
            submit_job(session, "t.never-registered", owner, {})
        register_job_type("t.noop", lambda ctx, payload: None)
        with pytest.raises(ValueError, match="JSON"):
            submit_job(session, "t.noop", owner, {"x": object()})


def test_job_completes_with_result_and_history(db, owner, runner_factory) -> None:
    register_job_type("t.echo", lambda ctx, payload: {"echo": payload["x"], "attempt": ctx.attempt})
    job_id = submit(db, "t.echo", owner, {"x": 42})
    runner = runner_factory()
    assert runner.run_once()
    job = load(db, job_id)
    assert job.state == "completed"
    assert job.result == {"echo": 42, "attempt": 1}
    assert job.progress == 100.0
    assert job.attempts == 1
    assert job.started_at is not None and job.finished_at is not None
    assert job.finished_at >= job.started_at >= job.created_at
    assert states(db, job_id) == [(None, "queued"), ("queued", "running"), ("running", "completed")]
    assert not runner.run_once()


def test_permanent_failure_keeps_a_clear_message(db, owner, runner_factory) -> None:
    def boom(ctx: JobContext, payload: dict[str, Any]) -> None:
        raise ValueError("the prompt is empty")

    register_job_type("t.boom", boom)
    job_id = submit(db, "t.boom", owner)
    run_until_idle(runner_factory())
    job = load(db, job_id)
    assert job.state == "failed"
    assert job.error == "the prompt is empty"
    assert job.attempts == 1  # not retried
    assert "Traceback" not in (job.error or "")


def test_bad_results_fail_the_job(db, owner, runner_factory) -> None:
    register_job_type("t.list", lambda ctx, payload: [1, 2])
    register_job_type("t.obj", lambda ctx, payload: {"x": object()})
    a, b = submit(db, "t.list", owner), submit(db, "t.obj", owner)
    run_until_idle(runner_factory())
    assert "expected a dict" in load(db, a).error
    assert "JSON" in load(db, b).error


def test_transient_error_retries_with_backoff_then_succeeds(
    db, owner, runner_factory, settings
) -> None:
    calls: list[int] = []

    def flaky(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
        calls.append(ctx.attempt)
        if ctx.attempt < 3:
            raise TransientJobError(f"service busy (attempt {ctx.attempt})")
        return {"ok": True}

    register_job_type("t.flaky", flaky, max_attempts=3)
    job_id = submit(db, "t.flaky", owner)
    runner = runner_factory()
    assert runner.run_once()
    for attempt in (1, 2):
        job = load(db, job_id)
        assert job.state == "queued"
        assert job.error == f"service busy (attempt {attempt})"
        with db.session() as session:
            failed_at = job_history(session, job_id)[-1].at
        expected = settings.job_retry_base_s * 2 ** (attempt - 1)
        assert (job.run_after - failed_at).total_seconds() == pytest.approx(expected, abs=0.01)
        assert not runner.run_once()  # not before run_after
        wait_for(db, job_id, lambda j: j.run_after <= utcnow())
        while not runner.run_once():
            time.sleep(0.01)
    job = load(db, job_id)
    assert job.state == "completed"
    assert job.result == {"ok": True}
    assert job.attempts == 3
    assert calls == [1, 2, 3]
    assert [s for _, s in states(db, job_id)] == [
        "queued",
        "running",
        "queued",
        "running",
        "queued",
        "running",
        "completed",
    ]


def test_transient_error_fails_after_max_attempts(db, owner, settings) -> None:
    settings = settings.model_copy(update={"job_retry_base_s": 0.0})

    def always_busy(ctx: JobContext, payload: dict[str, Any]) -> None:
        raise TransientJobError("still busy")

    register_job_type("t.busy", always_busy, max_attempts=2)
    job_id = submit(db, "t.busy", owner)
    runner = EmbeddedRunner(db, settings, open_storage(settings), workers=1)
    run_until_idle(runner)
    job = load(db, job_id)
    assert job.state == "failed"
    assert job.attempts == 2
    assert job.error == "still busy"
    with db.session() as session:
        assert "failed after 2 attempt(s): still busy" in job_history(session, job_id)[-1].message


def test_progress_is_persisted_with_eta(db, owner, runner_factory) -> None:
    reported, release = threading.Event(), threading.Event()

    def slow(ctx: JobContext, payload: dict[str, Any]) -> None:
        ctx.progress(50, "halfway")
        reported.set()
        assert release.wait(WAIT_S)

    register_job_type("t.slow", slow)
    job_id = submit(db, "t.slow", owner)
    runner_factory().start()
    assert reported.wait(WAIT_S)
    job = load(db, job_id)
    assert (job.state, job.progress, job.stage) == ("running", 50.0, "halfway")
    assert job.eta_s is not None and job.eta_s >= 0
    release.set()
    assert wait_for(db, job_id, lambda j: j.state == "completed").progress == 100.0


def test_progress_is_throttled_but_stage_changes_always_persist(db, owner, settings) -> None:
    register_job_type("t.noop", lambda ctx, payload: None)
    job_id = submit(db, "t.noop", owner)
    with db.session() as session:
        job = claim_next(session)
    assert job is not None and job.id == job_id
    ctx = JobContext(job, db=db, settings=settings, storage=open_storage(settings))
    ctx.min_interval_s = 3600
    ctx.progress(10, "render")
    assert load(db, job_id).progress == 10
    ctx.progress(20, "render")  # throttled
    assert load(db, job_id).progress == 10
    ctx.progress(30, "master")  # new stage: written
    assert (load(db, job_id).progress, load(db, job_id).stage) == (30, "master")
    ctx.progress(60, eta_s=12.5)  # throttled
    ctx.progress(100)  # the end is always written
    job = load(db, job_id)
    assert (job.progress, job.stage, job.eta_s) == (100, "master", 0.0)


def test_cancel_queued_job(db, owner) -> None:
    register_job_type("t.noop", lambda ctx, payload: None)
    job_id = submit(db, "t.noop", owner)
    with db.session() as session:
        job = cancel_job(session, session.get(Job, job_id))
        session.commit()
    assert job.state == "cancelled"
    assert load(db, job_id).finished_at is not None
    with db.session() as session:
        assert claim_next(session) is None
        cancel_job(session, session.get(Job, job_id))  # idempotent
    assert states(db, job_id)[-1] == ("queued", "cancelled")


def test_cancel_running_job(db, owner, runner_factory) -> None:
    started = threading.Event()

    def loop(ctx: JobContext, payload: dict[str, Any]) -> None:
        ctx.min_interval_s = 0.0
        started.set()
        for i in range(100_000):
            ctx.progress(i % 100, "looping")
            time.sleep(0.005)

    register_job_type("t.loop", loop)
    job_id = submit(db, "t.loop", owner)
    runner_factory().start()
    assert started.wait(WAIT_S)
    with db.session() as session:
        job = cancel_job(session, session.get(Job, job_id))
        session.commit()
        assert job.cancel_requested
    job = wait_for(db, job_id, lambda j: j.state == "cancelled")
    assert states(db, job_id)[-1] == ("running", "cancelled")
    with db.session() as session, pytest.raises(IllegalTransition):
        retry_job(session, session.get(Job, job_id))


def test_cancel_finished_job_is_refused(db, owner, runner_factory) -> None:
    register_job_type("t.noop", lambda ctx, payload: None)
    job_id = submit(db, "t.noop", owner)
    run_until_idle(runner_factory())
    with db.session() as session, pytest.raises(IllegalTransition, match="completed"):
        cancel_job(session, session.get(Job, job_id))


def test_manual_retry_of_failed_job(db, owner, runner_factory) -> None:
    outcomes = iter([ValueError("bad luck"), None])

    def once_bad(ctx: JobContext, payload: dict[str, Any]) -> None:
        outcome = next(outcomes)
        if outcome:
            raise outcome

    register_job_type("t.once-bad", once_bad)
    job_id = submit(db, "t.once-bad", owner)
    runner = runner_factory()
    run_until_idle(runner)
    assert load(db, job_id).state == "failed"
    with db.session() as session:
        retry_job(session, session.get(Job, job_id))
        session.commit()
    run_until_idle(runner)
    job = load(db, job_id)
    assert (job.state, job.error, job.attempts) == ("completed", None, 1)
    assert ("failed", "queued") in states(db, job_id)


def test_requeue_after_restart(db, owner, runner_factory) -> None:
    register_job_type("t.noop", lambda ctx, payload: {"done": True}, max_attempts=2)
    crashed = submit(db, "t.noop", owner)
    exhausted = submit(db, "t.noop", owner)
    cancelling = submit(db, "t.noop", owner)
    with db.session() as session:  # a previous process claimed all three, then died
        for _ in range(3):
            claim_next(session)
        for job in session.scalars(select(Job)):
            if job.id == exhausted:
                job.attempts = 2
            if job.id == cancelling:
                job.cancel_requested = True
        session.commit()

    runner = runner_factory()
    assert runner.recover() == 3
    job = load(db, crashed)
    assert (job.state, job.attempts) == ("queued", 1)
    with db.session() as session:
        last = job_history(session, crashed)[-1]
    assert (last.from_state, last.to_state, last.message) == (
        "running",
        "queued",
        "interrupted by a restart; re-queued",
    )
    assert load(db, exhausted).state == "failed"
    assert "restart" in load(db, exhausted).error
    assert load(db, cancelling).state == "cancelled"

    run_until_idle(runner)
    job = load(db, crashed)
    assert (job.state, job.attempts, job.result) == ("completed", 2, {"done": True})


def test_stop_requeues_running_job_without_using_an_attempt(db, owner, runner_factory) -> None:
    started = threading.Event()

    def loop(ctx: JobContext, payload: dict[str, Any]) -> None:
        started.set()
        while True:
            ctx.progress(1, "waiting")
            time.sleep(0.01)

    register_job_type("t.forever", loop)
    job_id = submit(db, "t.forever", owner)
    runner = runner_factory()
    runner.start()
    assert started.wait(WAIT_S)
    runner.stop()
    job = load(db, job_id)
    assert (job.state, job.attempts) == ("queued", 0)


def test_two_runners_never_claim_the_same_job(db, owner) -> None:
    register_job_type("t.noop", lambda ctx, payload: None)
    ids = {submit(db, "t.noop", owner, {"i": i}) for i in range(40)}

    def claim_all() -> list[str]:
        claimed = []
        with db.session() as session:
            while (job := claim_next(session)) is not None:
                claimed.append(job.id)
        return claimed

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda _: claim_all(), range(6)))
    claimed = [job_id for batch in results for job_id in batch]
    assert len(claimed) == len(set(claimed)) == len(ids)
    assert set(claimed) == ids
    with db.session() as session:
        jobs = session.scalars(select(Job)).all()
    assert all(j.state == "running" and j.attempts == 1 for j in jobs)


def test_runner_pool_runs_every_job_once(db, owner, runner_factory) -> None:
    seen: list[int] = []
    lock = threading.Lock()

    def record(ctx: JobContext, payload: dict[str, Any]) -> None:
        with lock:
            seen.append(payload["i"])

    register_job_type("t.record", record)
    ids = [submit(db, "t.record", owner, {"i": i}) for i in range(20)]
    runner_factory(workers=3).start()
    runner_factory(workers=2).start()
    for job_id in ids:
        wait_for(db, job_id, lambda j: j.state == "completed")
    assert sorted(seen) == list(range(20))


def test_owner_isolation(db, owner) -> None:
    register_job_type("t.noop", lambda ctx, payload: None)
    job_id = submit(db, "t.noop", owner)
    with db.session() as session:
        assert get_job_for_owner(session, job_id, owner).id == job_id
        with pytest.raises(JobNotFound):
            get_job_for_owner(session, job_id, "someone-else")
        with pytest.raises(JobNotFound):
            get_job_for_owner(session, "no-such-job", owner)


def test_unknown_type_at_run_time_fails(db, owner, runner_factory) -> None:
    from soundstage.platform.jobs import registry

    register_job_type("t.gone", lambda ctx, payload: None)
    job_id = submit(db, "t.gone", owner)
    registry._types.pop("t.gone")
    run_until_idle(runner_factory())
    assert "no handler registered" in load(db, job_id).error


def test_transition_listeners_see_every_move_in_the_same_transaction(db: Database, owner: str):
    """A listener sees submit and each transition; one that raises aborts the move."""
    from soundstage.platform.jobs import add_transition_listener
    from soundstage.platform.jobs.service import _transition_listeners

    seen: list[tuple[str | None, str]] = []

    def listener(session, job, from_state, to_state) -> None:
        if job.type != "test.listened":
            return
        if job.payload.get("refuse_cancel") and to_state == JobState.CANCELLED:
            raise ValueError("not now")
        seen.append((from_state, to_state))

    register_job_type("test.listened", lambda ctx, payload: None)
    add_transition_listener(listener)
    add_transition_listener(listener)
    try:
        job_id = submit(db, "test.listened", owner)
        with db.session() as session:
            cancel_job(session, session.get(Job, job_id))
            session.commit()
        assert seen == [(None, "queued"), ("queued", "cancelled")]

        refused = submit(db, "test.listened", owner, {"refuse_cancel": True})
        with db.session() as session, pytest.raises(ValueError, match="not now"):
            cancel_job(session, session.get(Job, refused))
        assert load(db, refused).state == JobState.QUEUED
        assert [h.to_state for h in _history(db, refused)] == ["queued"]
    finally:
        _transition_listeners.remove(listener)


def _history(db: Database, job_id: str) -> list[Any]:
    with db.session() as session:
        return job_history(session, job_id)
