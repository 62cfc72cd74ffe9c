"""Scale-out job rules: claims with a lease, renewal, the sweep of expired leases, re-dispatch
of queued jobs, the runner's guard against a stale attempt, and dispatch after commit only.

Runs on SQLite and PostgreSQL; the dispatch test sends to a real Redis (its own database
number, flushed). Leases are made to expire by moving `lease_until` into the past, never by
waiting.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from soundstage.config import Settings
from soundstage.platform.db import Database, utcnow
from soundstage.platform.jobs import EmbeddedRunner, Job, JobContext, register_job_type, submit_job
from soundstage.platform.jobs.celery_runner import Dispatcher, make_celery
from soundstage.platform.jobs.leases import due_for_dispatch, release_expired_leases, renew_lease
from soundstage.platform.jobs.registry import DEFAULT_QUEUE, RENDER_QUEUE
from soundstage.platform.jobs.service import claim_job, job_history
from soundstage.platform.storage import open_storage
from tests.e2e.conftest import redis_or_skip, redis_url

LEASE_S = 30.0
REDIS_DB = 15  # this module's own Redis database, flushed before and after

register_job_type("t.lease", lambda ctx, payload: None)
register_job_type("t.lease.render", lambda ctx, payload: None, queue=RENDER_QUEUE)


def submit(db: Database, owner: str, job_type: str = "t.lease", **kwargs: Any) -> str:
    with db.session() as session:
        job = submit_job(session, job_type, owner, {}, **kwargs)
        session.commit()
        return job.id


def load(db: Database, job_id: str) -> Job:
    with db.session() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def set_columns(db: Database, job_id: str, **values: Any) -> None:
    with db.session() as session:
        session.execute(update(Job).where(Job.id == job_id).values(**values))
        session.commit()


def claim(db: Database, job_id: str, worker: str = "host-a:1") -> Job | None:
    with db.session() as session:
        return claim_job(session, job_id, worker=worker, lease_s=LEASE_S)


def expire_lease(db: Database, job_id: str) -> None:
    set_columns(db, job_id, lease_until=utcnow() - timedelta(seconds=1))


def history(db: Database, job_id: str) -> list[tuple[str | None, str, str]]:
    with db.session() as session:
        return [(e.from_state, e.to_state, e.message) for e in job_history(session, job_id)]


# -- claim_job ---------------------------------------------------------------------------


def test_claim_sets_worker_and_lease_and_counts_the_attempt(db: Database, owner: str) -> None:
    job_id = submit(db, owner)
    before = utcnow()
    job = claim(db, job_id, "host-a:41")
    after = utcnow()

    assert job is not None and job.id == job_id
    stored = load(db, job_id)
    assert (stored.state, stored.attempts, stored.worker) == ("running", 1, "host-a:41")
    lease = timedelta(seconds=LEASE_S)
    assert before + lease <= stored.lease_until <= after + lease
    assert history(db, job_id)[-1] == ("queued", "running", "attempt 1 of 3 on host-a:41")


def test_two_workers_claiming_one_job_exactly_one_wins(db: Database, owner: str) -> None:
    job_ids = [submit(db, owner) for _ in range(10)]
    start = threading.Barrier(2)

    def claim_all(worker: str) -> list[str]:
        start.wait()
        return [job_id for job_id in job_ids if claim(db, job_id, worker) is not None]

    with ThreadPoolExecutor(max_workers=2) as pool:
        won = list(pool.map(claim_all, ["host-a:1", "host-b:2"]))

    assert sorted(won[0] + won[1]) == sorted(job_ids)  # every job once, none twice
    for job_id in job_ids:
        job = load(db, job_id)
        winner = "host-a:1" if job_id in won[0] else "host-b:2"
        assert (job.state, job.attempts, job.worker) == ("running", 1, winner)
        assert [m for _, to, m in history(db, job_id) if to == "running"] == [
            f"attempt 1 of 3 on {winner}"
        ]


def test_a_claimed_job_cannot_be_claimed_again(db: Database, owner: str) -> None:
    job_id = submit(db, owner)
    assert claim(db, job_id, "host-a:1") is not None
    assert claim(db, job_id, "host-b:2") is None  # a duplicate broker message claims nothing
    assert load(db, job_id).worker == "host-a:1"


def test_a_job_not_due_yet_is_not_claimed(db: Database, owner: str) -> None:
    job_id = submit(db, owner, run_after=utcnow() + timedelta(minutes=5))
    assert claim(db, job_id) is None
    job = load(db, job_id)
    assert (job.state, job.attempts, job.worker, job.lease_until) == ("queued", 0, None, None)


# -- renew_lease -------------------------------------------------------------------------


def test_the_owning_worker_renews_its_lease(db: Database, owner: str) -> None:
    job_id = submit(db, owner)
    claim(db, job_id, "host-a:1")
    set_columns(db, job_id, lease_until=utcnow() + timedelta(seconds=1))
    before = utcnow()
    with db.session() as session:
        assert renew_lease(session, job_id, "host-a:1", 120) is True
    assert load(db, job_id).lease_until >= before + timedelta(seconds=120)


def test_another_worker_cannot_renew_the_lease(db: Database, owner: str) -> None:
    job_id = submit(db, owner)
    claim(db, job_id, "host-a:1")
    lease = load(db, job_id).lease_until
    with db.session() as session:
        assert renew_lease(session, job_id, "host-b:2", 120) is False
    assert load(db, job_id).lease_until == lease


def test_a_finished_or_released_job_has_no_lease_to_renew(db: Database, owner: str) -> None:
    job_id = submit(db, owner)
    claim(db, job_id, "host-a:1")
    expire_lease(db, job_id)
    with db.session() as session:
        release_expired_leases(session)
    with db.session() as session:
        assert renew_lease(session, job_id, "host-a:1", 120) is False
    assert load(db, job_id).lease_until is None


# -- release_expired_leases --------------------------------------------------------------


def test_expired_lease_requeues_the_job_and_the_attempt_counts(db: Database, owner: str) -> None:
    job_id = submit(db, owner)
    claim(db, job_id, "host-a:1")
    expire_lease(db, job_id)

    with db.session() as session:
        assert release_expired_leases(session) == [job_id]

    job = load(db, job_id)
    assert (job.state, job.attempts, job.worker, job.lease_until) == ("queued", 1, None, None)
    assert job.run_after <= utcnow()
    assert history(db, job_id)[-1] == ("running", "queued", "worker host-a:1 stopped; re-queued")
    # ...and it can be claimed again, as attempt 2, by a surviving worker.
    again = claim(db, job_id, "host-b:2")
    assert again is not None and again.attempts == 2


def test_expired_lease_on_the_last_attempt_fails_the_job(db: Database, owner: str) -> None:
    job_id = submit(db, owner, max_attempts=1)
    claim(db, job_id, "host-a:1")
    expire_lease(db, job_id)

    with db.session() as session:
        assert release_expired_leases(session) == [job_id]

    job = load(db, job_id)
    assert (job.state, job.attempts) == ("failed", 1)
    assert job.error == "worker host-a:1 stopped after 1 attempt(s)"
    assert history(db, job_id)[-1][:2] == ("running", "failed")


def test_expired_lease_of_a_job_asked_to_cancel_cancels_it(db: Database, owner: str) -> None:
    job_id = submit(db, owner)
    claim(db, job_id, "host-a:1")
    set_columns(db, job_id, cancel_requested=True)
    expire_lease(db, job_id)

    with db.session() as session:
        assert release_expired_leases(session) == [job_id]

    assert load(db, job_id).state == "cancelled"
    assert history(db, job_id)[-1] == (
        "running",
        "cancelled",
        "cancelled (worker host-a:1 stopped)",
    )


def test_unexpired_leases_and_leaseless_jobs_are_left_alone(db: Database, owner: str) -> None:
    leased = submit(db, owner)
    claim(db, leased, "host-a:1")
    embedded = submit(db, owner)  # claimed by the embedded runner: no worker, no lease
    with db.session() as session:
        claim_job(session, embedded)
    before = {job_id: load(db, job_id) for job_id in (leased, embedded)}

    with db.session() as session:
        assert release_expired_leases(session) == []

    for job_id, job in before.items():
        now = load(db, job_id)
        assert (now.state, now.attempts, now.worker, now.lease_until) == (
            "running",
            1,
            job.worker,
            job.lease_until,
        )


# -- due_for_dispatch --------------------------------------------------------------------


def test_due_for_dispatch_marks_jobs_sent_and_not_again_within_the_window(
    db: Database, owner: str
) -> None:
    waited = submit(db, owner, "t.lease.render")
    set_columns(db, waited, run_after=utcnow() - timedelta(minutes=10))
    fresh = submit(db, owner)  # queued just now: its first message is still in flight
    running = submit(db, owner)
    set_columns(db, running, run_after=utcnow() - timedelta(minutes=10))
    claim(db, running)

    with db.session() as session:
        assert due_for_dispatch(session, 300) == [(waited, "t.lease.render", "queued")]
    sent_at = load(db, waited).dispatched_at
    assert sent_at is not None and load(db, fresh).dispatched_at is None

    with db.session() as session:
        assert due_for_dispatch(session, 300) == []  # sent within the window
    assert load(db, waited).dispatched_at == sent_at

    set_columns(db, waited, dispatched_at=utcnow() - timedelta(minutes=6))
    with db.session() as session:
        assert [row[0] for row in due_for_dispatch(session, 300)] == [waited]


# -- the runner's attempt guard -----------------------------------------------------------


@pytest.fixture
def runner(db: Database, settings: Settings) -> Iterator[EmbeddedRunner]:
    runner = EmbeddedRunner(db, settings, open_storage(settings), workers=1)
    yield runner
    runner.stop()


def _taken_over(db: Database, job_id: str) -> None:
    """What a surviving worker does while this attempt is still busy: its lease ran out,
    the sweep re-queues the job and another worker claims it as attempt 2."""
    expire_lease(db, job_id)
    with db.session() as session:
        assert release_expired_leases(session) == [job_id]
    assert claim(db, job_id, "host-b:2") is not None


@pytest.mark.parametrize("outcome", ["completes", "fails"])
def test_a_stale_attempt_does_not_overwrite_the_new_attempts_job(
    db: Database, owner: str, runner: EmbeddedRunner, outcome: str
) -> None:
    def handler(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
        _taken_over(db, ctx.job_id)
        if outcome == "fails":
            raise RuntimeError("the stale attempt broke")
        return {"from": "the stale attempt"}

    register_job_type("t.lease.stale", handler)
    job_id = submit(db, owner, "t.lease.stale")
    job = claim(db, job_id, "host-a:1")
    assert job is not None

    runner.execute(job)  # attempt 1 ends after attempt 2 began elsewhere

    now = load(db, job_id)
    assert (now.state, now.attempts, now.worker) == ("running", 2, "host-b:2")
    assert (now.result, now.error) == (None, None)
    assert [to for _, to, _ in history(db, job_id)] == [
        "queued",
        "running",
        "queued",
        "running",
    ]


# -- dispatch after commit ---------------------------------------------------------------


@pytest.fixture
def redis_client() -> Iterator[Any]:
    client = redis_or_skip(REDIS_DB)
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def dispatcher(redis_client: Any) -> Iterator[Dispatcher]:
    celery = make_celery(redis_url(REDIS_DB))
    dispatcher = Dispatcher(celery)
    dispatcher.start()
    yield dispatcher
    dispatcher.stop()
    celery.close()


def test_dispatcher_sends_after_commit_only(
    db: Database, owner: str, dispatcher: Dispatcher, redis_client: Any
) -> None:
    with db.session() as session:
        submit_job(session, "t.lease.render", owner, {})
        session.flush()
        assert redis_client.llen(RENDER_QUEUE) == 0  # not before the commit
        session.rollback()
    assert redis_client.llen(RENDER_QUEUE) == 0  # nor after a rollback

    with db.session() as session:
        render_job = submit_job(session, "t.lease.render", owner, {})
        default_job = submit_job(session, "t.lease", owner, {})
        session.commit()
    assert redis_client.llen(RENDER_QUEUE) == 1
    assert redis_client.llen(DEFAULT_QUEUE) == 1

    with db.session() as session:  # a rolled back transaction does not leak into the next
        submit_job(session, "t.lease.render", owner, {})
        session.rollback()
        session.commit()
    assert redis_client.llen(RENDER_QUEUE) == 1

    sent = [_job_id_of(m) for m in redis_client.lrange(RENDER_QUEUE, 0, -1)]
    assert sent == [render_job.id]
    assert [_job_id_of(m) for m in redis_client.lrange(DEFAULT_QUEUE, 0, -1)] == [default_job.id]


def _job_id_of(message: bytes) -> str:
    """The job id a Celery message (kombu's JSON envelope, protocol 2 body) asks to run."""
    import base64
    import json

    envelope = json.loads(message)
    assert envelope["headers"]["task"] == "soundstage.run_job"
    args, _kwargs, _embed = json.loads(base64.b64decode(envelope["body"]))
    return args[0]
