"""Shared provider plumbing: token bucket, Retry-After, error messages, the HTTP client."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import httpx
import pytest

from soundstage.providers.base import (
    USER_AGENT,
    ProviderError,
    RetryPolicy,
    TokenBucket,
    error_from_response,
    limiter_for,
    make_http_client,
    retry_after_s,
    send_with_retries,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_a_bucket_of_n_allows_n_at_once_and_the_next_must_wait():
    clock = FakeClock()
    bucket = TokenBucket(rate_per_s=2, capacity=3, clock=clock, sleep=clock.sleep)
    assert [bucket.try_acquire() for _ in range(3)] == [True, True, True]
    assert bucket.try_acquire() is False
    assert bucket.wait_time() == pytest.approx(0.5)

    bucket.acquire()  # sleeps exactly until one token has refilled
    assert clock.slept == [pytest.approx(0.5)]
    assert bucket.try_acquire() is False


def test_a_bucket_refills_at_its_rate_up_to_its_capacity():
    clock = FakeClock()
    bucket = TokenBucket(rate_per_s=1, capacity=2, clock=clock)
    assert bucket.try_acquire(2)
    clock.now = 1.0
    assert bucket.try_acquire() and not bucket.try_acquire()
    clock.now = 100.0  # a long idle spell refills only to capacity
    assert [bucket.try_acquire() for _ in range(3)] == [True, True, False]


def test_a_bucket_is_thread_safe():
    clock = FakeClock()  # frozen: no refill while the threads race
    bucket = TokenBucket(rate_per_s=1, capacity=50, clock=clock)
    granted: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def worker() -> None:
        start.wait()
        for _ in range(25):
            ok = bucket.try_acquire()
            with lock:
                granted.append(ok)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert granted.count(True) == 50
    assert granted.count(False) == 150


def test_bucket_arguments_are_checked():
    with pytest.raises(ValueError):
        TokenBucket(0, 1)
    with pytest.raises(ValueError):
        TokenBucket(1, 2).try_acquire(3)


def test_limiter_for_shares_one_bucket_per_provider():
    a = limiter_for("test-shared", rate_per_s=1, capacity=1)
    assert limiter_for("test-shared", rate_per_s=5, capacity=5) is a
    assert limiter_for("test-other", rate_per_s=1, capacity=1) is not a


def response(status: int, headers: dict[str, str] | None = None, **kwargs) -> httpx.Response:
    return httpx.Response(
        status, headers=headers, request=httpx.Request("POST", "http://x/"), **kwargs
    )


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"retry-after": "3"}, 3.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:10 GMT"}, 10.0),
        ({"retry-after": "Wed, 21 Oct 2015 07:27:00 GMT"}, 0.0),  # already past
        ({"retry-after": "soon"}, None),
    ],
)
def test_retry_after_reads_seconds_milliseconds_and_dates(headers, expected):
    now = lambda: datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC)  # noqa: E731
    assert retry_after_s(response(429, headers), now=now) == expected


@pytest.mark.parametrize(
    ("body", "message", "code"),
    [
        (
            {
                "error": {
                    "message": "Bad key",
                    "type": "invalid_request_error",
                    "code": "invalid_api_key",
                }
            },
            "Bad key",
            "invalid_api_key",
        ),
        (
            {"error": {"message": "Overloaded", "type": "server_error", "code": None}},
            "Overloaded",
            "server_error",
        ),
        ({"error": "quota exceeded"}, "quota exceeded", None),
        ({"detail": "Not found"}, "Not found", None),
    ],
)
def test_errors_carry_the_service_message(body, message, code):
    error = error_from_response("acme", response(400, json=body))
    assert (error.provider, error.status, error.service_message, error.code) == (
        "acme",
        400,
        message,
        code,
    )
    assert str(error) == f"acme: HTTP 400: {message}"


def test_a_non_json_error_body_is_quoted():
    error = error_from_response("acme", response(502, text="<html>Bad gateway</html>"))
    assert str(error) == "acme: HTTP 502: <html>Bad gateway</html>"


def test_retries_stop_on_a_client_error_and_use_backoff_with_jitter_bounds():
    answers = iter(
        [response(500), response(500), response(404, json={"error": {"message": "gone"}})]
    )
    slept: list[float] = []
    policy = RetryPolicy(max_retries=5, base_delay_s=1, jitter=0.25, sleep=slept.append)
    with pytest.raises(ProviderError, match="acme: HTTP 404: gone"):
        send_with_retries("acme", lambda: next(answers), policy=policy)
    assert len(slept) == 2
    assert 0.75 <= slept[0] <= 1.25 and 1.5 <= slept[1] <= 2.5


def test_backoff_is_capped():
    policy = RetryPolicy(base_delay_s=1, max_delay_s=5, jitter=0)
    assert [policy.backoff_s(n) for n in range(1, 6)] == [1, 2, 4, 5, 5]


def test_a_read_timeout_is_not_retried():
    calls = []

    def send():
        calls.append(1)
        raise httpx.ReadTimeout("slow")

    with pytest.raises(ProviderError, match="acme: timed out: slow"):
        send_with_retries("acme", send, policy=RetryPolicy(sleep=lambda s: None))
    assert len(calls) == 1  # the service may have started (and billed) the work


def test_the_client_has_our_user_agent_and_timeouts():
    with make_http_client(timeout_s=30, headers={"X-Extra": "1"}) as client:
        assert client.headers["user-agent"] == USER_AGENT
        assert client.headers["x-extra"] == "1"
        assert client.timeout.read == 30 and client.timeout.connect == 10
