"""Exceptions of the job system: for handlers, and for callers of the service."""

from __future__ import annotations

from soundstage.platform.errors import Conflict, NotFound


class TransientJobError(Exception):
    """Raised by a handler for a failure worth retrying (network, busy resource)."""


class JobCancelled(Exception):
    """Raised by `JobContext.progress` when the job's cancellation was requested."""


class JobInterrupted(Exception):
    """Raised inside handlers when the runner is stopping; the job goes back to the queue."""


class JobParked(JobInterrupted):
    """Raised by `JobContext.fan_out` once the job waits for its child jobs: the attempt
    ends without an outcome, and the handler runs again when the children have ended."""


class JobOverBudget(Exception):
    """Raised by `JobContext.progress` once the job's recorded costs pass its budget.

    Not retried: the runner fails the job with this message.
    """


class JobNotFound(NotFound):
    def __init__(self, message: str = "job not found") -> None:
        super().__init__(message)


class IllegalTransition(Conflict):
    """A state change the job state machine does not allow."""


class UnknownJobType(ValueError):
    """`submit_job` was given a type no handler is registered for."""
