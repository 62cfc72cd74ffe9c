"""`EmbeddedRunner`: a pool of threads in the server process that runs queued jobs."""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import timedelta
from typing import Any

from soundstage.config import Settings
from soundstage.platform.db import Database, utcnow
from soundstage.platform.jobs import service
from soundstage.platform.jobs.context import JobContext
from soundstage.platform.jobs.errors import JobCancelled, JobInterrupted, TransientJobError
from soundstage.platform.jobs.models import Job, JobState
from soundstage.platform.jobs.registry import get_job_type, set_default_max_attempts
from soundstage.platform.storage.base import Storage

log = logging.getLogger("soundstage.jobs")
S = JobState
MAX_ERROR_CHARS = 2000

# Jobs running in this process, so a runner starting next to another one in the
# same process does not "recover" jobs that are alive. Claims and recovery take
# the lock so a job is never claimed-but-unlisted while recovery looks.
_local_lock = threading.Lock()
_local_running: set[str] = set()


class _AttemptClock:
    """Wall time and this thread's CPU time since the attempt began."""

    def __init__(self) -> None:
        self._wall = time.perf_counter()
        self._cpu = time.thread_time()

    def elapsed(self) -> tuple[float, float]:
        return time.perf_counter() - self._wall, time.thread_time() - self._cpu


def error_message(exc: BaseException) -> str:
    """The exception's own words (its class name when it has none), never a traceback."""
    text = str(exc).strip() or type(exc).__name__
    return text[:MAX_ERROR_CHARS]


