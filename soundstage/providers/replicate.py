"""Replicate text-to-video, spoken to over plain HTTP (no SDK).

One clip is one prediction:

1. ``POST {base}/models/{owner}/{name}/predictions`` with ``{"input": {...}}`` (official
   models), or ``POST {base}/predictions`` with ``{"version": id, "input": {...}}`` when a
   version is pinned; ``Authorization: Bearer <token>``, optionally ``Prefer: wait=N``.
2. Poll ``GET {base}/predictions/{id}`` (the prediction's ``urls.get``) until its status
   is ``succeeded``, ``failed``, ``canceled`` or ``aborted``; on our timeout, or when the
   caller cancels through ``on_progress``, ``POST {base}/predictions/{id}/cancel``.
3. Download ``output`` (a URL, or a list of URLs) to a temporary file and rename it into
   place, so a half-downloaded clip never appears at ``out_path``.

The model's inputs are built from the ClipSpec by an `InputMapping` (presets per model in
`MODEL_INPUTS`, a generic prompt/seed/aspect_ratio mapping otherwise); constant inputs
come from ``SOUNDSTAGE_REPLICATE_VIDEO_INPUT``. Costs are estimates from the prediction's
``metrics.predict_time`` times a configured price per second.
"""

from __future__ import annotations

import base64
import binascii
import logging
import math
import os
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

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
from soundstage.providers.video import CAPABILITY, ProgressCallback

if TYPE_CHECKING:
    from soundstage.config import Settings
    from soundstage.media.visuals.spec import ClipSpec

log = logging.getLogger(__name__)

PROVIDER = "replicate"
DEFAULT_BASE_URL = "https://api.replicate.com/v1"
DEFAULT_MODEL = "wan-video/wan-2.2-t2v-fast"

TERMINAL_STATUSES = frozenset({"succeeded", "failed", "canceled", "aborted"})

# Replicate allows creating 600 predictions a minute (3000 a minute on other endpoints).
# A video prediction runs for minutes, so the default is far lower.
DOCUMENTED_CREATE_RATE_PER_MIN = 600
DEFAULT_RATE_PER_MIN = 60.0
DEFAULT_BURST = 5
POLL_RATE_PER_S = 10.0  # polls, cancels (of the documented 3000 a minute)
POLL_BURST = 10

# Estimates: a price per second of prediction time (an A100 80GB is $0.0014/s on
# Replicate), and how many of those a second of clip takes, for previews.
DEFAULT_USD_PER_SECOND = 0.0014
DEFAULT_GPU_SECONDS_PER_CLIP_SECOND = 8.0

_PERCENT = re.compile(r"(\d{1,3})%\|")  # tqdm progress bars in a prediction's logs


# --- input mapping --------------------------------------------------------------------------


