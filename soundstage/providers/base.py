"""What every cloud provider shares: an HTTP client, retries, rate limits, errors and costs.

Providers are thin: they build one request, hand a `send` callable to
`send_with_retries`, and turn the JSON answer into Soundstage dataclasses.
Everything here is synchronous (providers run inside job threads) and has no
global state except the per-provider token buckets from `limiter_for`.
"""

from __future__ import annotations

import email.utils
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from typing import Any, Self

import httpx

RETRYABLE_STATUS = frozenset({408, 409, 429}) | frozenset(range(500, 600))
# Errors raised before the request reached the service, so a retry cannot double-bill.
RETRYABLE_TRANSPORT_ERRORS: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)


def _version() -> str:
    try:
        return metadata.version("soundstage")
    except metadata.PackageNotFoundError:  # running from a source tree
        return "0"


USER_AGENT = f"Soundstage/{_version()} (self-hosted; +providers)"


# --- errors -------------------------------------------------------------------------------


class ProviderError(Exception):
    """A provider call failed; the message names the provider, the HTTP status and what
    the service said, e.g. ``openai: HTTP 401: Incorrect API key provided``."""

    def __init__(
        self,
        provider: str,
        message: str,
        *,
        status: int | None = None,
        service_message: str | None = None,
        code: str | None = None,
        attempts: int = 1,
    ) -> None:
        self.provider = provider
        self.status = status
        self.service_message = service_message
        self.code = code
        self.attempts = attempts
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        parts = [self.provider]
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        parts.append(self.message)
        text = ": ".join(parts)
        if self.attempts > 1:
            text += f" (after {self.attempts} attempts)"
        return text


class ProviderNotConfigured(ProviderError):
    """No provider can serve a capability; the message says which SOUNDSTAGE_* variable to set."""

    def __init__(self, capability: str, message: str, *, options: list[str] | None = None) -> None:
        self.capability = capability
        self.options = options or []
        super().__init__(capability, message)


class AllProvidersFailed(ProviderError):
    """Every configured provider failed; `errors` holds (name, error) in the order tried."""

    def __init__(self, capability: str, errors: list[tuple[str, Exception]]) -> None:
        self.capability = capability
        self.errors = errors
        last = errors[-1][1]
        summary = "; ".join(f"[{name}] {error}" for name, error in errors)
        super().__init__(
            capability,
            f"all {len(errors)} configured provider(s) failed: {summary}",
            status=getattr(last, "status", None),
            service_message=getattr(last, "service_message", None),
            code=getattr(last, "code", None),
        )

    def __str__(self) -> str:  # the summary already carries each status
        return f"{self.provider}: {self.message}"

    @property
    def last(self) -> Exception:
        return self.errors[-1][1]


def service_error(response: httpx.Response) -> tuple[str, str | None]:
    """The service's own error message (and code) from its JSON body, else a text snippet.

    Understands OpenAI's ``{"error": {"message", "type", "code"}}`` and the common
    ``{"error": "..."}``, ``{"detail": ...}`` and ``{"message": ...}`` shapes.
    """
    try:
        body: Any = response.json()
    except ValueError:
        text = response.text.strip()
        return (text[:300] or response.reason_phrase or "no message"), None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            code = error.get("code") or error.get("type")
            message = error.get("message") or code or str(error)
            return str(message), (str(code) if code else None)
        if isinstance(error, str):
            return error, None
        for key in ("detail", "message"):
            if body.get(key):
                return str(body[key]), None
    return str(body)[:300], None


def error_from_response(
    provider: str, response: httpx.Response, attempts: int = 1
) -> ProviderError:
    message, code = service_error(response)
    return ProviderError(
        provider,
        message,
        status=response.status_code,
        service_message=message,
        code=code,
        attempts=attempts,
    )


# --- costs --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CostRecord:
    """What one provider call cost (or is estimated to cost), in the provider's billing unit."""

    provider: str
    operation: str
    units: float
    unit: str  # "second", "image", "1k_tokens"...
    cost_usd: float
    estimated: bool = True  # computed from published prices, not read from an invoice


CostSink = Callable[[CostRecord], None]


# --- HTTP client --------------------------------------------------------------------------


