"""Job types: a handler per name, registered by workflows at startup."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from soundstage.platform.jobs.context import JobContext

JobHandler = Callable[["JobContext", dict[str, Any]], dict[str, Any] | None]


DEFAULT_QUEUE = "default"
RENDER_QUEUE = "render"  # CPU-heavy rendering and encoding: its own workers, when scaled out
QUEUES = (DEFAULT_QUEUE, RENDER_QUEUE)


@dataclass(frozen=True)
class JobType:
    name: str
    handler: JobHandler
    max_attempts: int | None = None
    queue: str = DEFAULT_QUEUE


_types: dict[str, JobType] = {}
_default_max_attempts = 3


def register_job_type(
    name: str,
    handler: JobHandler,
    *,
    max_attempts: int | None = None,
    queue: str = DEFAULT_QUEUE,
) -> None:
    """Register (or replace) the handler for jobs of type `name`.

    `handler(ctx, payload)` returns a JSON-able dict stored as the job result (or
    None). `max_attempts` overrides settings.job_max_attempts for this type.
    `queue` routes it when scaled out: RENDER_QUEUE for CPU-heavy work.
    """
    if not name:
        raise ValueError("job type name is empty")
    if max_attempts is not None and max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    if queue not in QUEUES:
        raise ValueError(f"queue must be one of {', '.join(QUEUES)}")
    _types[name] = JobType(name, handler, max_attempts, queue)


def get_job_type(name: str) -> JobType | None:
    return _types.get(name)


def queue_for(name: str) -> str:
    """The queue jobs of type `name` go to (the default queue for unknown types)."""
    job_type = _types.get(name)
    return job_type.queue if job_type else DEFAULT_QUEUE


def registered_types() -> list[str]:
    return sorted(_types)


def set_default_max_attempts(value: int) -> None:
    """Attempts for types registered without their own limit (from settings, at app start)."""
    global _default_max_attempts
    _default_max_attempts = max(1, value)


def max_attempts_for(name: str) -> int:
    job_type = _types.get(name)
    if job_type and job_type.max_attempts:
        return job_type.max_attempts
    return _default_max_attempts
