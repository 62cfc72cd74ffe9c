"""`JobContext`: what a running handler gets — its job, settings, storage, progress, costs."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from soundstage.config import Settings
from soundstage.platform.db import Database
from soundstage.platform.jobs.errors import (
    JobCancelled,
    JobInterrupted,
    JobOverBudget,
    JobParked,
)
from soundstage.platform.jobs.models import TERMINAL_STATES, Job, JobState
from soundstage.platform.jobs.service import lock_job
from soundstage.platform.storage.base import Storage

if TYPE_CHECKING:
    from soundstage.platform.costs.estimates import CostLine
    from soundstage.providers.base import CostRecord

P = TypeVar("P")


class JobContext:
    """Handed to `handler(ctx, payload)` for one attempt of one job.

    `progress()` writes at most every `min_interval_s` (stage changes and 100 %
    always), and doubles as the cancellation point.
    """

    min_interval_s: float = 0.5

    def __init__(
        self,
        job: Job,
        *,
        db: Database,
        settings: Settings,
        storage: Storage,
        stopping: threading.Event | None = None,
    ) -> None:
        self.job_id = job.id
        self.job_type = job.type
        self.owner_id = job.owner_id
        self.attempt = job.attempts
        self.max_attempts = job.max_attempts
        self.payload: dict[str, Any] = dict(job.payload or {})
        self.parent_id = job.parent_id
        # A child job's costs are its parent's: one bill and one budget for the whole job.
        self.cost_job_id = job.parent_id or job.id
        self.db = db
        self.settings = settings
        self.storage = storage
        self._stopping = stopping or threading.Event()
        self._started = time.monotonic()
        self._last_write = float("-inf")
        self._last_stage: str | None = None
        self._over_budget: str | None = None

    def session(self) -> Session:
        """A new database session for the handler's own reads and writes (commit it)."""
        return self.db.session()

    def progress(self, pct: float, stage: str | None = None, eta_s: float | None = None) -> None:
        """Record progress (0–100) and stage; raises JobCancelled if cancellation was asked.

        Without `eta_s`, the ETA is estimated from the time elapsed in this attempt.
        """
        self._check_stop()
        pct = min(100.0, max(0.0, float(pct)))
        stage = self._last_stage if stage is None else stage
        now = time.monotonic()
        due = now - self._last_write >= self.min_interval_s
        if not (due or stage != self._last_stage or pct >= 100.0):
            return
        if eta_s is None:
            eta_s = self._estimate_eta(pct, now)
        self._last_write, self._last_stage = now, stage
        values: dict[str, Any] = {"progress": pct, "eta_s": eta_s}
        if stage is not None:
            values["stage"] = stage[:200]
        with self.db.session() as session:
            session.execute(
                update(Job)
                .where(Job.id == self.job_id, Job.state == JobState.RUNNING)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            cancelled = self._cancel_reason(session)
            session.commit()
        if cancelled:
            raise JobCancelled(cancelled)

    def reporter(self, start: float = 0.0, end: float = 100.0) -> Callable[[float, str], None]:
        """A pipeline's (0..1 fraction, stage) callback mapped onto start..end % of this job."""

        def report(fraction: float, stage: str) -> None:
            self.progress(start + (end - start) * min(1.0, max(0.0, fraction)), stage)

        return report

    def work_dir(self) -> Path:
        """A fresh work folder for this job; a re-run after a crash starts clean."""
        path = self.settings.tmp_dir / f"job-{self.job_id}"
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        return path

    def fetch(self, key: str, dest: Path) -> Path:
        """Copy a stored file into the work folder (works for any storage backend)."""
        with self.storage.open_read(key) as source, dest.open("wb") as target:
            shutil.copyfileobj(source, target, 1 << 20)
        return dest

    def check_cancelled(self) -> None:
        """Raise JobCancelled now if cancellation was requested (no progress write)."""
        self._check_stop()
        with self.db.session() as session:
            cancelled = self._cancel_reason(session)
        if cancelled:
            raise JobCancelled(cancelled)

    def _cancel_reason(self, session: Session) -> str | None:
        """Why this job must stop: a cancel request, or (a child job) its parent has ended.

        The parent's cancel marks its children too, but skips rows another transaction
        holds at that moment (one being claimed, say); those stop here."""
        if session.scalar(select(Job.cancel_requested).where(Job.id == self.job_id)):
            return "cancelled by request"
        if self.parent_id is None:
            return None
        parent_state = session.scalar(select(Job.state).where(Job.id == self.parent_id))
        if parent_state is None or parent_state in TERMINAL_STATES:
            return "its parent job ended"
        return None

    # -- fan-out -----------------------------------------------------------------------------

    def fan_out(
        self,
        job_type: str,
        payloads: list[dict[str, Any]],
        *,
        label: str,
        progress_to: float,
    ) -> NoReturn:
        """Run `payloads` as child jobs of `job_type` (in parallel, on any worker) and end
        this attempt; the handler runs again once they have all ended (`children()`).

        While they run, this job is `waiting` and its progress moves from where it is now to
        `progress_to` as children end, with the stage "<label> (k of n done)".
        """
        from soundstage.platform.jobs.fanout import park_for_children  # fanout uses service

        self._check_stop()
        with self.db.session() as session:
            job = lock_job(session, self.job_id)
            if job is None or job.state != JobState.RUNNING or job.attempts != self.attempt:
                raise JobInterrupted("this attempt no longer owns the job")
            park_for_children(
                session, job, job_type, payloads, label=label, progress_to=progress_to
            )
            session.commit()
        raise JobParked(f"waiting for {len(payloads)} {label}")

    def children(self) -> list[Job]:
        """This job's child jobs (detached from the session), oldest first."""
        from soundstage.platform.jobs.fanout import children_of

        with self.db.session() as session:
            rows = children_of(session, self.job_id)
            session.expunge_all()
        return rows

    # -- costs (seed 003) -------------------------------------------------------------------

    @property
    def over_budget(self) -> str | None:
        """Why the job must stop because its costs passed its budget, or None."""
        return self._over_budget

    def record_cost(self, cost: CostRecord | CostLine, *, step: str | None = None) -> None:
        """Add a cost line to this job: a provider's CostRecord or a CostLine. Thread-safe.

        `step` names the part of the job (default: the record's operation). Once the
        job's recorded costs pass SOUNDSTAGE_JOB_BUDGET_USD, the next progress report
        raises JobOverBudget and the job fails with the reason. Never raises for it here,
        so a provider can report what it spent from inside its own error handling.
        """
        from soundstage.platform.costs import service as costs  # costs imports jobs.models

        line, estimated = _as_line(cost, step)
        with self.db.session() as session:
            if session.get(Job, self.cost_job_id) is None:
                return  # the job (its owner) was deleted meanwhile
            costs.add_cost(
                session,
                self.cost_job_id,
                self.owner_id,
                line,
                attempt=self.attempt,
                estimated=estimated,
            )
            reason = costs.over_job_budget(session, self.settings, self.cost_job_id)
            session.commit()
        if reason is not None:
            self._over_budget = reason

    def cost_sink(self, step: str) -> Callable[[CostRecord], None]:
        """A provider `on_cost` callback that records every CostRecord under `step`."""

        def sink(record: CostRecord) -> None:
            self.record_cost(record, step=step)

        return sink

    def watch_costs(self, provider: P, step: str) -> P:
        """Record what `provider` reports through its `on_cost` hook (if it has one)."""
        if hasattr(provider, "on_cost"):
            provider.on_cost = self.cost_sink(step)  # type: ignore[attr-defined]
        return provider

    def _check_stop(self) -> None:
        if self._stopping.is_set():
            raise JobInterrupted("the job runner is stopping")
        if self._over_budget is not None:
            raise JobOverBudget(self._over_budget)

    def _estimate_eta(self, pct: float, now: float) -> float | None:
        if pct >= 100.0:
            return 0.0
        if pct <= 0.0:
            return None
        elapsed = now - self._started
        return round(elapsed * (100.0 - pct) / pct, 1)


def _as_line(cost: Any, step: str | None) -> tuple[CostLine, bool]:
    """A CostLine (and whether its price is an estimate) from a CostRecord or a CostLine."""
    from soundstage.platform.costs.estimates import CostLine, usd

    if hasattr(cost, "cost_usd"):  # a provider's CostRecord
        line = CostLine(
            cost.provider, step or cost.operation, usd(cost.cost_usd), 0.0, cost.units, cost.unit
        )
        return line, bool(cost.estimated)
    if step is not None:
        cost = CostLine(cost.provider, step, cost.usd, cost.compute_s, cost.units, cost.unit)
    return cost, False
