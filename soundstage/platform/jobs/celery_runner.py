"""Scale-out runner: Celery workers over Redis or RabbitMQ run the same job handlers.

The job table stays the truth; a broker message only says "look at job X".

- **Dispatch** (API processes and workers): every job that becomes queued (or
  moderating) is sent to the broker once its transaction commits, on the queue
  its type was registered with (`render` for CPU-heavy work, `default` else).
- **Run** (`soundstage worker`): a task claims its job atomically in the
  database (a duplicate or stale message claims nothing), holds a lease that a
  heartbeat renews, and runs it with the embedded runner's own code, so
  progress, results, retries, costs and refunds behave exactly as in one process.
- **Recover**: messages are acknowledged late and re-delivered when a worker is
  lost; on top of that each worker sweeps the table: jobs whose lease ran out
  (their worker died) go back to the queue, and queued jobs whose message may
  have been lost are sent again.
"""

from __future__ import annotations

import logging
import os
import socket
import threading

from celery import Celery
from kombu import Queue
from sqlalchemy import event
from sqlalchemy.orm import Session

from soundstage.config import Settings
from soundstage.platform.db import Database, utcnow
from soundstage.platform.jobs import fanout, leases, service
from soundstage.platform.jobs.models import Job, JobState
from soundstage.platform.jobs.registry import DEFAULT_QUEUE, QUEUES, queue_for
from soundstage.platform.jobs.runner import EmbeddedRunner
from soundstage.platform.storage.base import Storage

log = logging.getLogger("soundstage.celery")
S = JobState
RUN_TASK = "soundstage.run_job"
MODERATE_TASK = "soundstage.moderate_job"
_PENDING = "soundstage_dispatch"  # session.info key: jobs to send once the session commits
_dispatchers: set[Dispatcher] = set()
_dispatchers_lock = threading.Lock()


def make_celery(broker_url: str) -> Celery:
    """A Celery app for our two queues: late acks, one message at a time per thread."""
    app = Celery("soundstage", broker=broker_url, set_as_current=False)
    app.conf.update(
        task_queues=[Queue(name) for name in QUEUES],
        task_default_queue=DEFAULT_QUEUE,
        task_acks_late=True,  # a message is done when its job attempt is, not when taken
        task_reject_on_worker_lost=True,  # a killed worker's message goes back to the queue
        worker_prefetch_multiplier=1,
        task_ignore_result=True,  # results live in the job table
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": 3600},
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
    )
    return app


class Dispatcher:
    """Sends each newly queued (or moderating) job to the broker after its commit."""

    def __init__(self, celery: Celery) -> None:
        self.celery = celery

    def start(self) -> None:
        service.add_transition_listener(_remember_for_dispatch)
        with _dispatchers_lock:
            _dispatchers.add(self)

    def stop(self) -> None:
        with _dispatchers_lock:
            _dispatchers.discard(self)

    def send(self, job_id: str, job_type: str, state: str, countdown: float | None = None) -> None:
        moderating = state == S.MODERATING
        self.celery.send_task(
            MODERATE_TASK if moderating else RUN_TASK,
            args=[job_id],
            queue=DEFAULT_QUEUE if moderating else queue_for(job_type),
            countdown=countdown,
        )


def _remember_for_dispatch(session: Session, job: Job, from_state: str | None, to_state: str):
    if to_state not in (S.QUEUED, S.MODERATING) or not _dispatchers:
        return
    job.dispatched_at = utcnow()  # sent at commit: the sweep resends only if it seems lost
    session.info.setdefault(_PENDING, {})[job.id] = (job.type, str(to_state))
    if not event.contains(session, "after_commit", _send_pending):
        event.listen(session, "after_commit", _send_pending)
        event.listen(session, "after_rollback", _forget_pending)


def _send_pending(session: Session) -> None:
    pending: dict[str, tuple[str, str]] = session.info.pop(_PENDING, {})
    with _dispatchers_lock:
        dispatchers = list(_dispatchers)
    for job_id, (job_type, state) in pending.items():
        for dispatcher in dispatchers:
            try:
                dispatcher.send(job_id, job_type, state)
            except Exception:  # the sweep sends it again later
                log.exception("could not send job %s to the broker", job_id)


