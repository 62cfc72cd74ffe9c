"""A fake Stripe API on 127.0.0.1, speaking real HTTP, for the billing tests.

    with FakeStripe(secret_key="sk_test_fake", webhook_secret="whsec_fake") as fake:
        settings = make_settings(..., stripe_secret_key=fake.secret_key,
                                 stripe_api_base=fake.base_url)
        ... POST /api/credits/checkout ...            # the app calls POST /v1/checkout/sessions
        payload, headers = fake.complete(session_id)  # paid: a signed checkout.session.completed
        client.post("/api/webhooks/stripe", content=payload, headers=headers)

It speaks what the `stripe` library sends and reads: form-encoded bodies with
bracketed keys (`line_items[0][price_data][unit_amount]=3696`), `Authorization:
Bearer <secret key>`, JSON objects shaped like Stripe's (`cs_test_...`,
`"object": "checkout.session"`, `payment_status`), errors as
`{"error": {"type", "message", "param"}}`, and replays of an `Idempotency-Key`.
Webhooks are signed as Stripe signs them, independently of the library:
`Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, f"{t}.{payload}")>`.
It also serves the hosted payment page at each session's `url`.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass
from itertools import pairwise
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from tests.providers.loopback import LoopbackServer

_KEY_PART = re.compile(r"\[([^\]]*)\]")


def stripe_error(status: int, message: str, *, type: str = "invalid_request_error", **more: Any):
    return JSONResponse({"error": {"type": type, "message": message, **more}}, status_code=status)


def parse_form(body: str) -> dict[str, Any]:
    """Stripe's bracketed form encoding back into nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        head = key.split("[", 1)[0]
        path = [head, *_KEY_PART.findall(key[len(head) :])]
        node: Any = root
        for part, following in pairwise(path):
            container: Any = [] if following.isdigit() else {}
            if isinstance(node, list):
                index = int(part)
                while len(node) <= index:
                    node.append(None)
                if node[index] is None:
                    node[index] = container
                node = node[index]
            else:
                node = node.setdefault(part, container)
        last = path[-1]
        if isinstance(node, list):
            index = int(last)
            while len(node) <= index:
                node.append(None)
            node[index] = value
        else:
            node[last] = value
    return root


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The Stripe-Signature header value for `payload` at `timestamp` (now by default)."""
    t = int(time.time()) if timestamp is None else timestamp
    signed = f"{t}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


@dataclass
class SeenRequest:
    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, Any]


class FakeStripe(LoopbackServer):
    name = "fake Stripe"

    def __init__(self, secret_key: str = "sk_test_fake", webhook_secret: str = "whsec_fake"):
        self.secret_key = secret_key
        self.webhook_secret = webhook_secret
        self.requests: list[SeenRequest] = []
        self.sessions: dict[str, dict[str, Any]] = {}
        self._replies: dict[str, tuple[int, Any]] = {}
        self._lock = threading.Lock()
        self.app = Starlette(
            routes=[
                Route("/v1/checkout/sessions", self._create_session, methods=["POST"]),
                Route("/v1/checkout/sessions/{id}", self._get_session, methods=["GET"]),
                Route("/c/pay/{id}", self._payment_page, methods=["GET"]),
            ]
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- the API ----------------------------------------------------------------

    def _authorized(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {self.secret_key}"

    def _unauthorized(self) -> JSONResponse:
        return stripe_error(401, "Invalid API Key provided: the fake knows one key only")

    async def _create_session(self, request: Request) -> Response:
        body = (await request.body()).decode()
        form = parse_form(body)
        with self._lock:
            self.requests.append(SeenRequest("POST", request.url.path, dict(request.headers), form))
        if not self._authorized(request):
            return self._unauthorized()
        replay_key = request.headers.get("idempotency-key")
        with self._lock:
            if replay_key and replay_key in self._replies:
                status, data = self._replies[replay_key]
                return JSONResponse(data, status_code=status)
        problem = self._check_session_params(form)
        if problem:
            return stripe_error(400, problem[1], param=problem[0])
        session = self._new_session(form)
        with self._lock:
            self.sessions[session["id"]] = session
            if replay_key:
                self._replies[replay_key] = (200, session)
        return JSONResponse(session)

    @staticmethod
    def _check_session_params(form: dict[str, Any]) -> tuple[str, str] | None:
        if form.get("mode") not in {"payment", "subscription", "setup"}:
            return "mode", "Invalid mode: must be one of payment, setup, or subscription"
        items = form.get("line_items") or []
        if not items:
            return "line_items", "line_items is required in payment mode"
        for i, item in enumerate(items):
            price = (item or {}).get("price_data") or {}
            amount = str(price.get("unit_amount", ""))
            if not amount.isdigit():
                return f"line_items[{i}][price_data][unit_amount]", "Invalid integer"
            if int(amount) < 50:
                return (
                    f"line_items[{i}][price_data][unit_amount]",
                    "The Checkout Session's total amount must be at least $0.50 usd",
                )
        if not form.get("success_url"):
            return "success_url", "success_url is required"
        return None

    def _new_session(self, form: dict[str, Any]) -> dict[str, Any]:
        session_id = f"cs_test_{secrets.token_hex(16)}"
        total = sum(
            int(item["price_data"]["unit_amount"]) * int(item.get("quantity", 1))
            for item in form["line_items"]
        )
        currency = form["line_items"][0]["price_data"].get("currency", "usd")
        return {
            "id": session_id,
            "object": "checkout.session",
            "mode": form["mode"],
            "status": "open",
            "payment_status": "unpaid",
            "amount_total": total,
            "amount_subtotal": total,
            "currency": currency,
            "client_reference_id": form.get("client_reference_id"),
            "customer_email": form.get("customer_email"),
            "metadata": form.get("metadata") or {},
            "success_url": form.get("success_url"),
            "cancel_url": form.get("cancel_url"),
            "payment_intent": None,
            "url": f"{self.base_url}/c/pay/{session_id}",
            "livemode": False,
            "created": int(time.time()),
        }

    async def _get_session(self, request: Request) -> Response:
        with self._lock:
            self.requests.append(SeenRequest("GET", request.url.path, dict(request.headers), {}))
        if not self._authorized(request):
            return self._unauthorized()
        session = self.sessions.get(request.path_params["id"])
        if session is None:
            message = f"No such checkout.session: '{request.path_params['id']}'"
            return stripe_error(404, message, param="session", code="resource_missing")
        return JSONResponse(session)

    async def _payment_page(self, request: Request) -> Response:
        session = self.sessions.get(request.path_params["id"])
        if session is None:
            return HTMLResponse("<!doctype html><title>Not found</title>", status_code=404)
        amount = f"{session['amount_total'] / 100:.2f} {session['currency'].upper()}"
        page = (
            "<!doctype html><html lang=en><head><meta charset=utf-8>"
            '<link rel="icon" href="data:,"><title>Fake Stripe Checkout</title></head>'
            f"<body><h1>Fake Stripe Checkout</h1><p id=amount>Pay {html.escape(amount)}</p>"
            f"<p id=session>{html.escape(session['id'])}</p></body></html>"
        )
        return HTMLResponse(page)

    # -- helpers for tests ---------------------------------------------------------

    def mark_paid(self, session_id: str) -> dict[str, Any]:
        """The customer paid: the session completes (as Stripe's page would make it)."""
        with self._lock:
            session = self.sessions[session_id]
            session.update(
                status="complete",
                payment_status="paid",
                payment_intent=f"pi_{secrets.token_hex(12)}",
            )
            return dict(session)

    def event(
        self,
        event_type: str,
        obj: dict[str, Any],
        *,
        event_id: str | None = None,
        timestamp: int | None = None,
        secret: str | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        """A webhook delivery: the JSON body and its headers, signed like Stripe signs."""
        created = int(time.time()) if timestamp is None else timestamp
        payload = json.dumps(
            {
                "id": event_id or f"evt_{secrets.token_hex(12)}",
                "object": "event",
                "api_version": "2025-01-27.acacia",
                "created": created,
                "type": event_type,
                "livemode": False,
                "pending_webhooks": 1,
                "data": {"object": obj},
            }
        ).encode()
        signature = sign(payload, secret or self.webhook_secret, created)
        return payload, {"Stripe-Signature": signature, "Content-Type": "application/json"}

    def complete(self, session_id: str, **kwargs: Any) -> tuple[bytes, dict[str, str]]:
        """Mark the session paid and build its signed checkout.session.completed event."""
        return self.event("checkout.session.completed", self.mark_paid(session_id), **kwargs)
