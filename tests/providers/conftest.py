"""Provider fixtures: a fake OpenAI server on 127.0.0.1 and transcribers that never wait."""

from __future__ import annotations

import wave
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from soundstage.providers.base import RetryPolicy, TokenBucket
from soundstage.providers.openai import OpenAITranscriber
from tests.providers.fake_openai import FakeOpenAI

API_KEY = "sk-test-0123456789abcdef"


@pytest.fixture(scope="session")
def fake_server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key=API_KEY) as server:
        yield server


@pytest.fixture
def fake_openai(fake_server: FakeOpenAI) -> Iterator[FakeOpenAI]:
    fake_server.reset()
    yield fake_server
    fake_server.reset()


@pytest.fixture
def sleeps() -> list[float]:
    """Every delay a retry policy asked for (nothing actually sleeps)."""
    return []


@pytest.fixture
def make_transcriber(
    fake_openai: FakeOpenAI, sleeps: list[float]
) -> Iterator[Callable[..., OpenAITranscriber]]:
    made: list[OpenAITranscriber] = []

    def make(api_key: str = API_KEY, **kwargs) -> OpenAITranscriber:
        kwargs.setdefault("retry", RetryPolicy(max_retries=3, sleep=sleeps.append, jitter=0))
        kwargs.setdefault("limiter", TokenBucket(1000, 1000))
        transcriber = OpenAITranscriber(api_key, fake_openai.base_url, **kwargs)
        made.append(transcriber)
        return transcriber

    yield make
    for transcriber in made:
        transcriber.close()


@pytest.fixture
def audio_file(tmp_path: Path) -> Path:
    """One second of silent 16 kHz mono WAV."""
    path = tmp_path / "vocals.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(b"\0\0" * 16000)
    return path
