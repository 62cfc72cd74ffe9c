"""Jobs and governance: moderation states, the runner's moderation step, compute time and
provider costs recorded per attempt, and the per-job budget stopping a running job.

Runs on SQLite and PostgreSQL with real runners, real providers against the loopback
fakes, and no timing assertions.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from soundstage.config import Settings
from soundstage.platform.costs import job_costs
from soundstage.platform.db import Database, utcnow
from soundstage.platform.jobs import (
    TERMINAL_STATES,
    EmbeddedRunner,
    IllegalTransition,
    Job,
    JobContext,
    JobState,
    TransientJobError,
    cancel_job,
    job_history,
    register_job_type,
    retry_job,
    submit_job,
    transition,
)
from soundstage.platform.jobs.service import claim_moderation, hold_for_moderation
from soundstage.platform.storage import open_storage
from soundstage.providers.base import CostRecord
from tests.providers.fake_replicate import FakeReplicate

WAIT_S = 20.0


@pytest.fixture
def make_runner(db: Database, settings: Settings) -> Iterator[Callable[..., EmbeddedRunner]]:
    runners: list[EmbeddedRunner] = []

    def _make(**overrides: Any) -> EmbeddedRunner:
        tuned = settings.model_copy(update=overrides)
        storage = open_storage(tuned)  # local files, or S3 with SOUNDSTAGE_TEST_STORAGE
        runner = EmbeddedRunner(db, tuned, storage, workers=1, poll_interval_s=0.05)
        runners.append(runner)
        return runner

    yield _make
    for runner in runners:
        runner.stop()


def submit(db: Database, job_type: str, owner: str, hold: dict[str, str] | None = None) -> str:
    """Submit a job; with `hold`, keep it for moderation by the rules, as admit_job does."""
    with db.session() as session:
        job = submit_job(session, job_type, owner, {})
        if hold is not None:
            hold_for_moderation(session, job, hold, "rules")
        session.commit()
        return job.id


def load(db: Database, job_id: str) -> Job:
    with db.session() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def moves(db: Database, job_id: str) -> list[str]:
    with db.session() as session:
        return [e.to_state for e in job_history(session, job_id)]


def costs_of(db: Database, job_id: str) -> list[Any]:
    with db.session() as session:
        return job_costs(session, job_id)


def test_moderation_states_in_the_state_machine(db: Database, owner: str) -> None:
    register_job_type("g.noop", lambda ctx, payload: None)
    assert JobState.MODERATION_FAILED in TERMINAL_STATES
    assert JobState.MODERATING not in TERMINAL_STATES
    job_id = submit(db, "g.noop", owner, hold={"prompt": "slow piano"})
    job = load(db, job_id)
    assert (job.state, job.stage) == ("moderating", "moderating")
    assert job.moderation == {
        "provider": "rules",
        "fields": {"prompt": "slow piano"},
        "attempts": 0,
    }
    with db.session() as session:
        job = session.get(Job, job_id)
        for illegal in (JobState.RUNNING, JobState.COMPLETED, JobState.FAILED):
            with pytest.raises(IllegalTransition):
                transition(session, job, illegal)
        transition(session, job, JobState.MODERATION_FAILED, "refused")
        for target in JobState:
            with pytest.raises(IllegalTransition):
                transition(session, job, target)
        with pytest.raises(IllegalTransition, match="only failed jobs"):
            retry_job(session, job)
        session.commit()
    job = load(db, job_id)
    assert job.finished_at is not None
    assert moves(db, job_id) == ["queued", "moderating", "moderation_failed"]


def test_a_moderating_job_is_cancelled_at_once(db: Database, owner: str, make_runner) -> None:
    register_job_type("g.noop", lambda ctx, payload: None)
    job_id = submit(db, "g.noop", owner, hold={"prompt": "slow piano"})
    with db.session() as session:
        cancel_job(session, session.get(Job, job_id))
        session.commit()
    assert load(db, job_id).state == "cancelled"
    runner = make_runner()
    assert not runner.moderate_once()
    assert not runner.run_once()
    assert moves(db, job_id) == ["queued", "moderating", "cancelled"]


def test_runner_queues_what_moderation_passes(db: Database, owner: str, make_runner) -> None:
    register_job_type("g.echo", lambda ctx, payload: {"ran": True})
    job_id = submit(db, "g.echo", owner, hold={"prompt": "rain on a tin roof"})
    runner = make_runner()
    assert not runner.run_once()  # moderating jobs are not run
    assert runner.moderate_once()
    job = load(db, job_id)
    assert (job.state, job.stage, job.error) == ("queued", "queued", None)
    assert job.moderation["attempts"] == 1
    assert job.moderation["outcome"] == {"provider": "rules", "flagged": []}
    assert runner.run_once()
    assert load(db, job_id).result == {"ran": True}
    assert moves(db, job_id) == ["queued", "moderating", "queued", "running", "completed"]


def test_runner_refuses_what_moderation_flags(db: Database, owner: str, make_runner) -> None:
    ran: list[str] = []
    register_job_type("g.track", lambda ctx, payload: ran.append(ctx.job_id))
    job_id = submit(db, "g.track", owner, hold={"prompt": "ok", "lyrics": "gas the jews"})
    runner = make_runner()
    assert runner.moderate_once()
    job = load(db, job_id)
    assert job.state == "moderation_failed"
    assert job.error is not None
    assert job.error.startswith("prompt refused: hate — hateful content")
    assert job.error.endswith("(in lyrics)")
    assert job.moderation["outcome"]["flagged"] == [
        {"category": "hate", "field": "lyrics", "source": "rules"}
    ]
    assert not runner.run_once() and ran == []
    with db.session() as session:
        assert job_history(session, job_id)[-1].message == job.error


def test_a_moderation_claim_is_leased(db: Database, owner: str) -> None:
    register_job_type("g.noop", lambda ctx, payload: None)
    job_id = submit(db, "g.noop", owner, hold={"prompt": "x"})
    with db.session() as session:
        claimed = claim_moderation(session, lease_s=3600)
    assert claimed is not None and claimed.id == job_id
    with db.session() as session:
        assert claim_moderation(session, lease_s=3600) is None  # leased to the first
    with db.session() as session:  # a lease that ran out (a crashed runner) is taken again
        session.get(Job, job_id).run_after = utcnow()
        session.commit()
    with db.session() as session:
        again = claim_moderation(session, lease_s=3600)
    assert again is not None and again.id == job_id


def busy_work(n: int = 200_000) -> int:
    return sum(i * i for i in range(n))


def test_each_attempt_records_its_compute_time(db: Database, owner: str, make_runner) -> None:
    def flaky(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
        busy_work()
        if ctx.attempt == 1:
            raise TransientJobError("busy")
        return {"ok": True}

    register_job_type("g.flaky", flaky, max_attempts=2)
    job_id = submit(db, "g.flaky", owner)
    runner = make_runner(job_retry_base_s=0.0)
    while runner.run_once():
        pass
    assert load(db, job_id).state == "completed"
    lines = costs_of(db, job_id)
    assert [(c.attempt, c.provider, c.step, c.unit) for c in lines] == [
        (1, "embedded", "compute", "cpu_second"),
        (2, "embedded", "compute", "cpu_second"),
    ]
    for line in lines:
        assert line.usd == Decimal(0) and not line.estimated
        assert line.compute_s > 0 and line.units > 0
        assert line.user_id == owner


def test_recorded_costs_past_the_job_budget_stop_the_job(
    db: Database, owner: str, make_runner
) -> None:
    reached: list[int] = []

    def spender(ctx: JobContext, payload: dict[str, Any]) -> None:
        for step in range(1, 4):
            ctx.record_cost(
                CostRecord("replicate", "video", 40.0, "gpu_second", 0.06), step="clips"
            )
            ctx.progress(step * 30, f"clip {step}")
            reached.append(step)

    register_job_type("g.spender", spender)
    job_id = submit(db, "g.spender", owner)
    make_runner(job_budget_usd=Decimal("0.10")).run_once()
    job = load(db, job_id)
    assert job.state == "failed"
    assert job.error == (
        "stopped: this job's costs reached $0.1200, over the per-job budget of $0.10 "
        "(SOUNDSTAGE_JOB_BUDGET_USD)"
    )
    assert reached == [1]  # stopped at the progress report after the second charge
    lines = costs_of(db, job_id)
    assert [(c.provider, c.step, c.usd, c.units, c.estimated) for c in lines[:2]] == [
        ("replicate", "clips", Decimal("0.06"), 40.0, True),
        ("replicate", "clips", Decimal("0.06"), 40.0, True),
    ]
    assert [(c.provider, c.step) for c in lines[2:]] == [("embedded", "compute")]


@pytest.fixture(scope="module")
def provider_video(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """What a text-to-video model answers: 2 s of its own size and frame rate."""
    path = tmp_path_factory.mktemp("replicate") / "provider.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x176:rate=12:d=2",
         "-pix_fmt", "yuv420p", str(path)],
        check=True,
    )  # fmt: skip
    return path.read_bytes()


@pytest.fixture
def fake_replicate(provider_video: bytes) -> Iterator[FakeReplicate]:
    with FakeReplicate(video=provider_video) as server:
        yield server


def clip_specs(count: int) -> dict[str, Any]:
    from soundstage.media.visuals.spec import ClipSpec

    size = {"width": 160, "height": 96, "fps": 12, "n_frames": 24, "template": "flow"}
    return {
        f"c{i}": ClipSpec(**size, start_s=2.0 * i, prompt=f"clip {i}", seed=i) for i in range(count)
    }


def register_clip_job(fake: FakeReplicate, work: Path) -> None:
    """A job that renders clips on the real Replicate provider, as the music video pipeline
    does, with the provider's costs recorded through the job context."""
    from soundstage.workflows.music_video.pipeline import render_clips, video_generator

    def run(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
        generator = ctx.watch_costs(video_generator(ctx.settings), step="clips")
        done = render_clips(
            clip_specs(payload["clips"]), generator, work, workers=1,
            on_progress=lambda f: ctx.progress(100 * f, "clips"),
        )  # fmt: skip
        return {"clips": len(done)}

    register_job_type("g.clips", run)


def replicate_settings(fake: FakeReplicate) -> dict[str, Any]:
    return {
        "replicate_api_token": fake.api_token,
        "replicate_base_url": fake.base_url,
        "replicate_poll_interval_s": 0.01,
        "video_provider": "replicate",
    }


def submit_payload(db: Database, job_type: str, owner: str, payload: dict[str, Any]) -> str:
    with db.session() as session:
        job = submit_job(session, job_type, owner, payload)
        session.commit()
        return job.id


def test_replicate_costs_are_recorded_per_job(
    db: Database, owner: str, make_runner, fake_replicate: FakeReplicate, tmp_path: Path
) -> None:
    register_clip_job(fake_replicate, tmp_path)
    job_id = submit_payload(db, "g.clips", owner, {"clips": 2})
    make_runner(**replicate_settings(fake_replicate), job_budget_usd=None).run_once()
    assert load(db, job_id).state == "completed"
    lines = costs_of(db, job_id)
    cloud = [c for c in lines if c.provider == "replicate"]
    per_clip = Decimal("42.5") * Decimal("0.0014")  # the fake's predict_time × the price
    assert [(c.step, c.units, c.unit, c.usd) for c in cloud] == [
        ("clips", 42.5, "gpu_second", per_clip),
        ("clips", 42.5, "gpu_second", per_clip),
    ]
    assert [c.provider for c in lines if c not in cloud] == ["embedded"]


def test_replicate_costs_past_the_budget_stop_the_clips(
    db: Database, owner: str, make_runner, fake_replicate: FakeReplicate, tmp_path: Path
) -> None:
    register_clip_job(fake_replicate, tmp_path)
    job_id = submit_payload(db, "g.clips", owner, {"clips": 3})
    runner = make_runner(**replicate_settings(fake_replicate), job_budget_usd=Decimal("0.05"))
    runner.run_once()
    job = load(db, job_id)
    assert job.state == "failed"  # the same job completes without a budget (test above)
    assert job.error is not None
    assert job.error.startswith("stopped: this job's costs reached $0.")
    assert job.error.endswith("over the per-job budget of $0.05 (SOUNDSTAGE_JOB_BUDGET_USD)")
    cloud = [c for c in costs_of(db, job_id) if c.provider == "replicate"]
    assert cloud[0].units == 42.5  # the first clip's charge; a clip cut short adds its own
    assert sum(c.usd for c in cloud) > Decimal("0.05")


def wait_state(db: Database, job_id: str, states: set[str]) -> Job:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        job = load(db, job_id)
        if job.state in states:
            return job
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} stayed {load(db, job_id).state}")


def test_a_started_runner_moderates_then_runs(db: Database, owner: str, make_runner) -> None:
    register_job_type("g.echo", lambda ctx, payload: {"ran": True})
    job_id = submit(db, "g.echo", owner, hold={"prompt": "soft rain"})
    make_runner().start()
    assert wait_state(db, job_id, TERMINAL_STATES).state == "completed"
