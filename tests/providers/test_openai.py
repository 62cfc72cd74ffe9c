"""OpenAITranscriber against a fake OpenAI Audio API on 127.0.0.1."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from soundstage.media.analysis.result import LyricLine
from soundstage.providers.base import (
    USER_AGENT,
    CostRecord,
    ProviderError,
    RetryPolicy,
    TokenBucket,
)
from soundstage.providers.openai import MAX_FILE_BYTES, OpenAITranscriber, whisper_cost
from tests.providers.conftest import API_KEY


def test_transcribes_segments_into_lyric_lines(make_transcriber, fake_openai, audio_file):
    costs: list[CostRecord] = []
    transcriber = make_transcriber(on_cost=costs.append)

    lines = transcriber.transcribe(audio_file)

    assert lines == [
        LyricLine(0.0, 3.2, "Hello darkness, my old friend."),
        LyricLine(4.0, 7.68, "I've come to talk with you again."),
    ]  # stripped, the blank segment skipped
    # 12.34 s → 13 started seconds at $0.0001 a second
    assert costs == [CostRecord("openai", "transcription", 13.0, "second", 0.0013)]

    [seen] = fake_openai.requests
    assert seen.path == "/v1/audio/transcriptions"
    assert seen.headers["authorization"] == f"Bearer {API_KEY}"
    assert seen.headers["user-agent"] == USER_AGENT
    assert seen.fields == {
        "model": ["whisper-1"],
        "response_format": ["verbose_json"],
        "timestamp_granularities[]": ["segment"],
    }
    assert (seen.file_name, seen.file_type) == ("vocals.wav", "audio/wav")
    assert seen.file_size == audio_file.stat().st_size


def test_detailed_result_carries_language_duration_and_cost(make_transcriber, audio_file):
    result = make_transcriber().transcribe_detailed(audio_file)
    assert result.language == "english"
    assert result.duration_s == pytest.approx(12.34)
    assert result.text.startswith("Hello darkness")
    assert [c.cost_usd for c in result.costs] == [0.0013]


def test_language_and_prompt_are_sent(make_transcriber, fake_openai, audio_file):
    make_transcriber(language="en", prompt="Simon, Garfunkel").transcribe(audio_file)
    fields = fake_openai.requests[0].fields
    assert fields["language"] == ["en"]
    assert fields["prompt"] == ["Simon, Garfunkel"]


def test_wrong_key_names_openai_the_status_and_the_service_message(
    make_transcriber, fake_openai, audio_file
):
    with pytest.raises(ProviderError) as caught:
        make_transcriber(api_key="sk-wrong-key-123456").transcribe(audio_file)

    error = caught.value
    assert (error.provider, error.status, error.code) == ("openai", 401, "invalid_api_key")
    assert str(error).startswith("openai: HTTP 401: Incorrect API key provided: sk-*****3456.")
    assert len(fake_openai.requests) == 1  # a 401 is not retried


def test_429_is_retried_after_the_retry_after_delay(
    make_transcriber, fake_openai, audio_file, sleeps
):
    fake_openai.fail_next(429, times=1, retry_after="2")

    lines = make_transcriber().transcribe(audio_file)

    assert len(lines) == 2
    assert sleeps == [2.0]  # the service's Retry-After, not our backoff
    assert len(fake_openai.requests) == 2
    # the file was sent whole again on the retry
    assert fake_openai.requests[1].file_size == audio_file.stat().st_size


def test_5xx_uses_exponential_backoff_then_succeeds(
    make_transcriber, fake_openai, audio_file, sleeps
):
    fake_openai.fail_next(503, times=2)
    make_transcriber(
        retry=RetryPolicy(max_retries=3, base_delay_s=0.5, jitter=0, sleep=sleeps.append)
    ).transcribe(audio_file)
    assert sleeps == [0.5, 1.0]


def test_500_thrice_fails_after_max_retries(make_transcriber, fake_openai, audio_file, sleeps):
    fake_openai.fail_next(500, times=3)
    transcriber = make_transcriber(
        retry=RetryPolicy(max_retries=2, base_delay_s=1, jitter=0, sleep=sleeps.append)
    )

    with pytest.raises(ProviderError) as caught:
        transcriber.transcribe(audio_file)

    error = caught.value
    assert error.status == 500
    assert error.attempts == 3
    assert "The server had an error while processing your request" in str(error)
    assert str(error).endswith("(after 3 attempts)")
    assert len(fake_openai.requests) == 3
    assert sleeps == [1.0, 2.0]


def test_too_long_retry_after_gives_up_at_once(make_transcriber, fake_openai, audio_file, sleeps):
    fake_openai.fail_next(429, times=1, retry_after="3600")
    with pytest.raises(ProviderError, match="asked to wait 3600 s"):
        make_transcriber().transcribe(audio_file)
    assert sleeps == []


def test_file_over_25_mb_is_refused_before_any_request(make_transcriber, fake_openai, tmp_path):
    big = tmp_path / "long-mix.mp3"
    with big.open("wb") as fh:  # sparse: no disk used
        fh.truncate(MAX_FILE_BYTES + 1)

    with pytest.raises(ProviderError) as caught:
        make_transcriber().transcribe(big)

    message = str(caught.value)
    assert message.startswith("openai: long-mix.mp3 is 26.2 MB")
    assert "25 MB" in message and "trim" in message
    assert fake_openai.requests == []


def test_unsupported_format_is_refused_before_any_request(make_transcriber, fake_openai, tmp_path):
    path = tmp_path / "take.aiff"
    path.write_bytes(b"FORM")
    with pytest.raises(ProviderError, match="convert it first"):
        make_transcriber().transcribe(path)
    assert fake_openai.requests == []


def test_missing_file_is_a_file_not_found(make_transcriber, tmp_path):
    with pytest.raises(FileNotFoundError):
        make_transcriber().transcribe(tmp_path / "nope.wav")


def test_connection_refused_is_retried_then_reported(audio_file, sleeps):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    transcriber = OpenAITranscriber(
        API_KEY,
        f"http://127.0.0.1:{port}/v1",
        retry=RetryPolicy(max_retries=2, jitter=0, base_delay_s=0.25, sleep=sleeps.append),
        limiter=TokenBucket(100, 100),
    )
    with transcriber, pytest.raises(ProviderError) as caught:
        transcriber.transcribe(audio_file)
    assert "cannot connect" in str(caught.value)
    assert caught.value.attempts == 3
    assert sleeps == [0.25, 0.5]


def test_a_shared_client_is_used_and_not_closed(fake_openai, audio_file):
    with httpx.Client() as client:
        transcriber = OpenAITranscriber(
            API_KEY, fake_openai.base_url, client, limiter=TokenBucket(10, 10)
        )
        transcriber.transcribe(audio_file)
        transcriber.close()
        assert not client.is_closed


def test_every_attempt_takes_a_rate_limit_token(make_transcriber, fake_openai, audio_file):
    now = [0.0]
    waited: list[float] = []

    def sleep(seconds: float) -> None:
        waited.append(seconds)
        now[0] += seconds

    bucket = TokenBucket(rate_per_s=0.5, capacity=2, clock=lambda: now[0], sleep=sleep)
    transcriber = make_transcriber(limiter=bucket)
    fake_openai.fail_next(500, times=1)

    transcriber.transcribe(audio_file)  # two attempts: the bucket is empty
    assert waited == []
    transcriber.transcribe(audio_file)  # the third request waits for a token
    assert waited == [2.0]
    assert len(fake_openai.requests) == 3


def test_text_without_segments_becomes_one_line(make_transcriber, fake_openai, audio_file):
    fake_openai.body = {
        "task": "transcribe",
        "language": "english",
        "duration": 5.0,
        "text": " la la la ",
    }
    assert make_transcriber().transcribe(audio_file) == [LyricLine(0.0, 5.0, "la la la")]


@pytest.mark.parametrize(
    ("duration", "seconds", "usd"),
    [(0.0, 0, 0.0), (0.2, 1, 0.0001), (60.0, 60, 0.006), (60.01, 61, 0.0061), (600, 600, 0.06)],
)
def test_whisper_cost_rounds_up_per_second(duration, seconds, usd):
    record = whisper_cost(duration)
    assert (record.units, record.unit, record.cost_usd) == (seconds, "second", usd)


def test_from_settings_uses_the_configured_url_timeout_and_retries(tmp_path: Path):
    from tests.conftest import make_settings

    settings = make_settings(
        tmp_path,
        openai_api_key="sk-x",
        openai_base_url="http://127.0.0.1:9/v1/",
        provider_max_retries=5,
        provider_timeout_s=7,
    )
    with OpenAITranscriber.from_settings(settings) as transcriber:
        assert transcriber.base_url == "http://127.0.0.1:9/v1"
        assert transcriber.retry.max_retries == 5
        assert transcriber._client.timeout.read == 7


def test_a_refused_form_reports_the_service_message(make_transcriber, fake_openai, audio_file):
    with pytest.raises(ProviderError) as caught:
        make_transcriber(model="whisper-9").transcribe(audio_file)
    assert caught.value.status == 400
    assert "Invalid model ['whisper-9']" in str(caught.value)
    assert len(fake_openai.requests) == 1
