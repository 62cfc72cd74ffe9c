"""Rate limits: token buckets in this process's memory, answered with 429 and Retry-After.

Three limits, each a bucket per key that holds up to `burst` requests and
refills at a steady `per_minute`:

- per client IP, every `/api/` request (webhooks exempt: the payment provider
  signs them and must never be turned away);
- per client IP, login, register and refresh attempts (API and web forms), to
  slow down password guessing;
- per user, requests that create or re-queue jobs, counted by a job transition
  listener while a request is being served, so every door that submits jobs
  (API routes, web pages) is covered without knowing its path. A request that
  submits a batch of jobs counts once. Jobs the CLI or the runner moves are
  never limited.

/healthz and static files are outside /api/ and never limited. The client IP
is the ASGI client address; behind a reverse proxy, uvicorn's proxy-headers
handling (FORWARDED_ALLOW_IPS) must name the proxy so that address is the real
client's. The buckets live in one process: running several server processes
would need a shared store (e.g. Redis) instead.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Receive, Scope, Send

from soundstage.config import Settings
from soundstage.platform.errors import AppError
from soundstage.platform.jobs import JobState, add_transition_listener
from soundstage.platform.jobs.models import Job

EXEMPT_PREFIXES = ("/api/webhooks/",)
AUTH_ATTEMPTS = {
    "/api/auth/login",
    "/api/auth/register",
    "/api/auth/refresh",
    "/login",
    "/register",
}
PRUNE_EVERY = 1000  # takes between sweeps of full (idle) buckets


class RateLimited(AppError):
    """429 with the seconds to wait; answered with a `Retry-After` header."""

    status = 429

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after = max(1, math.ceil(retry_after_s))


class TokenBuckets:
    """One token bucket per key: `burst` tokens, refilled at `per_minute` tokens a minute."""

    def __init__(
        self, per_minute: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate_per_s = per_minute / 60.0
        self.burst = burst
        self.clock = clock
        self._buckets: dict[Any, tuple[float, float]] = {}
        self._lock = threading.Lock()
        self._takes = 0

    def take(self, key: Any) -> float:
        """Spend one token: 0.0 when allowed, else the seconds until one is available."""
        with self._lock:
            now = self.clock()
            tokens, updated = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - updated) * self.rate_per_s)
            wait = 0.0
            if tokens >= 1.0:
                tokens -= 1.0
            else:
                wait = (1.0 - tokens) / self.rate_per_s
            self._buckets[key] = (tokens, now)
            self._takes += 1
            if self._takes % PRUNE_EVERY == 0:
                self._prune(now)
            return wait

    def _prune(self, now: float) -> None:
        """Forget buckets that have refilled completely: they behave like new ones."""
        full = [
            key
            for key, (tokens, updated) in self._buckets.items()
            if tokens + (now - updated) * self.rate_per_s >= self.burst
        ]
        for key in full:
            del self._buckets[key]

    def __len__(self) -> int:
        return len(self._buckets)


@dataclass
class RateLimits:
    """The app's three limiters, built from its settings."""

    enabled: bool
    per_ip: TokenBuckets
    auth: TokenBuckets
    jobs: TokenBuckets

    @classmethod
    def from_settings(
        cls, settings: Settings, clock: Callable[[], float] = time.monotonic
    ) -> RateLimits:
        return cls(
            enabled=settings.rate_limit_enabled,
            per_ip=TokenBuckets(
                settings.rate_limit_ip_per_minute, settings.rate_limit_ip_burst, clock
            ),
            auth=TokenBuckets(
                settings.rate_limit_auth_per_minute, settings.rate_limit_auth_burst, clock
            ),
            jobs=TokenBuckets(
                settings.rate_limit_jobs_per_minute, settings.rate_limit_jobs_burst, clock
            ),
        )


@dataclass
class _RequestLimits:
    limits: RateLimits
    job_counted: bool = False


_current: ContextVar[_RequestLimits | None] = ContextVar("soundstage_rate_limits", default=None)


def _client_ip(scope: Scope) -> str:
    client = scope.get("client")
    return client[0] if client else "unknown"


def _too_many(message: str, wait_s: float) -> JSONResponse:
    error = RateLimited(message, wait_s)
    return _response(error)


def _response(error: RateLimited) -> JSONResponse:
    return JSONResponse(
        {"detail": error.message, "retry_after_s": error.retry_after},
        status_code=429,
        headers={"Retry-After": str(error.retry_after)},
    )


class RateLimitMiddleware:
    """Checks the per-IP limits before routing, and opens the per-request job allowance."""

    def __init__(self, app: ASGIApp, limits: RateLimits) -> None:
        self.app = app
        self.limits = limits

    def _refusal(self, scope: Scope) -> JSONResponse | None:
        path, ip = scope["path"], _client_ip(scope)
        if scope["method"] == "POST" and path in AUTH_ATTEMPTS:
            wait = self.limits.auth.take(ip)
            if wait:
                return _too_many(
                    f"too many sign-in attempts from your address; retry in {math.ceil(wait)} s",
                    wait,
                )
        if path.startswith("/api/") and not path.startswith(EXEMPT_PREFIXES):
            wait = self.limits.per_ip.take(ip)
            if wait:
                return _too_many(
                    f"too many requests from your address; retry in {math.ceil(wait)} s", wait
                )
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.limits.enabled:
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        token = _current.set(_RequestLimits(self.limits))
        try:
            await self.app(scope, receive, send)
        finally:
            _current.reset(token)


def _is_submission(from_state: str | None, to_state: str) -> bool:
    """A new job (any first state), or a manual retry of a failed one."""
    return from_state is None or (from_state == JobState.FAILED and to_state == JobState.QUEUED)


def limit_job_submissions(session: Session, job: Job, from_state: str | None, to_state: str):
    """Transition listener: the first job a request submits spends one of its user's tokens.

    Raising aborts the submission (the caller's transaction is never committed).
    Outside a request (CLI, job runner) nothing is limited.
    """
    state = _current.get()
    if state is None or state.job_counted or not _is_submission(from_state, to_state):
        return
    wait = state.limits.jobs.take(job.owner_id)
    if wait:
        raise RateLimited(
            f"too many jobs submitted; retry in {math.ceil(wait)} s "
            "(the limit is per user; settings rate_limit_jobs_*)",
            wait,
        )
    state.job_counted = True


async def _rate_limited_handler(request: Request, exc: RateLimited) -> JSONResponse:
    return _response(exc)


def install_rate_limits(app: FastAPI, settings: Settings) -> RateLimits:
    """Add the middleware, the job listener and the 429 answer to `app`."""
    limits = RateLimits.from_settings(settings)
    app.state.rate_limits = limits
    app.add_middleware(RateLimitMiddleware, limits=limits)
    app.add_exception_handler(RateLimited, _rate_limited_handler)  # type: ignore[arg-type]
    add_transition_listener(limit_job_submissions)
    return limits