class EmbeddedRunner:
    """Claims runnable queued jobs and runs their handlers on `workers` threads.

    `start()` first re-queues jobs a crash left `running` (one runner process
    per database: jobs running in another process would be re-queued too). `stop()` asks
    handlers to stop at their next progress report (their jobs go back to the
    queue without using up an attempt) and waits for the threads.
    """

    def __init__(
        self,
        db: Database,
        settings: Settings,
        storage: Storage,
        *,
        workers: int | None = None,
        poll_interval_s: float = 0.5,
    ) -> None:
        self.db = db
        self.settings = settings
        self.storage = storage
        self.workers = workers or settings.job_workers
        self.poll_interval_s = poll_interval_s
        self._stopping = threading.Event()
        self._wakeup = threading.Event()
        self._threads: list[threading.Thread] = []
        self._attempts: dict[str, int] = {}  # job id -> the attempt this process runs
        set_default_max_attempts(settings.job_max_attempts)

    # -- lifecycle ------------------------------------------------------

    def start(self) -> None:
        if self._threads:
            return
        self.recover()
        self._stopping.clear()
        service.add_waker(self)
        for i in range(self.workers):
            thread = threading.Thread(target=self._loop, name=f"soundstage-job-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)
        log.info("job runner started with %d worker thread(s)", self.workers)

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stopping.set()
        self._wakeup.set()
        for thread in self._threads:
            thread.join(timeout_s)
        self._threads.clear()

    def wake(self) -> None:
        """Poke idle workers (called after a commit that queued a job)."""
        self._wakeup.set()

    def recover(self) -> int:
        """Re-queue (or fail/cancel) jobs left running by a previous process."""
        with _local_lock, self.db.session() as session:
            count = service.requeue_interrupted(session, exclude=set(_local_running))
        if count:
            log.warning("recovered %d job(s) interrupted by a restart", count)
        return count

    # -- work -----------------------------------------------------------

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                moderated = self.moderate_once()
                ran = self.run_once() or moderated
            except Exception:
                log.exception("job runner loop error")
                ran = False
            if not ran:
                self._wakeup.wait(self.poll_interval_s)
                self._wakeup.clear()

    def run_once(self) -> bool:
        """Claim and run one job in this thread; False when none was runnable."""
        with _local_lock, self.db.session() as session:
            job = service.claim_next(session)
            if job is not None:
                _local_running.add(job.id)
        if job is None:
            return False
        try:
            self.execute(job)
        finally:
            with _local_lock:
                _local_running.discard(job.id)
        return True

    def execute(self, job: Job) -> None:
        """Run one claimed job's attempt to its outcome in this thread (any runner uses this)."""
        self._attempts[job.id] = job.attempts
        try:
            self._run(job)
        finally:
            self._attempts.pop(job.id, None)

    def _lock_running(self, session, job_id: str) -> Job | None:
        """The job, locked, if this attempt still owns it: running, and not re-claimed since
        (a scaled-out job whose lease ran out may be running again on another worker)."""
        job = service.lock_job(session, job_id)
        if job is None or job.state != S.RUNNING:
            return None
        if job.attempts != self._attempts.get(job_id, job.attempts):
            return None
        return job

    def _run(self, job: Job) -> None:
        job_type = get_job_type(job.type)
        if job_type is None:
            self._finish(job.id, S.FAILED, error=f"no handler registered for job type {job.type!r}")
            return
        ctx = JobContext(
            job, db=self.db, settings=self.settings, storage=self.storage, stopping=self._stopping
        )
        log.info("job %s (%s) attempt %d started", job.id, job.type, job.attempts)
        clock = _AttemptClock()
        try:
            if job.parent_id is not None:  # a child whose parent ended meanwhile does not start
                ctx.check_cancelled()
            result = job_type.handler(ctx, dict(job.payload or {}))
        except Exception as exc:
            self._record_compute(job, clock)
            self._conclude_failure(job, exc)
            return
        self._record_compute(job, clock)
        self._complete(job.id, result)

    def _conclude_failure(self, job: Job, exc: Exception) -> None:
        """The outcome of an attempt that raised (call inside the `except` block)."""
        if isinstance(exc, JobCancelled):
            self._finish(job.id, S.CANCELLED, message="cancelled by request")
        elif isinstance(exc, JobInterrupted):
            self._interrupted(job.id)
        elif isinstance(exc, TransientJobError):
            self._transient(job.id, error_message(exc))
        else:
            log.exception("job %s (%s) failed", job.id, job.type)
            self._finish(job.id, S.FAILED, error=error_message(exc))

    def _record_compute(self, job: Job, clock: _AttemptClock) -> None:
        """The attempt's compute time as an "embedded" cost line: wall seconds, and the CPU
        seconds of this thread (work a handler spreads over other threads or processes is
        not in that figure). Written before the outcome, so a finished job has it."""
        from soundstage.platform.costs import service as costs  # costs imports jobs.models
        from soundstage.platform.costs.estimates import embedded

        wall_s, cpu_s = clock.elapsed()
        line = embedded("compute", wall_s, cpu_s, "cpu_second")
        try:
            cost_job_id = job.parent_id or job.id  # a child's costs are its parent's
            with self.db.session() as session:
                if session.get(Job, cost_job_id) is not None:
                    costs.add_cost(session, cost_job_id, job.owner_id, line, attempt=job.attempts)
                    session.commit()
        except Exception:  # a lost cost line must not lose the job's outcome
            log.exception("job %s: could not record its compute time", job.id)

    # -- moderation (seed 003) -------------------------------------------------------

    def moderate_once(self) -> bool:
        """Moderate one job waiting in `moderating`, in this thread; False when none was due."""
        lease_s = self.settings.provider_timeout_s * (self.settings.provider_max_retries + 1) + 30
        with self.db.session() as session:
            job = service.claim_moderation(session, lease_s)
        if job is None:
            return False
        self._moderate(job)
        return True

    def _moderate(self, job: Job) -> None:
        """Ask the job's moderator; queue it, refuse it, or try again later on an error.

        A moderator that keeps failing refuses the job after its max attempts: content
        is never let through unmoderated.
        """
        from soundstage.platform.policy.moderation import moderate_held  # policy uses jobs

        held = dict(job.moderation or {})
        attempt = int(held.get("attempts", 0)) + 1
        try:
            refusal, outcome = moderate_held(self.settings, held)
        except Exception as exc:
            message = error_message(exc)
            log.warning("job %s: moderation attempt %d failed: %s", job.id, attempt, message)
            with self.db.session() as session:
                if attempt >= job.max_attempts:
                    refusal = f"moderation failed after {attempt} attempt(s): {message}"
                    service.finish_moderation(
                        session, job.id, refusal=refusal, outcome={"error": message}
                    )
                else:
                    delay = service.retry_delay_s(self.settings.job_retry_base_s, attempt)
                    service.finish_moderation(
                        session, job.id, retry_in_s=delay, outcome={"error": message}
                    )
                session.commit()
            return
        with self.db.session() as session:
            service.finish_moderation(session, job.id, refusal=refusal, outcome=outcome)
            session.commit()
        log.info("job %s moderation: %s", job.id, refusal or "passed")

    # -- outcomes (each one short transaction) ---------------------------

    def _complete(self, job_id: str, result: Any) -> None:
        if result is not None and not isinstance(result, dict):
            self._finish(
                job_id,
                S.FAILED,
                error=f"handler returned {type(result).__name__}, expected a dict or None",
            )
            return
        try:
            json.dumps(result)
        except (TypeError, ValueError) as exc:
            self._finish(job_id, S.FAILED, error=f"job result is not JSON-serializable: {exc}")
            return
        self._finish(job_id, S.COMPLETED, result=result, message="completed")

    def _finish(
        self,
        job_id: str,
        state: str,
        *,
        error: str | None = None,
        result: dict[str, Any] | None = None,
        message: str | None = None,
    ) -> None:
        with self.db.session() as session:
            job = self._lock_running(session, job_id)
            if job is None:
                return
            job.error = error
            if state == S.COMPLETED:
                job.result, job.progress = result, 100.0
            service.transition(session, job, state, message or error or state)
            session.commit()
        log.info("job %s %s%s", job_id, state, f": {error}" if error else "")

    def _transient(self, job_id: str, error: str) -> None:
        with self.db.session() as session:
            job = self._lock_running(session, job_id)
            if job is None:
                return
            job.error = error
            if job.attempts >= job.max_attempts:
                message = f"failed after {job.attempts} attempt(s): {error}"
                service.transition(session, job, S.FAILED, message)
            else:
                delay = service.retry_delay_s(self.settings.job_retry_base_s, job.attempts)
                event = service.transition(session, job, S.QUEUED, f"retry in {delay:g} s: {error}")
                job.run_after = event.at + timedelta(seconds=delay)  # from the recorded moment
                job.stage = "waiting to retry"
            session.commit()

    def _interrupted(self, job_id: str) -> None:
        with self.db.session() as session:
            job = self._lock_running(session, job_id)
            if job is None:
                return
            service.transition(session, job, S.QUEUED, "interrupted by shutdown; re-queued")
            job.attempts = max(0, job.attempts - 1)
            job.run_after = utcnow()
            session.commit()
