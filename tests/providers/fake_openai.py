"""A fake OpenAI Audio API on 127.0.0.1, speaking real HTTP, for provider tests.

    with FakeOpenAI(api_key="sk-test") as fake:
        fake.fail_next(429, times=1, retry_after="2")
        ... OpenAITranscriber("sk-test", fake.base_url) ...
        fake.requests  # what arrived: headers, form fields, file name and size

It checks the bearer key (401 with OpenAI's error JSON), validates the multipart
form the way the real endpoint does (400 invalid_request_error) and answers a
realistic verbose_json body. The multipart body is parsed with the standard
library's email parser, independently of the client library under test.

POST /v1/moderations answers like omni-moderation (one result per input, 13
categories); `fake.flag_when("fragment", "hate", ...)` decides what gets flagged.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.providers.loopback import LoopbackServer

MODERATION_MODELS = (
    "omni-moderation-latest",
    "omni-moderation-2024-09-26",
    "text-moderation-latest",
)
MODERATION_CATEGORIES = (
    "harassment", "harassment/threatening", "hate", "hate/threatening", "illicit",
    "illicit/violent", "self-harm", "self-harm/intent", "self-harm/instructions", "sexual",
    "sexual/minors", "violence", "violence/graphic",
)  # fmt: skip
SUPPORTED = ("flac", "m4a", "mp3", "mp4", "mpeg", "mpga", "oga", "ogg", "wav", "webm")

DEFAULT_BODY: dict[str, Any] = {
    "task": "transcribe",
    "language": "english",
    "duration": 12.34,
    "text": "Hello darkness, my old friend. I've come to talk with you again.",
    "segments": [
        {
            "id": 0,
            "seek": 0,
            "start": 0.0,
            "end": 3.2,
            "text": " Hello darkness, my old friend.",
            "tokens": [50364, 2425, 11262, 11, 452, 1331, 1277, 13, 50524],
            "temperature": 0.0,
            "avg_logprob": -0.21,
            "compression_ratio": 1.1,
            "no_speech_prob": 0.01,
        },
        {
            "id": 1,
            "seek": 0,
            "start": 3.2,
            "end": 4.0,
            "text": "   ",
            "tokens": [],
            "temperature": 0.0,
            "avg_logprob": -1.0,
            "compression_ratio": 1.0,
            "no_speech_prob": 0.9,
        },
        {
            "id": 2,
            "seek": 0,
            "start": 4.0,
            "end": 7.68,
            "text": " I've come to talk with you again.",
            "tokens": [50564, 286, 600, 808, 281, 751, 365, 291, 797, 13, 50748],
            "temperature": 0.0,
            "avg_logprob": -0.18,
            "compression_ratio": 1.1,
            "no_speech_prob": 0.02,
        },
    ],
}


def openai_error(status: int, message: str, type_: str, code: str | None = None, **headers: str):
    return JSONResponse(
        {"error": {"message": message, "type": type_, "param": None, "code": code}},
        status_code=status,
        headers=headers or None,
    )


@dataclass
class SeenRequest:
    path: str
    headers: dict[str, str]
    fields: dict[str, list[str]] = field(default_factory=dict)
    file_name: str | None = None
    file_type: str | None = None
    file_size: int = 0
    json: Any = None  # the JSON body (moderations)


def parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, list[str]], dict | None]:
    """Form fields, and the `file` part (name, type, bytes), from a multipart body."""
    message: Message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    if not message.is_multipart():
        raise ValueError("not a multipart body")
    fields: dict[str, list[str]] = {}
    upload = None
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename is not None:
            upload = {
                "name": name,
                "filename": filename,
                "type": part.get_content_type(),
                "data": payload,
            }
        else:
            fields.setdefault(str(name), []).append(payload.decode())
    return fields, upload


class FakeOpenAI(LoopbackServer):
    name = "fake OpenAI"

    def __init__(self, api_key: str = "sk-test-key") -> None:
        self.api_key = api_key
        self.body: dict[str, Any] = DEFAULT_BODY
        self.requests: list[SeenRequest] = []
        self._failures: list[tuple[int, dict[str, str]]] = []
        self._lock = threading.Lock()
        self.port = 0
        self.moderation_triggers: dict[str, tuple[str, ...]] = {}
        app = Starlette(
            routes=[
                Route("/v1/audio/transcriptions", self._transcriptions, methods=["POST"]),
                Route("/v1/moderations", self._moderations, methods=["POST"]),
            ]
        )
        self.app = app

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # --- control ---

    def fail_next(self, status: int, *, times: int = 1, retry_after: str | None = None) -> None:
        """Answer `status` (429, 500...) to the next `times` requests, before any checks."""
        headers = {"retry-after": retry_after} if retry_after is not None else {}
        with self._lock:
            self._failures.extend([(status, headers)] * times)

    def flag_when(self, fragment: str, *categories: str) -> None:
        """Moderation flags `categories` (OpenAI's names) for inputs containing `fragment`."""
        with self._lock:
            self.moderation_triggers[fragment.lower()] = categories

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self._failures.clear()
            self.body = DEFAULT_BODY
            self.moderation_triggers.clear()

    # --- the endpoints ---

    def _failure_response(self, failure: tuple[int, dict[str, str]]):
        status, headers = failure
        if status == 429:
            return openai_error(
                429,
                "Rate limit reached for whisper-1 in organization org-test on requests per min (RPM): Limit 50, Used 50, Requested 1.",
                "requests",
                "rate_limit_exceeded",
                **headers,
            )
        return openai_error(
            status,
            "The server had an error while processing your request. Sorry about that!",
            "server_error",
            **headers,
        )

    def _auth_error(self, request: Request):
        auth = request.headers.get("authorization", "")
        if auth == f"Bearer {self.api_key}":
            return None
        shown = auth.removeprefix("Bearer ")
        masked = f"{shown[:3]}*****{shown[-4:]}" if len(shown) > 7 else shown
        return openai_error(
            401,
            f"Incorrect API key provided: {masked}. You can find your API key at https://platform.openai.com/account/api-keys.",
            "invalid_request_error",
            "invalid_api_key",
        )

    async def _moderations(self, request: Request):
        """POST /v1/moderations: {model, input: str | [str]} → one result per input, with the
        13 categories of omni-moderation; inputs matching `flag_when` fragments are flagged."""
        raw = await request.body()
        seen = SeenRequest(path=request.url.path, headers=dict(request.headers))
        with self._lock:
            self.requests.append(seen)
            failure = self._failures.pop(0) if self._failures else None
            triggers = dict(self.moderation_triggers)
        if failure is not None:
            return self._failure_response(failure)
        denied = self._auth_error(request)
        if denied is not None:
            return denied
        try:
            body = json.loads(raw)
        except ValueError:
            return openai_error(
                400, "We could not parse the JSON body of your request.", "invalid_request_error"
            )
        seen.json = body
        model = body.get("model", "omni-moderation-latest") if isinstance(body, dict) else None
        if model not in MODERATION_MODELS:
            return openai_error(
                400, f"Invalid model {model}", "invalid_request_error", "model_not_found"
            )
        inputs = body.get("input")
        if isinstance(inputs, str):
            inputs = [inputs]
        if (
            not isinstance(inputs, list)
            or not inputs
            or not all(isinstance(i, str) for i in inputs)
        ):
            return openai_error(
                400,
                "'input' must be a string or a non-empty array of strings",
                "invalid_request_error",
            )
        results = []
        for text in inputs:
            flagged = {
                c for fragment, cats in triggers.items() if fragment in text.lower() for c in cats
            }
            results.append(
                {
                    "flagged": bool(flagged),
                    "categories": {c: c in flagged for c in MODERATION_CATEGORIES},
                    "category_scores": {
                        c: 0.97 if c in flagged else 0.0004 for c in MODERATION_CATEGORIES
                    },
                    "category_applied_input_types": {c: ["text"] for c in MODERATION_CATEGORIES},
                }
            )
        return JSONResponse(
            {
                "id": f"modr-{len(self.requests)}",
                "model": "omni-moderation-2024-09-26",
                "results": results,
            }
        )

    async def _transcriptions(self, request: Request):
        raw = await request.body()
        seen = SeenRequest(path=request.url.path, headers=dict(request.headers))
        with self._lock:
            self.requests.append(seen)
            failure = self._failures.pop(0) if self._failures else None
        if failure is not None:
            status, headers = failure
            if status == 429:
                return openai_error(
                    429,
                    "Rate limit reached for whisper-1 in organization org-test on requests per min (RPM): Limit 50, Used 50, Requested 1.",
                    "requests",
                    "rate_limit_exceeded",
                    **headers,
                )
            return openai_error(
                status,
                "The server had an error while processing your request. Sorry about that!",
                "server_error",
                **headers,
            )

        auth = request.headers.get("authorization", "")
        if auth != f"Bearer {self.api_key}":
            shown = auth.removeprefix("Bearer ")
            masked = f"{shown[:3]}*****{shown[-4:]}" if len(shown) > 7 else shown
            return openai_error(
                401,
                f"Incorrect API key provided: {masked}. You can find your API key at https://platform.openai.com/account/api-keys.",
                "invalid_request_error",
                "invalid_api_key",
            )
        try:
            fields, upload = parse_multipart(request.headers.get("content-type", ""), raw)
        except ValueError:
            return openai_error(400, "Could not parse multipart form", "invalid_request_error")
        seen.fields = fields
        if upload is None or upload["name"] != "file":
            return openai_error(
                400,
                "1 validation error for Request\nbody -> file\n  field required (type=value_error.missing)",
                "invalid_request_error",
            )
        seen.file_name, seen.file_type, seen.file_size = (
            upload["filename"],
            upload["type"],
            len(upload["data"]),
        )
        if fields.get("model") != ["whisper-1"]:
            return openai_error(
                400,
                f"Invalid model {fields.get('model')}",
                "invalid_request_error",
                "model_not_found",
            )
        extension = upload["filename"].rsplit(".", 1)[-1].lower()
        if extension not in SUPPORTED:
            return openai_error(
                400,
                f"Invalid file format. Supported formats: {list(SUPPORTED)}",
                "invalid_request_error",
            )
        if fields.get("response_format") != ["verbose_json"]:
            return openai_error(400, "this fake only speaks verbose_json", "invalid_request_error")
        if fields.get("timestamp_granularities[]") != ["segment"]:
            return openai_error(
                400, "expected timestamp_granularities[]=segment", "invalid_request_error"
            )
        return JSONResponse(self.body)