@dataclass(frozen=True)
class InputMapping:
    """How a ClipSpec becomes a model's ``input``: which input names to fill, and the
    ranges the model accepts. A name set to None is not sent.

    Frames and fps: the clip's fps is clamped to `fps_range`; when the clip would need
    more than the model's frames, the fps is lowered so the video still covers the clip;
    the frame count is clamped to `frames_range` and rounded up to ``k * frames_step + 1``
    when `frames_step` > 1. So the answer covers at least the clip when the model allows;
    the workflow trims and retimes it.
    """

    prompt: str | None = "prompt"
    seed: str | None = "seed"
    aspect_ratio: str | None = "aspect_ratio"
    aspect_ratios: tuple[str, ...] = ("16:9", "9:16")  # choices; the nearest one is sent
    width: str | None = None
    height: str | None = None
    size_multiple: int = 1  # width/height rounded down to a multiple of this
    max_side: int | None = None  # scale down (keeping the aspect) to fit this
    num_frames: str | None = None
    frames_range: tuple[int, int] = (1, 100_000)
    frames_step: int = 1
    fps: str | None = None
    fps_range: tuple[int, int] = (1, 120)
    duration: str | None = None  # seconds, for models that take a duration
    durations: tuple[float, ...] = ()  # allowed durations; the shortest covering the clip
    fixed: dict[str, Any] = field(default_factory=dict)  # constant inputs

    def build(self, spec: ClipSpec, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        inputs: dict[str, Any] = {}
        if self.prompt:
            inputs[self.prompt] = spec.prompt.strip() or f"abstract visuals, {spec.mood} mood"
        if self.seed:
            inputs[self.seed] = int(spec.seed)
        if self.aspect_ratio and self.aspect_ratios:
            inputs[self.aspect_ratio] = nearest_aspect(spec.width, spec.height, self.aspect_ratios)
        if self.width or self.height:
            width, height = self._size(spec.width, spec.height)
            if self.width:
                inputs[self.width] = width
            if self.height:
                inputs[self.height] = height
        if self.num_frames or self.fps:
            frames, fps = self.frames_and_fps(spec.duration_s, spec.fps)
            if self.num_frames:
                inputs[self.num_frames] = frames
            if self.fps:
                inputs[self.fps] = fps
        if self.duration:
            inputs[self.duration] = self._duration(spec.duration_s)
        inputs.update(self.fixed)
        for key, value in (extra or {}).items():
            if value is None:
                inputs.pop(key, None)
            else:
                inputs[key] = value
        return inputs

    def frames_and_fps(self, duration_s: float, fps: int) -> tuple[int, int]:
        lo_fps, hi_fps = self.fps_range
        lo_frames, hi_frames = self.frames_range
        rate = min(max(fps, lo_fps), hi_fps) if self.fps else fps
        if self.fps and math.ceil(duration_s * rate - 1e-9) > hi_frames:
            rate = max(lo_fps, math.floor(hi_frames / duration_s))
        frames = max(lo_frames, min(hi_frames, math.ceil(duration_s * rate - 1e-9)))
        step = max(1, self.frames_step)
        if step > 1 and (frames - 1) % step:
            frames = (frames - 1) // step * step + 1 + step
            if frames > hi_frames:
                frames -= step
        return frames, rate

    def _size(self, width: int, height: int) -> tuple[int, int]:
        scale = 1.0
        if self.max_side and max(width, height) > self.max_side:
            scale = self.max_side / max(width, height)
        multiple = max(1, self.size_multiple)
        return (
            max(multiple, int(width * scale) // multiple * multiple),
            max(multiple, int(height * scale) // multiple * multiple),
        )

    def _duration(self, duration_s: float) -> float | int:
        if self.durations:
            covering = [d for d in sorted(self.durations) if d >= duration_s - 1e-6]
            chosen = covering[0] if covering else max(self.durations)
        else:
            chosen = math.ceil(duration_s)
        return int(chosen) if float(chosen).is_integer() else chosen


def nearest_aspect(width: int, height: int, choices: tuple[str, ...]) -> str:
    """The choice ("16:9", "9:16"...) whose ratio is closest to width:height."""
    target = math.log(width / height)

    def distance(choice: str) -> float:
        w, _, h = choice.partition(":")
        try:
            return abs(math.log(float(Fraction(w) / Fraction(h))) - target)
        except (ValueError, ZeroDivisionError):
            return math.inf

    return min(choices, key=distance)


# wan-video/wan-2.2-t2v-fast: prompt, num_frames (81-100), frames_per_second (5-24),
# aspect_ratio (16:9 = 832x480, 9:16), resolution (480p/720p), seed; output: one MP4 URL.
MODEL_INPUTS: dict[str, InputMapping] = {
    "wan-video/wan-2.2-t2v-fast": InputMapping(
        num_frames="num_frames",
        frames_range=(81, 100),
        fps="frames_per_second",
        fps_range=(5, 24),
        fixed={"resolution": "480p"},
    ),
}
GENERIC_INPUTS = InputMapping()  # prompt, seed, aspect_ratio: what most video models take


def mapping_for(model: str) -> InputMapping:
    return MODEL_INPUTS.get(model.split(":", 1)[0], GENERIC_INPUTS)


# --- predictions ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Prediction:
    """The fields of a Replicate prediction object this provider uses."""

    id: str
    status: str
    output: Any = None
    error: str | None = None
    logs: str = ""
    predict_time: float | None = None
    get_url: str | None = None
    cancel_url: str | None = None

    @property
    def done(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @classmethod
    def from_response(cls, response: httpx.Response) -> Prediction:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not body.get("id") or not body.get("status"):
            raise ProviderError(
                PROVIDER,
                f"expected a prediction object, got {response.text[:200]!r}",
                status=response.status_code,
            )
        urls = body.get("urls") if isinstance(body.get("urls"), dict) else {}
        metrics = body.get("metrics") if isinstance(body.get("metrics"), dict) else {}
        try:
            predict_time = float(metrics["predict_time"])
        except (KeyError, TypeError, ValueError):
            predict_time = None
        error = body.get("error")
        return cls(
            id=str(body["id"]),
            status=str(body["status"]),
            output=body.get("output"),
            error=str(error) if error not in (None, "") else None,
            logs=str(body.get("logs") or ""),
            predict_time=predict_time,
            get_url=urls.get("get"),
            cancel_url=urls.get("cancel"),
        )

    def log_fraction(self) -> float | None:
        """The last progress-bar percentage in the logs, as 0..1 (None when there is none)."""
        found = _PERCENT.findall(self.logs[-4000:])
        return min(100, int(found[-1])) / 100 if found else None


def output_url(output: Any) -> str | None:
    """The video URL in a prediction's output: a string, a list of them (the first video,
    else the first), or an object holding one."""
    if isinstance(output, str):
        return output or None
    if isinstance(output, list):
        urls = [item for item in output if isinstance(item, str) and item]
        videos = [u for u in urls if urlsplit(u).path.lower().endswith((".mp4", ".mov", ".webm"))]
        return (videos or urls or [None])[0]
    if isinstance(output, dict):
        for key in ("video", "output", "url"):
            if isinstance(output.get(key), str):
                return output[key]
        return output_url(list(output.values()))
    return None


# --- the provider ---------------------------------------------------------------------------


class _Progress:
    """Monotonic progress for the caller's callback (never goes backwards)."""

    def __init__(self, callback: ProgressCallback | None) -> None:
        self.callback = callback
        self.value = 0.0

    def __call__(self, fraction: float) -> None:
        fraction = min(1.0, max(self.value, fraction))
        self.value = fraction
        if self.callback is not None:
            self.callback(fraction)


class ReplicateVideo(ClientOwner):
    """Text → video clip through a Replicate model (default `DEFAULT_MODEL`).

    `client` may be a shared httpx.Client (not closed here). `limiter` paces prediction
    creation (shared ``replicate`` bucket by default), `poll_limiter` the polls and
    cancels. `clock` and `sleep` drive polling and the timeout, injectable for tests.
    `on_cost` receives a CostRecord for every finished prediction, failed ones included
    (Replicate bills the time they ran).
    """

    name = PROVIDER

    def __init__(
        self,
        api_token: str,
        base_url: str = DEFAULT_BASE_URL,
        client: httpx.Client | None = None,
        *,
        model: str = DEFAULT_MODEL,
        version: str | None = None,
        inputs: InputMapping | None = None,
        extra_input: dict[str, Any] | None = None,
        poll_interval_s: float = 2.0,
        timeout_s: float = 900.0,
        request_timeout_s: float = 60.0,
        prefer_wait_s: int | None = None,
        usd_per_second: float = DEFAULT_USD_PER_SECOND,
        gpu_seconds_per_clip_second: float = DEFAULT_GPU_SECONDS_PER_CLIP_SECOND,
        retry: RetryPolicy | None = None,
        limiter: TokenBucket | None = None,
        poll_limiter: TokenBucket | None = None,
        on_cost: CostSink | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not api_token:
            raise ValueError("ReplicateVideo needs an API token (SOUNDSTAGE_REPLICATE_API_TOKEN)")
        model, _, pinned = model.partition(":")  # "owner/name:version" is accepted too
        if model.count("/") != 1 or not all(model.split("/")):
            raise ValueError(f"a Replicate model is 'owner/name', not {model!r}")
        if prefer_wait_s is not None and not 1 <= prefer_wait_s <= 60:
            raise ValueError("prefer_wait_s must be between 1 and 60 seconds")
        self.api_token = api_token
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.version = version or pinned or None
        self.inputs = inputs or mapping_for(model)
        self.extra_input = dict(extra_input or {})
        self.poll_interval_s = poll_interval_s
        self.timeout_s = timeout_s
        self.request_timeout_s = request_timeout_s
        self.prefer_wait_s = prefer_wait_s
        self.usd_per_second = usd_per_second
        self.gpu_seconds_per_clip_second = gpu_seconds_per_clip_second
        self.retry = retry or RetryPolicy()
        self.limiter = limiter or limiter_for(
            PROVIDER, rate_per_s=DEFAULT_RATE_PER_MIN / 60, capacity=DEFAULT_BURST
        )
        self.poll_limiter = poll_limiter or limiter_for(
            f"{PROVIDER}:poll", rate_per_s=POLL_RATE_PER_S, capacity=POLL_BURST
        )
        self.on_cost = on_cost
        self._clock = clock
        self._sleep = sleep
        self._owns_client = client is None
        self._client = client or make_http_client(timeout_s=request_timeout_s)

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> ReplicateVideo:
        if not settings.replicate_api_token:
            raise ProviderError(PROVIDER, "SOUNDSTAGE_REPLICATE_API_TOKEN is not set")
        kwargs.setdefault("model", settings.replicate_video_model)
        kwargs.setdefault("version", settings.replicate_video_version)
        kwargs.setdefault("extra_input", settings.replicate_video_input)
        kwargs.setdefault("poll_interval_s", settings.replicate_poll_interval_s)
        kwargs.setdefault("timeout_s", settings.replicate_timeout_s)
        kwargs.setdefault("usd_per_second", settings.replicate_usd_per_second)
        kwargs.setdefault("request_timeout_s", settings.provider_timeout_s)
        kwargs.setdefault("retry", RetryPolicy(max_retries=settings.provider_max_retries))
        kwargs.setdefault(
            "limiter",
            limiter_for(
                PROVIDER,
                rate_per_s=settings.replicate_rate_per_min / 60,
                capacity=max(1, min(DEFAULT_BURST, int(settings.replicate_rate_per_min))),
            ),
        )
        return cls(settings.replicate_api_token, settings.replicate_base_url, **kwargs)

    # --- the capability ---

    def build_input(self, spec: ClipSpec) -> dict[str, Any]:
        return self.inputs.build(spec, self.extra_input)

    def estimate_cost(self, spec: ClipSpec) -> list[CostRecord]:
        return [self._cost(spec.duration_s * self.gpu_seconds_per_clip_second)]

    def generate_clip(
        self,
        spec: ClipSpec,
        out_path: Path,
        *,
        on_progress: ProgressCallback | None = None,
    ) -> list[CostRecord]:
        out_path = Path(out_path)
        progress = _Progress(on_progress)
        prediction = self.create(self.build_input(spec))
        try:
            progress(0.02)
            prediction = self._wait(prediction, progress)
        except BaseException:
            # our timeout, the caller canceling through on_progress, or a failed poll
            if not prediction.done:
                canceled = self.cancel(prediction)
                if canceled is not None:
                    self._emit(self._costs_of(canceled))  # it ran (and is billed) until now
            raise
        costs = self._costs_of(prediction)
        if not costs and prediction.status == "succeeded":
            costs = self.estimate_cost(spec)  # no metrics in the answer
        self._emit(costs)
        self._raise_unless_succeeded(prediction)
        url = output_url(prediction.output)
        if url is None:
            raise ProviderError(
                PROVIDER, f"prediction {prediction.id} succeeded without a video output"
            )
        progress(0.85)
        self._download(url, out_path, progress)
        progress(1.0)
        return costs

    # --- HTTP steps (public for workflows and tests) ---

    def create(self, inputs: dict[str, Any]) -> Prediction:
        """Create a prediction (rate limited, retried on 429/5xx)."""
        if self.version:
            url = f"{self.base_url}/predictions"
            body: dict[str, Any] = {"version": self.version, "input": inputs}
        else:
            url = f"{self.base_url}/models/{self.model}/predictions"
            body = {"input": inputs}
        headers = self._auth()
        timeout = self.request_timeout_s
        if self.prefer_wait_s:
            headers["Prefer"] = f"wait={self.prefer_wait_s}"
            timeout += self.prefer_wait_s  # the service holds the request open that long
        request_timeout = httpx.Timeout(timeout, connect=min(10.0, timeout))

        def send() -> httpx.Response:
            return self._client.post(url, headers=headers, json=body, timeout=request_timeout)

        return Prediction.from_response(self._send(send, self.limiter))

    def get(self, prediction: Prediction) -> Prediction:
        url = self._api_url(prediction.get_url, f"/predictions/{prediction.id}")
        headers = self._auth()
        return Prediction.from_response(
            self._send(lambda: self._client.get(url, headers=headers), self.poll_limiter)
        )

    def cancel(self, prediction: Prediction) -> Prediction | None:
        """Ask Replicate to stop a prediction and return its state; best effort (a failure
        is logged and gives None)."""
        url = self._api_url(prediction.cancel_url, f"/predictions/{prediction.id}/cancel")
        headers = self._auth()
        try:
            response = self._send(
                lambda: self._client.post(url, headers=headers), self.poll_limiter
            )
            return Prediction.from_response(response)
        except ProviderError as exc:
            log.warning("could not cancel Replicate prediction %s: %s", prediction.id, exc)
            return None

    # --- internals ---

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_token}", "Accept": "application/json"}

    def _send(self, send: Callable[[], httpx.Response], limiter: TokenBucket) -> httpx.Response:
        try:
            return send_with_retries(PROVIDER, send, policy=self.retry, limiter=limiter)
        except ProviderError as exc:
            if exc.status == 401:
                exc.message += " (check SOUNDSTAGE_REPLICATE_API_TOKEN)"
            raise

    def _same_origin(self, url: str) -> bool:
        a, b = urlsplit(url), urlsplit(self.base_url)
        return (a.scheme, a.netloc) == (b.scheme, b.netloc)

    def _api_url(self, given: str | None, path: str) -> str:
        """The URL the service gave (only on the API's own origin: it gets the token),
        else the documented one."""
        if given and self._same_origin(given):
            return given
        return f"{self.base_url}{path}"

    def _wait(self, prediction: Prediction, progress: _Progress) -> Prediction:
        deadline = self._clock() + self.timeout_s
        self._report(prediction, progress)
        while not prediction.done:
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise ProviderError(
                    PROVIDER,
                    f"prediction {prediction.id} did not finish within {self.timeout_s:g} s "
                    f"(still {prediction.status}); canceled it",
                    code="timeout",
                )
            self._sleep(min(self.poll_interval_s, remaining))
            prediction = self.get(prediction)
            self._report(prediction, progress)
        return prediction

    @staticmethod
    def _report(prediction: Prediction, progress: _Progress) -> None:
        if prediction.status == "starting":
            progress(0.05)
        elif prediction.status == "processing":
            fraction = prediction.log_fraction()
            progress(0.1 + 0.7 * fraction if fraction is not None else 0.1)
        elif prediction.status == "succeeded":
            progress(0.8)

    def _cost(self, seconds: float) -> CostRecord:
        seconds = round(max(0.0, seconds), 3)
        return CostRecord(
            provider=PROVIDER,
            operation=CAPABILITY,
            units=seconds,
            unit="gpu_second",
            cost_usd=round(seconds * self.usd_per_second, 6),
        )

    def _emit(self, costs: list[CostRecord]) -> None:
        if self.on_cost is not None:
            for record in costs:
                self.on_cost(record)

    def _costs_of(self, prediction: Prediction) -> list[CostRecord]:
        if prediction.predict_time is None:
            return []
        return [self._cost(prediction.predict_time)]

    @staticmethod
    def _raise_unless_succeeded(prediction: Prediction) -> None:
        if prediction.status == "succeeded":
            return
        if prediction.status == "failed":
            detail = prediction.error or "no error message"
            raise ProviderError(
                PROVIDER,
                f"prediction {prediction.id} failed: {detail}",
                service_message=prediction.error,
                code="failed",
            )
        reason = "before it started" if prediction.status == "aborted" else ""
        raise ProviderError(
            PROVIDER,
            f"prediction {prediction.id} was {prediction.status} {reason}".rstrip(),
            code=prediction.status,
        )

    def _download(self, url: str, out_path: Path, progress: _Progress) -> None:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = out_path.with_name(f".{out_path.name}.{uuid.uuid4().hex[:8]}.part")
        try:
            if url.startswith("data:"):
                tmp.write_bytes(_decode_data_uri(url))
            else:
                self._stream_to(url, tmp, progress)
            if tmp.stat().st_size == 0:
                raise ProviderError(PROVIDER, f"the output video at {url} is empty")
            os.replace(tmp, out_path)
        finally:
            tmp.unlink(missing_ok=True)

    def _stream_to(self, url: str, tmp: Path, progress: _Progress) -> None:
        # The token goes only to the API's own origin (output files live on a CDN).
        headers = {"Authorization": f"Bearer {self.api_token}"} if self._same_origin(url) else {}

        def send() -> httpx.Response:
            request = self._client.build_request("GET", url, headers=headers)
            response = self._client.send(request, stream=True, follow_redirects=True)
            if response.status_code >= 400:
                response.read()  # so the error's body can be parsed
                response.close()
            return response

        response = send_with_retries(PROVIDER, send, policy=self.retry)
        try:
            total = int(response.headers.get("content-length") or 0)
            done = 0
            with tmp.open("wb") as out:
                for chunk in response.iter_bytes(1 << 16):
                    out.write(chunk)
                    done += len(chunk)
                    if total:
                        progress(0.85 + 0.15 * min(1.0, done / total))
        except httpx.HTTPError as exc:
            raise ProviderError(
                PROVIDER, f"downloading the output video failed: {exc or type(exc).__name__}"
            ) from exc
        finally:
            response.close()


def _decode_data_uri(uri: str) -> bytes:
    header, _, payload = uri.partition(",")
    try:
        if header.endswith(";base64"):
            return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProviderError(PROVIDER, "the output is not a valid base64 data URI") from exc
    raise ProviderError(PROVIDER, "the output data URI is not base64")


registry.register(
    CAPABILITY,
    PROVIDER,
    ReplicateVideo.from_settings,
    configured=lambda settings: bool(settings.replicate_api_token),
    requires=("replicate_api_token",),
)
