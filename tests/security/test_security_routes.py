"""The route sweep: every route of the OpenAPI schema, called by a second user with the first
user's ids, by that user's API token and anonymously, must refuse (404/403, or 401).

No route is skipped: a path parameter with no factory in `world.FACTORIES` fails the
sweep, and so does a route without authentication that is not in `PUBLIC` with the
reason it is public. Each refusal is collected, so one run lists every hole at once.
"""

from __future__ import annotations

import io
import itertools
import wave
from typing import Any
from urllib.parse import quote

import pytest

from tests.security.world import (
    FACTORIES,
    World,
    body_schema,
    build_world,
    example,
    id_fields,
)

pytestmark = pytest.mark.timeout(600)

# Routes anyone may call, and why.
PUBLIC: dict[tuple[str, str], str] = {
    ("GET", "/healthz"): "health probe for load balancers: which dependency answers, the version",
    ("GET", "/metrics"): "Prometheus scrape: aggregate job counts, durations and queue depths, "
    "no user data (keep it on the internal network: docs/scale-out.md)",
    ("POST", "/api/auth/register"): "creating an account needs no account (403 when closed)",
    ("POST", "/api/auth/login"): "authenticated by the email and password in the body",
    ("POST", "/api/auth/refresh"): "authenticated by the refresh token in the body",
    ("POST", "/api/auth/logout"): "authenticated by the refresh token in the body",
    ("GET", "/api/files/{token}"): "signed download link: the signed token is the credential",
    ("POST", "/api/webhooks/stripe"): "called by Stripe, authenticated by its signature",
    ("GET", "/api/share/{token}"): "a music video's share link: the random token is the credential",
    ("GET", "/api/share/{token}/video.mp4"): "the shared video's file (same token)",
    ("GET", "/api/share/{token}/poster.jpg"): "the shared video's poster (same token)",
    ("GET", "/api/share/{token}/lyrics.vtt"): "the shared video's captions (same token)",
    ("GET", "/api/public/tracks/{track_id}"): "a track its owner published; private ones 404",
    ("GET", "/api/public/tracks/{track_id}/files/{kind}"): "a published track's files",
}

# Path parameters that are not resources: a value that passes validation.
LITERALS = {"kind": "mp3", "token": "no-such-token"}

# Request bodies the schema alone cannot make valid (the sweep says when one is needed).
BODIES: dict[tuple[str, str], dict[str, Any]] = {}

REFUSED = {403, 404}


def _wav() -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * 8000)
    return buffer.getvalue()


WAV = _wav()


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def path_params(op: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in op.get("parameters", []) if p["in"] == "path"]


def literal(spec: dict[str, Any], param: dict[str, Any]) -> str:
    schema = param.get("schema", {})
    if "enum" in schema:
        return str(schema["enum"][0])
    return LITERALS.get(param["name"]) or str(example(spec, schema))


def request(world: World, spec, method: str, path: str, op, values: dict[str, str],
            headers: dict[str, str], body_ids: dict[str, str] | None = None):  # fmt: skip
    url = path.format(**{k: quote(v, safe="") for k, v in values.items()})
    query = {
        p["name"]: example(spec, p.get("schema", {}), p["name"])
        for p in op.get("parameters", [])
        if p["in"] == "query" and p.get("required")
    }
    media, schema = body_schema(op)
    kwargs: dict[str, Any] = {}
    if media == "application/json":
        body = BODIES.get((method, path)) or example(spec, schema or {})
        kwargs["json"] = {**body, **(body_ids or {})} if isinstance(body, dict) else body
    elif media == "multipart/form-data":
        kwargs["files"] = {"file": ("a.wav", WAV, "audio/wav")}
    return world.client.request(method, url, params=query, headers=headers, **kwargs)


def describe(method: str, path: str, values: dict[str, str], who: str, r) -> str:
    return f"{method} {path} {values} as {who}: {r.status_code} {r.text[:160]}"


@pytest.fixture
def world(client, make_user) -> World:
    return build_world(client, make_user)


@pytest.fixture
def spec(client) -> dict[str, Any]:
    return client.app.openapi()