def make_http_client(
    *,
    timeout_s: float = 60.0,
    base_url: str = "",
    headers: dict[str, str] | None = None,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """An httpx client with Soundstage's User-Agent and a timeout (connect capped at 10 s)."""
    return httpx.Client(
        base_url=base_url,
        headers={"User-Agent": USER_AGENT, **(headers or {})},
        timeout=httpx.Timeout(timeout_s, connect=min(10.0, timeout_s)),
        transport=transport,
        follow_redirects=False,
    )


class ClientOwner:
    """`close()` and `with` support for a provider that may have built its own httpx client
    (`_owns_client`) or been handed one (then the caller closes it)."""

    _client: httpx.Client
    _owns_client: bool

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- retries ------------------------------------------------------------------------------


def retry_after_s(
    response: httpx.Response, now: Callable[[], datetime] | None = None
) -> float | None:
    """Seconds the service asked us to wait: ``retry-after-ms``, or ``Retry-After`` as
    seconds or an HTTP date. None when absent or unreadable."""
    ms = response.headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now() if now else datetime.now(UTC)
    return max(0.0, (when - current).total_seconds())


@dataclass
class RetryPolicy:
    """Exponential backoff with jitter on 408/409/429/5xx and connection failures.

    A ``Retry-After`` from the service wins over the computed backoff (capped at
    `max_retry_after_s`; a longer wait gives up at once). `sleep` and `rng` are
    injectable so tests never wait.
    """

    max_retries: int = 3
    base_delay_s: float = 0.5
    max_delay_s: float = 20.0
    max_retry_after_s: float = 120.0
    jitter: float = 0.25  # +/- fraction of the computed backoff
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)

    def backoff_s(self, retry: int) -> float:
        """Delay before retry number `retry` (1-based) when the service gave no hint."""
        delay = min(self.max_delay_s, self.base_delay_s * 2 ** (retry - 1))
        if self.jitter:
            delay *= 1 + self.rng.uniform(-self.jitter, self.jitter)
        return max(0.0, delay)


def send_with_retries(
    provider: str,
    send: Callable[[], httpx.Response],
    *,
    policy: RetryPolicy | None = None,
    limiter: TokenBucket | None = None,
) -> httpx.Response:
    """Call `send` (one HTTP attempt) until it answers 2xx/3xx, retrying what is retryable.

    `send` is called afresh for every attempt, so it can reopen files. Each attempt
    first takes a token from `limiter`. Raises ProviderError with the service's
    message once the answer is not retryable or the retries are used up.
    """
    policy = policy or RetryPolicy()
    attempt = 0
    while True:
        attempt += 1
        if limiter is not None:
            limiter.acquire()
        try:
            response = send()
        except RETRYABLE_TRANSPORT_ERRORS as exc:
            if attempt > policy.max_retries:
                raise ProviderError(
                    provider, f"cannot connect: {exc or type(exc).__name__}", attempts=attempt
                ) from exc
            policy.sleep(policy.backoff_s(attempt))
            continue
        except httpx.TimeoutException as exc:
            raise ProviderError(provider, f"timed out: {exc or type(exc).__name__}") from exc
        except httpx.HTTPError as exc:
            raise ProviderError(provider, f"request failed: {exc or type(exc).__name__}") from exc

        if response.status_code < 400:
            return response
        if response.status_code not in RETRYABLE_STATUS or attempt > policy.max_retries:
            raise error_from_response(provider, response, attempts=attempt)
        hint = retry_after_s(response)
        if hint is not None and hint > policy.max_retry_after_s:
            error = error_from_response(provider, response, attempts=attempt)
            error.message += f" (service asked to wait {hint:.0f} s; not retrying)"
            raise error
        policy.sleep(hint if hint is not None else policy.backoff_s(attempt))


# --- rate limits --------------------------------------------------------------------------


class TokenBucket:
    """A thread-safe token bucket: `capacity` requests at once, refilled at `rate_per_s`.

    `clock` and `sleep` are injectable (monotonic seconds / a sleeper) for tests.
    """

    def __init__(
        self,
        rate_per_s: float,
        capacity: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate_per_s <= 0 or capacity < 1:
            raise ValueError("a token bucket needs rate_per_s > 0 and capacity >= 1")
        self.rate_per_s = float(rate_per_s)
        self.capacity = float(capacity)
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(capacity)
        self._updated = clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(self.capacity, self._tokens + elapsed * self.rate_per_s)
        self._updated = now

    def _take_or_wait(self, tokens: float) -> float:
        """Take the tokens and return 0, or return how long until they will be there."""
        if tokens > self.capacity:
            raise ValueError(f"cannot take {tokens} tokens from a bucket of {self.capacity}")
        with self._lock:
            self._refill()
            if self._tokens >= tokens:
                self._tokens -= tokens
                return 0.0
            return (tokens - self._tokens) / self.rate_per_s

    def try_acquire(self, tokens: float = 1) -> bool:
        return self._take_or_wait(tokens) == 0.0

    def wait_time(self, tokens: float = 1) -> float:
        """Seconds until `tokens` could be taken (0 if now); takes nothing."""
        with self._lock:
            self._refill()
            return max(0.0, (tokens - self._tokens) / self.rate_per_s)

    def acquire(self, tokens: float = 1) -> None:
        """Take `tokens`, sleeping (outside the lock) as long as needed."""
        while True:
            wait = self._take_or_wait(tokens)
            if wait == 0.0:
                return
            self._sleep(wait)


_limiters: dict[str, TokenBucket] = {}
_limiters_lock = threading.Lock()


def limiter_for(provider: str, *, rate_per_s: float, capacity: float) -> TokenBucket:
    """The process-wide bucket for `provider` (created on first use, then shared)."""
    with _limiters_lock:
        bucket = _limiters.get(provider)
        if bucket is None:
            bucket = _limiters[provider] = TokenBucket(rate_per_s, capacity)
        return bucket
