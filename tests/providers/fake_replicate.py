"""A fake Replicate predictions API on 127.0.0.1, speaking real HTTP, for provider tests.

    with FakeReplicate(api_token="r8_test", video=mp4_bytes) as fake:
        fake.polls_to_finish = 3          # starting → processing ... → succeeded
        fake.mode = "fail"                # or "slow" (never finishes), "succeed"
        fake.fail_next(429, times=1, retry_after="1")
        ... ReplicateVideo("r8_test", fake.base_url) ...
        fake.requests, fake.cancels, fake.downloads

Like the real service it answers errors as problem details
(``{"title", "detail", "status"}``), gives each prediction ``urls.get``/``urls.cancel``,
reports ``metrics.predict_time`` once a prediction has finished, writes tqdm-style
progress into ``logs`` and serves the output file from another path (as
replicate.delivery does, without needing the token).
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.providers.loopback import LoopbackServer

MODEL = "wan-video/wan-2.2-t2v-fast"
VERSION = "920bea47c60299896482c74ddd32df873d0e392a88a08595b3d4f56eaf47b6ef"
FAILURE = "CUDA out of memory. Tried to allocate 2.50 GiB"


def problem(status: int, title: str, detail: str, **headers: str) -> JSONResponse:
    return JSONResponse(
        {"title": title, "detail": detail, "status": status},
        status_code=status,
        headers=headers or None,
    )


@dataclass
class SeenRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any = None


@dataclass
class FakePrediction:
    id: str
    model: str
    version: str
    input: dict[str, Any]
    status: str = "starting"
    polls: int = 0
    output: Any = None
    error: str | None = None
    logs: str = ""
    metrics: dict[str, float] = field(default_factory=dict)


class FakeReplicate(LoopbackServer):
    name = "fake Replicate"

    def __init__(self, api_token: str = "r8_test", video: bytes = b"") -> None:
        self.api_token = api_token
        self.video = video
        self.requests: list[SeenRequest] = []
        self.predictions: dict[str, FakePrediction] = {}
        self.cancels: list[str] = []
        self.downloads: list[SeenRequest] = []
        self._failures: list[tuple[int, dict[str, str]]] = []
        self._lock = threading.Lock()
        self.port = 0
        self.reset()
        self.app = Starlette(
            routes=[
                Route(
                    "/v1/models/{owner}/{name}/predictions", self._create_model, methods=["POST"]
                ),
                Route("/v1/predictions", self._create_version, methods=["POST"]),
                Route("/v1/predictions/{id}", self._get, methods=["GET"]),
                Route("/v1/predictions/{id}/cancel", self._cancel, methods=["POST"]),
                Route("/files/{id}/{name}", self._file, methods=["GET"]),
            ]
        )

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.origin}/v1"

    # --- control ---

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.predictions.clear()
            self.cancels.clear()
            self.downloads.clear()
            self._failures.clear()
            self.mode = "succeed"  # "fail", "slow" (never finishes)
            self.polls_to_finish = 3  # GETs until a prediction is done
            self.predict_time: float | None = 42.5
            self.output_as_list = False
            self.output_origin: str | None = None  # serve the file from another host name
            self.models = {MODEL}
            self.versions = {VERSION}

    def fail_next(self, status: int, *, times: int = 1, retry_after: str | None = None) -> None:
        """Answer `status` (429, 500...) to the next `times` API requests, before any checks."""
        headers = {"retry-after": retry_after} if retry_after is not None else {}
        with self._lock:
            self._failures.extend([(status, headers)] * times)

    def polls(self) -> int:
        return sum(1 for r in self.requests if r.method == "GET")

    # --- the API ---

    async def _seen(self, request: Request) -> tuple[SeenRequest, JSONResponse | None]:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        seen = SeenRequest(request.method, request.url.path, dict(request.headers), body)
        with self._lock:
            self.requests.append(seen)
            failure = self._failures.pop(0) if self._failures else None
        if failure is not None:
            status, headers = failure
            if status == 429:
                return seen, problem(
                    429,
                    "Too Many Requests",
                    "Request was throttled. Expected available in 1 second.",
                    **headers,
                )
            return seen, problem(
                status, "Internal Server Error", "Internal server error", **headers
            )
        auth = request.headers.get("authorization", "")
        if not auth:
            return seen, problem(401, "Unauthenticated", "You did not pass an authentication token")
        if auth != f"Bearer {self.api_token}":
            return seen, problem(
                401, "Unauthenticated", "You did not pass a valid authentication token"
            )
        return seen, None

    async def _create_model(self, request: Request):
        seen, error = await self._seen(request)
        if error is not None:
            return error
        model = f"{request.path_params['owner']}/{request.path_params['name']}"
        if model not in self.models:
            return problem(404, "Not found", "The requested resource could not be found.")
        return self._create(request, seen.body, model, VERSION)

    async def _create_version(self, request: Request):
        seen, error = await self._seen(request)
        if error is not None:
            return error
        version = seen.body.get("version") if isinstance(seen.body, dict) else None
        if version not in self.versions:
            return problem(
                422,
                "Invalid version or not permitted",
                "The specified version does not exist (or perhaps you don't have permission "
                "to use it?)",
            )
        return self._create(request, seen.body, MODEL, version)

    def _create(self, request: Request, body: Any, model: str, version: str):
        if not isinstance(body, dict) or not isinstance(body.get("input"), dict):
            return problem(422, "Input validation failed", "- input: input is required")
        inputs = body["input"]
        if not isinstance(inputs.get("prompt"), str) or not inputs["prompt"]:
            return problem(422, "Input validation failed", "- input: prompt is required")
        frames = inputs.get("num_frames")
        if model == MODEL and frames is not None and not 81 <= frames <= 100:
            return problem(
                422,
                "Input validation failed",
                "- input.num_frames: Must be greater than or equal to 81",
            )
        prediction = FakePrediction(
            id=uuid.uuid4().hex[:26], model=model, version=version, input=inputs
        )
        with self._lock:
            self.predictions[prediction.id] = prediction
        if request.headers.get("prefer", "").startswith("wait") and self.mode == "succeed":
            self._finish(prediction)  # a fast model under sync mode answers finished
        return JSONResponse(self._object(prediction), status_code=201)

    async def _get(self, request: Request):
        _, error = await self._seen(request)
        if error is not None:
            return error
        prediction = self.predictions.get(request.path_params["id"])
        if prediction is None:
            return problem(404, "Not found", "The requested resource could not be found.")
        if prediction.status not in ("succeeded", "failed", "canceled"):
            prediction.polls += 1
            if self.mode != "slow" and prediction.polls >= self.polls_to_finish:
                self._finish(prediction)
            else:
                prediction.status = "processing"
                pct = min(99, 100 * prediction.polls // max(1, self.polls_to_finish))
                prediction.logs += (
                    f"{pct:3d}%|####      | {prediction.polls}/{self.polls_to_finish}\n"
                )
        return JSONResponse(self._object(prediction))

    async def _cancel(self, request: Request):
        _, error = await self._seen(request)
        if error is not None:
            return error
        prediction = self.predictions.get(request.path_params["id"])
        if prediction is None:
            return problem(404, "Not found", "The requested resource could not be found.")
        with self._lock:
            self.cancels.append(prediction.id)
        if prediction.status in ("starting", "processing"):
            prediction.status = "canceled"
            prediction.metrics = {"predict_time": 1.5}
        return JSONResponse(self._object(prediction))

    async def _file(self, request: Request):
        seen = SeenRequest(request.method, request.url.path, dict(request.headers))
        with self._lock:
            self.downloads.append(seen)
        if request.path_params["id"] not in self.predictions:
            return Response(b"Not Found", status_code=404)
        return Response(self.video, media_type="video/mp4")

    def _finish(self, prediction: FakePrediction) -> None:
        if self.predict_time is not None:
            prediction.metrics = {
                "predict_time": self.predict_time,
                "total_time": self.predict_time + 3,
            }
        if self.mode == "fail":
            prediction.status = "failed"
            prediction.error = FAILURE
            prediction.logs += "Traceback (most recent call last):\n...\n" + FAILURE + "\n"
            return
        prediction.status = "succeeded"
        prediction.logs += "100%|##########| done\n"
        url = f"{self.output_origin or self.origin}/files/{prediction.id}/output.mp4"
        prediction.output = [url] if self.output_as_list else url

    def _object(self, prediction: FakePrediction) -> dict[str, Any]:
        done = prediction.status in ("succeeded", "failed", "canceled")
        return {
            "id": prediction.id,
            "model": prediction.model,
            "version": prediction.version,
            "input": prediction.input,
            "logs": prediction.logs,
            "output": prediction.output,
            "data_removed": False,
            "error": prediction.error,
            "status": prediction.status,
            "source": "api",
            "created_at": "2025-01-01T12:00:00.000000Z",
            "started_at": None if prediction.status == "starting" else "2025-01-01T12:00:01Z",
            "completed_at": "2025-01-01T12:01:00.000000Z" if done else None,
            "metrics": prediction.metrics,
            "urls": {
                "get": f"{self.base_url}/predictions/{prediction.id}",
                "cancel": f"{self.base_url}/predictions/{prediction.id}/cancel",
                "web": f"https://replicate.com/p/{prediction.id}",
            },
        }