def test_routes_without_authentication_are_listed_as_public(spec) -> None:
    ops = {(m, p) for m, p, _ in operations(spec)}
    open_ops = {(m, p) for m, p, op in operations(spec) if not op.get("security")}
    assert open_ops - PUBLIC.keys() == set(), "routes without authentication, not listed public"
    assert PUBLIC.keys() - ops == set(), "PUBLIC lists routes that no longer exist"


def test_every_path_parameter_has_a_factory(spec) -> None:
    missing = sorted(
        f"{method} {path}: {p['name']}"
        for method, path, op in operations(spec)
        for p in path_params(op)
        if p["name"] not in FACTORIES
        and p["name"] not in LITERALS
        and "enum" not in p.get("schema", {})
    )
    assert missing == [], "add these parameters to tests/security/world.py FACTORIES"
    body_missing = sorted(
        f"{method} {path}: {name}"
        for method, path, op in operations(spec)
        for name in id_fields(spec, body_schema(op)[1])
        if name not in FACTORIES
    )
    assert body_missing == [], "body fields naming resources need FACTORIES entries"


def a_values(world: World, spec, op) -> dict[str, str]:
    """Each path parameter filled with A's first resource of its kind (or its literal)."""
    values = {}
    for p in path_params(op):
        kinds = FACTORIES.get(p["name"])
        values[p["name"]] = world.a.owned[kinds[0]][0] if kinds else literal(spec, p)
    return values


def test_anonymous_calls_are_refused(world, spec) -> None:
    failures = []
    for method, path, op in operations(spec):
        if (method, path) in PUBLIC:
            continue
        values = a_values(world, spec, op)
        r = request(world, spec, method, path, op, values, headers={})
        if r.status_code != 401:
            failures.append(describe(method, path, values, "anonymous", r))
    assert failures == [], "\n".join(failures)


def combinations(world: World, spec, op) -> list[dict[str, str]]:
    """Every filling of the path that names at least one of A's resources (the others B's)."""
    choices = []
    for p in path_params(op):
        kinds = FACTORIES.get(p["name"])
        if not kinds:
            choices.append([(literal(spec, p), False)])
            continue
        a_ids = [i for kind in kinds for i in world.a.owned[kind]]
        b_id = world.b.owned[kinds[0]][0]
        choices.append([(i, True) for i in a_ids] + [(b_id, False)])
    names = [p["name"] for p in path_params(op)]
    return [
        dict(zip(names, [value for value, _ in combo], strict=True))
        for combo in itertools.product(*choices)
        if any(is_a for _, is_a in combo)
    ]


def test_second_user_is_refused_with_first_users_ids(world, spec) -> None:
    """B's access token and B's API token, with A's ids (alone or mixed with B's): 404/403."""
    failures, calls = [], 0
    for method, path, op in operations(spec):
        if (method, path) in PUBLIC or not path_params(op):
            continue
        for values in combinations(world, spec, op):
            for who, headers in (("B (JWT)", world.b.jwt), ("B (API token)", world.b.token)):
                r = request(world, spec, method, path, op, values, headers)
                calls += 1
                if r.status_code not in REFUSED:
                    failures.append(describe(method, path, values, who, r))
    assert calls > 100
    assert failures == [], "\n".join(failures)


def test_first_users_ids_in_request_bodies_are_refused(world, spec) -> None:
    """A body naming A's resources (e.g. a reference song), sent by B: 404/403, nothing made."""
    failures, checked = [], 0
    for method, path, op in operations(spec):
        fields = id_fields(spec, body_schema(op)[1])
        if (method, path) in PUBLIC or not fields:
            continue
        values = {p["name"]: world.b.owned[FACTORIES[p["name"]][0]][0]
                  if p["name"] in FACTORIES else literal(spec, p) for p in path_params(op)}  # fmt: skip
        for name in fields:
            for kind in FACTORIES[name]:
                body_ids = {name: world.a.owned[kind][0]}
                r = request(world, spec, method, path, op, values, world.b.jwt, body_ids)
                checked += 1
                if r.status_code not in REFUSED:
                    failures.append(describe(method, path, body_ids, "B", r))
    assert failures == [], "\n".join(failures)
    assert checked >= 1


