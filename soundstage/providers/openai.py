"""OpenAI providers, spoken to over plain HTTP (no SDK).

Transcription uses the Audio API:
POST {base_url}/audio/transcriptions (multipart: file, model, response_format,
timestamp_granularities[]) → verbose_json with timed segments.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import httpx

from soundstage.config import Settings
from soundstage.media.analysis.result import LyricLine
from soundstage.providers import registry
from soundstage.providers.base import (
    ClientOwner,
    CostRecord,
    CostSink,
    ProviderError,
    RetryPolicy,
    TokenBucket,
    limiter_for,
    make_http_client,
    send_with_retries,
)
from soundstage.providers.transcription import CAPABILITY, Transcription

PROVIDER = "openai"
DEFAULT_BASE_URL = "https://api.openai.com/v1"

# The API refuses request bodies over 25 MiB ("Maximum content size limit (26214400)
# exceeded"); leave room for the multipart framing and the other form fields.
MAX_REQUEST_BYTES = 25 * 1024 * 1024
MAX_FILE_BYTES = MAX_REQUEST_BYTES - 16 * 1024
WHISPER_USD_PER_MINUTE = 0.006
# Audio endpoints allow ~50 requests a minute on the first usage tier.
DEFAULT_RATE_PER_S = 50 / 60
DEFAULT_BURST = 5

AUDIO_TYPES = {
    ".flac": "audio/flac",
    ".m4a": "audio/mp4",
    ".mp3": "audio/mpeg",
    ".mp4": "audio/mp4",
    ".mpeg": "audio/mpeg",
    ".mpga": "audio/mpeg",
    ".oga": "audio/ogg",
    ".ogg": "audio/ogg",
    ".wav": "audio/wav",
    ".webm": "audio/webm",
}


def whisper_cost(duration_s: float) -> CostRecord:
    """$0.006 a minute, billed per started second."""
    seconds = max(0, math.ceil(duration_s - 1e-9))
    return CostRecord(
        provider=PROVIDER,
        operation="transcription",
        units=float(seconds),
        unit="second",
        cost_usd=round(seconds * WHISPER_USD_PER_MINUTE / 60, 6),
    )


class OpenAITranscriber(ClientOwner):
    """Speech → timed lines through OpenAI's Whisper API.

    `client` may be a shared httpx.Client (it is not closed here); otherwise one is
    made with Soundstage's User-Agent and `timeout_s`. `on_cost` receives a
    CostRecord per successful call.
    """

    name = PROVIDER

    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        client: httpx.Client | None = None,
        *,
        model: str = "whisper-1",
        language: str | None = None,
        prompt: str | None = None,
        timeout_s: float = 60.0,
        retry: RetryPolicy | None = None,
        limiter: TokenBucket | None = None,
        on_cost: CostSink | None = None,
    ) -> None:
        if not api_key:
            raise ValueError("OpenAITranscriber needs an API key (SOUNDSTAGE_OPENAI_API_KEY)")
        self.api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.language = language
        self.prompt = prompt
        self.retry = retry or RetryPolicy()
        self.limiter = limiter or limiter_for(
            PROVIDER, rate_per_s=DEFAULT_RATE_PER_S, capacity=DEFAULT_BURST
        )
        self.on_cost = on_cost
        self._owns_client = client is None
        self._client = client or make_http_client(timeout_s=timeout_s)

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> OpenAITranscriber:
        if not settings.openai_api_key:
            raise ProviderError(PROVIDER, "SOUNDSTAGE_OPENAI_API_KEY is not set")
        kwargs.setdefault("timeout_s", settings.provider_timeout_s)
        kwargs.setdefault("retry", RetryPolicy(max_retries=settings.provider_max_retries))
        return cls(settings.openai_api_key, settings.openai_base_url, **kwargs)

    # --- the capability ---

    def transcribe(self, audio_path: Path) -> list[LyricLine]:
        return self.transcribe_detailed(audio_path).lines

    def transcribe_detailed(self, audio_path: Path) -> Transcription:
        audio_path = Path(audio_path)
        content_type = self._check_file(audio_path)
        data: dict[str, Any] = {
            "model": self.model,
            "response_format": "verbose_json",
            "timestamp_granularities[]": "segment",
        }
        if self.language:
            data["language"] = self.language
        if self.prompt:
            data["prompt"] = self.prompt
        url = f"{self.base_url}/audio/transcriptions"
        headers = {"Authorization": f"Bearer {self.api_key}", "Accept": "application/json"}

        def send() -> httpx.Response:
            with audio_path.open("rb") as fh:  # reopened for every attempt
                return self._client.post(
                    url,
                    headers=headers,
                    data=data,
                    files={"file": (audio_path.name, fh, content_type)},
                )

        response = send_with_retries(PROVIDER, send, policy=self.retry, limiter=self.limiter)
        result = parse_verbose_json(response)
        for record in result.costs:
            if self.on_cost:
                self.on_cost(record)
        return result

    @staticmethod
    def _check_file(path: Path) -> str:
        size = path.stat().st_size  # FileNotFoundError for a missing file
        content_type = AUDIO_TYPES.get(path.suffix.lower())
        if content_type is None:
            raise ProviderError(
                PROVIDER,
                f"{path.name}: the transcription API accepts "
                f"{', '.join(s.lstrip('.') for s in sorted(AUDIO_TYPES))} files; "
                "convert it first (e.g. to MP3 or FLAC)",
            )
        if size > MAX_FILE_BYTES:
            raise ProviderError(
                PROVIDER,
                f"{path.name} is {size / 1e6:.1f} MB, over the transcription API's 25 MB "
                "limit; trim it, split it, or encode it smaller (e.g. mono MP3 at 64 kbit/s) "
                "before sending",
            )
        return content_type


def parse_verbose_json(response: httpx.Response) -> Transcription:
    """verbose_json → Transcription: stripped, non-empty segments and the cost estimate."""
    try:
        body = response.json()
    except ValueError as exc:
        raise ProviderError(
            PROVIDER,
            f"expected verbose_json, got {response.headers.get('content-type', 'no content type')}",
            status=response.status_code,
        ) from exc
    if not isinstance(body, dict):
        raise ProviderError(
            PROVIDER, "unexpected transcription answer", status=response.status_code
        )
    lines: list[LyricLine] = []
    for segment in body.get("segments") or []:
        text = str(segment.get("text") or "").strip()
        if not text:
            continue
        try:
            start, end = float(segment["start"]), float(segment["end"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ProviderError(PROVIDER, f"segment without start/end: {segment!r}"[:300]) from exc
        lines.append(LyricLine(start=start, end=max(start, end), text=text))
    duration = body.get("duration")
    try:
        duration_s = float(duration) if duration is not None else None
    except (TypeError, ValueError):
        duration_s = None
    if duration_s is None and lines:
        duration_s = max(line.end for line in lines)
    text = str(body.get("text") or "").strip()
    if not lines and text and duration_s:  # no segments asked for or returned
        lines.append(LyricLine(start=0.0, end=duration_s, text=text))
    costs = [whisper_cost(duration_s)] if duration_s is not None else []
    return Transcription(
        lines=lines,
        duration_s=duration_s,
        language=body.get("language"),
        text=text,
        costs=costs,
    )


registry.register(
    CAPABILITY,
    PROVIDER,
    OpenAITranscriber.from_settings,
    configured=lambda settings: bool(settings.openai_api_key),
    requires=("openai_api_key",),
)