def _forget_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Heartbeat:
    """Renews a job's lease every third of the lease while the job runs."""

    def __init__(self, db: Database, job_id: str, worker: str, lease_s: float) -> None:
        self.db, self.job_id, self.worker, self.lease_s = db, job_id, worker, lease_s
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lease-{job_id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._done.wait(self.lease_s / 3):
            try:
                with self.db.session() as session:
                    if not leases.renew_lease(session, self.job_id, self.worker, self.lease_s):
                        log.info(
                            "job %s: lease ended (finished, waiting or taken over)", self.job_id
                        )
                        return
            except Exception:  # a missed beat is retried; the lease has slack for two
                log.exception("job %s: could not renew the lease", self.job_id)


class CeleryWorker:
    """One `soundstage worker` process: Celery's consumer threads run claimed jobs."""

    def __init__(self, db: Database, settings: Settings, storage: Storage, threads: int) -> None:
        if not settings.broker_url:
            raise ValueError("SOUNDSTAGE_BROKER_URL is not set: there is no broker to work for")
        self.db, self.settings, self.storage = db, settings, storage
        self.name = worker_name()
        self.threads = threads
        self.runner = EmbeddedRunner(db, settings, storage, workers=threads)  # executes; no loop
        self.celery = make_celery(settings.broker_url)
        self.dispatcher = Dispatcher(self.celery)
        self._stopping = threading.Event()
        self.celery.task(name=RUN_TASK, acks_late=True)(self.run_job)
        self.celery.task(name=MODERATE_TASK, acks_late=True)(self.moderate_job)

    # -- tasks --------------------------------------------------------------------------

    def run_job(self, job_id: str) -> None:
        lease_s = self.settings.job_lease_s
        with self.db.session() as session:
            job = service.claim_job(session, job_id, worker=self.name, lease_s=lease_s)
            if job is None:
                self._not_claimed(session, job_id)
                return
        log.info("job %s (%s) claimed by %s", job.id, job.type, self.name)
        with Heartbeat(self.db, job.id, self.name, lease_s):
            self.runner.execute(job)

    def _not_claimed(self, session: Session, job_id: str) -> None:
        """A message for a job that is not runnable now: resend a retry that is not due yet;
        anything else (running elsewhere, finished, deleted) needs nothing."""
        job = session.get(Job, job_id)
        if job is not None and job.state == S.QUEUED:
            wait_s = max(0.0, (job.run_after - utcnow()).total_seconds())
            self.dispatcher.send(job.id, job.type, job.state, countdown=wait_s)

    def moderate_job(self, job_id: str) -> None:
        """Moderate due jobs (this one or any other waiting); a retry is swept later."""
        while self.runner.moderate_once():
            pass

    # -- the sweep ----------------------------------------------------------------------

    def sweep(self) -> None:
        """Re-queue jobs whose worker died (their lease ran out), resume fanned-out jobs whose
        children all ended, and resend lost messages."""
        with self.db.session() as session:
            released = leases.release_expired_leases(session)  # dispatched after commit
        if released:
            log.warning("re-queued %d job(s) whose worker stopped: %s", len(released), released)
        with self.db.session() as session:
            resumed = fanout.resume_finished_parents(session)
        if resumed:
            log.warning("resumed %d fanned-out job(s) whose children had ended", len(resumed))
        with self.db.session() as session:
            due = leases.due_for_dispatch(session, self.settings.job_redispatch_s)
        for job_id, job_type, state in due:
            self.dispatcher.send(job_id, job_type, state)

    def _sweep_loop(self) -> None:
        interval = self.settings.job_lease_s / 2
        while not self._stopping.wait(interval):
            try:
                self.sweep()
            except Exception:
                log.exception("sweep failed")

    # -- lifecycle ----------------------------------------------------------------------

    def start(self, queues: list[str]) -> None:
        """Serve `queues` until stopped (SIGTERM: finish running jobs, then exit)."""
        self.dispatcher.start()
        sweeper = threading.Thread(target=self._sweep_loop, name="sweep", daemon=True)
        sweeper.start()
        argv = ["worker", "--queues", ",".join(queues), "--concurrency", str(self.threads)]
        argv += ["--pool", "threads", "--hostname", f"soundstage-{self.name}@%h"]
        argv += ["--without-gossip", "--without-mingle", "--loglevel", "INFO"]
        try:
            self.celery.worker_main(argv)
        finally:
            self._stopping.set()
            self.dispatcher.stop()