def test_lists_and_summaries_never_show_another_users_things(world, spec) -> None:
    """Every GET without a path parameter, as B: no id or email of A's in the answer."""
    secrets_of_a = world.a.all_ids() | {world.a.api.email, world.share_token}
    leaks, checked = [], 0
    for method, path, op in operations(spec):
        if method != "GET" or path_params(op) or (method, path) in PUBLIC:
            continue
        if "text/event-stream" in str(op.get("responses", {})):
            continue
        r = request(world, spec, method, path, op, {}, world.b.jwt)
        checked += 1
        if r.status_code >= 500:
            leaks.append(describe(method, path, {}, "B", r))
        leaked = sorted(s for s in secrets_of_a if s in r.text)
        if leaked:
            leaks.append(f"GET {path} shows A's {leaked}")
    assert leaks == [], "\n".join(leaks)
    assert checked >= 10


def test_public_routes_do_not_open_private_things(world, spec) -> None:
    """Public routes answer only what their credential opens: A's private track is 404, an
    unknown share link is 404, a forged download link is refused."""
    failures = []
    for method, path, op in operations(spec):
        if (method, path) not in PUBLIC or not path_params(op):
            continue
        values = a_values(world, spec, op)
        for who, headers in (("anonymous", {}), ("B", world.b.jwt)):
            r = request(world, spec, method, path, op, values, headers)
            if r.status_code not in {400, 401, 403, 404}:
                failures.append(describe(method, path, values, who, r))
    assert failures == [], "\n".join(failures)
    # The share link itself is the credential: A's real link works for anyone, by design.
    shared = world.client.get(f"/api/share/{world.share_token}")
    assert shared.status_code == 200 and world.a.api.email not in shared.text


# -- the web door: pages and their /ui routes, by session cookie ---------------------------

# Web routes anyone may open, and why.
PUBLIC_PAGES: dict[tuple[str, str], str] = {
    ("GET", "/v/{token}"): "a music video's share page: the random token is the credential",
    ("GET", "/t/{track_id}"): "a published track's page; private ones are a 404 page",
}


def web_routes(app) -> list[tuple[str, str]]:
    """(method, path) of every page route with a path parameter (hidden from the schema)."""
    found = []
    for route in app.routes:
        contexts = route.effective_route_contexts() if hasattr(route, "effective_route_contexts") else [route]  # fmt: skip
        for ctx in contexts:
            path = getattr(ctx, "path", "")
            if getattr(ctx, "include_in_schema", True) or "{" not in path:
                continue
            found.extend((m, path) for m in sorted(getattr(ctx, "methods", set()) - {"HEAD"}))
    return found


def web_body(spec, method: str, path: str) -> dict[str, Any]:
    """/ui/api/... mirrors the API: send the API operation's example JSON body."""
    api_op = spec["paths"].get(path.removeprefix("/ui"), {}).get(method.lower())
    media, schema = body_schema(api_op or {})
    if media == "application/json":
        return {"json": BODIES.get((method, path.removeprefix("/ui"))) or example(spec, schema)}
    return {}


def test_web_routes_refuse_other_users_ids(world, spec) -> None:
    from fastapi.testclient import TestClient

    web = TestClient(world.client.app)  # its own cookie jar; the app is already started
    r = web.post("/login", data={"email": world.b.api.email, "password": world.b.api.password},
                 headers={"origin": "http://testserver"}, follow_redirects=False)  # fmt: skip
    assert r.status_code == 303, r.text
    routes = web_routes(world.client.app)
    assert len(routes) > 20
    failures = []
    for method, path in routes:
        names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
        missing = [n for n in names if n not in FACTORIES and n not in LITERALS]
        if missing:
            failures.append(f"{method} {path}: no factory for {missing}")
            continue
        op = {"parameters": [{"name": n, "in": "path", "schema": {}} for n in names]}
        for values in combinations(world, spec, op):
            url = path.format(**{k: quote(v, safe="") for k, v in values.items()})
            r = web.request(method, url, headers={"origin": "http://testserver"},
                            follow_redirects=False, **web_body(spec, method, path))  # fmt: skip
            if r.status_code not in REFUSED:
                failures.append(describe(method, path, values, "B (session)", r))
    assert failures == [], "\n".join(failures)
