"""Prometheus metrics read at scrape time from the job table (and the broker's queues).

The job table is the truth for every runner, so one scrape of any API process
shows the whole cluster: jobs by type and state, recent durations, and the
depth of each queue (jobs waiting in the database; messages waiting in the
broker when one is configured).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from soundstage import __version__
from soundstage.platform.db import Database, utcnow
from soundstage.platform.jobs.models import Job, JobState

DURATION_WINDOW = timedelta(hours=24)
DURATION_BUCKETS_S = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, float("inf"))


def histogram_buckets(values: Iterable[float], bounds=DURATION_BUCKETS_S) -> list[tuple[str, int]]:
    """Cumulative (le, count) pairs in Prometheus' bucket format."""
    ordered = sorted(values)
    out, i = [], 0
    for bound in bounds:
        while i < len(ordered) and ordered[i] <= bound:
            i += 1
        out.append(("+Inf" if bound == float("inf") else f"{bound:g}", i))
    return out


def broker_queue_lengths(url: str, queues: Iterable[str]) -> dict[str, int]:
    """Messages waiting per queue on a Redis or AMQP broker (passive declare: nothing created)."""
    from kombu import Connection

    lengths: dict[str, int] = {}
    with Connection(url, connect_timeout=2) as conn:
        for name in queues:
            try:
                lengths[name] = conn.default_channel.queue_declare(name, passive=True).message_count
            except Exception:  # a queue nobody declared yet holds nothing
                lengths[name] = 0
    return lengths


class JobCollector(Collector):
    """Collects on every scrape; `queue_of(job_type)` names the queue a job type goes to."""

    def __init__(
        self,
        db: Database,
        queue_of: Callable[[str], str],
        broker_url: str | None = None,
        queues: Iterable[str] = (),
    ) -> None:
        self.db, self.queue_of, self.broker_url = db, queue_of, broker_url
        self.queues = tuple(queues)

    def collect(self) -> Iterator[Metric]:
        info = GaugeMetricFamily("soundstage_info", "Version of this process", labels=["version"])
        info.add_metric([__version__], 1)
        yield info
        with self.db.session() as session:
            counts = session.execute(
                select(Job.type, Job.state, func.count()).group_by(Job.type, Job.state)
            ).all()
            since = utcnow() - DURATION_WINDOW
            finished = session.execute(
                select(Job.type, Job.started_at, Job.finished_at).where(
                    Job.state == JobState.COMPLETED, Job.finished_at >= since
                )
            ).all()
        yield self._jobs(counts)
        yield self._durations(finished)
        yield from self._queue_depth(counts)

    @staticmethod
    def _jobs(counts) -> Metric:
        jobs = GaugeMetricFamily(
            "soundstage_jobs", "Jobs by type and state", labels=["type", "state"]
        )
        for job_type, state, n in counts:
            jobs.add_metric([job_type, str(state)], n)
        return jobs

    @staticmethod
    def _durations(finished) -> Metric:
        by_type: dict[str, list[float]] = {}
        for job_type, started, ended in finished:
            if started and ended:
                by_type.setdefault(job_type, []).append((ended - started).total_seconds())
        hist = HistogramMetricFamily(
            "soundstage_job_duration_seconds",
            "Run time of jobs completed in the last 24 hours, by type",
            labels=["type"],
        )
        for job_type, values in sorted(by_type.items()):
            hist.add_metric([job_type], histogram_buckets(values), sum_value=sum(values))
        return hist

    def _queue_depth(self, counts) -> Iterator[Metric]:
        waiting: dict[str, int] = dict.fromkeys(self.queues, 0)
        for job_type, state, n in counts:
            if state == JobState.QUEUED:
                queue = self.queue_of(job_type)
                waiting[queue] = waiting.get(queue, 0) + n
        depth = GaugeMetricFamily(
            "soundstage_queue_depth", "Jobs queued in the database, by queue", labels=["queue"]
        )
        for queue, n in sorted(waiting.items()):
            depth.add_metric([queue], n)
        yield depth
        if not self.broker_url:
            return
        broker = GaugeMetricFamily(
            "soundstage_broker_queue_messages",
            "Messages waiting in the broker, by queue",
            labels=["queue"],
        )
        try:
            lengths = broker_queue_lengths(self.broker_url, sorted(waiting))
        except Exception:  # broker down: /healthz says so; the scrape still answers
            lengths = {}
        for queue, n in sorted(lengths.items()):
            broker.add_metric([queue], n)
        yield broker


def render_metrics(collector: JobCollector) -> bytes:
    """The Prometheus text exposition of one scrape (a registry per call: no global state)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return generate_latest(registry)
