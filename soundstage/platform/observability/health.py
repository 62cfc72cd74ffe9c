"""/healthz: is each dependency of this deployment reachable (database, broker, storage)?"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from soundstage.platform.db import Database
from soundstage.platform.storage.base import Storage


@dataclass(frozen=True)
class Check:
    ok: bool
    latency_ms: float
    detail: str = ""


def timed(probe: Callable[[], None]) -> Check:
    """Run `probe`; any exception is a failed check with its message (never raised)."""
    start = time.perf_counter()
    try:
        probe()
    except Exception as exc:  # a health check reports, it does not crash
        return Check(False, _ms(start), f"{type(exc).__name__}: {exc}"[:300])
    return Check(True, _ms(start))


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)


def check_database(db: Database) -> Check:
    def probe() -> None:
        if not db.ping():
            raise ConnectionError("the database does not answer")

    return timed(probe)


def check_broker(url: str, timeout_s: float = 2.0) -> Check:
    """Open (and close) a connection to the Celery broker: Redis or AMQP."""
    from kombu import Connection

    def probe() -> None:
        with Connection(url, connect_timeout=timeout_s) as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout_s)

    return timed(probe)


def check_storage(storage: Storage) -> Check:
    """The blob store answers: the bucket exists (S3), the folder is writable (local)."""

    def probe() -> None:
        if not storage.ping():
            raise ConnectionError("the storage does not answer (missing bucket or folder?)")

    return timed(probe)


def health_report(db: Database, storage: Storage, broker_url: str | None) -> tuple[bool, dict]:
    """(healthy, JSON body). The broker is checked only in scale-out mode."""
    checks = {"database": check_database(db), "storage": check_storage(storage)}
    if broker_url:
        checks["broker"] = check_broker(broker_url)
    healthy = all(c.ok for c in checks.values())
    body = {
        "status": "ok" if healthy else "unavailable",
        "checks": {name: asdict(check) for name, check in checks.items()},
    }
    return healthy, body
