"""Schemathesis against the app's OpenAPI schema: no server error (5xx) on any operation.

Every operation gets generated requests, valid and invalid, authenticated as an
administrator who owns one of every resource: once with random path ids and once
with that user's real ids, so the handlers' own code runs, not only the 404s.
Requests go through the test's own client (the app started once; the job runner
stopped, so generated jobs stay queued); examples are bounded and derandomized,
so a run is repeatable and takes a minute or two.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from soundstage.config import Settings
from tests.conftest import make_settings
from tests.providers.fake_stripe import FakeStripe
from tests.security.world import FACTORIES, World, build_world

pytestmark = pytest.mark.timeout(900)

EXAMPLES = {GenerationMode.POSITIVE: 6, GenerationMode.NEGATIVE: 3}
OWNED_EXAMPLES = 4  # more examples with the user's real ids in the path


@pytest.fixture
def fake_stripe() -> Iterator[FakeStripe]:
    with FakeStripe(secret_key="sk_test_fuzz", webhook_secret="whsec_fuzz") as fake:
        yield fake


@pytest.fixture
def settings(tmp_path: Path, fake_stripe: FakeStripe) -> Settings:
    """Payments configured against the fake Stripe, so checkout answers as in production."""
    return make_settings(
        tmp_path / "data", rate_limit_enabled=False, stripe_secret_key=fake_stripe.secret_key,
        stripe_api_base=fake_stripe.base_url, stripe_webhook_secret="whsec_fuzz",
    )  # fmt: skip


@pytest.fixture
def world(client, make_user) -> World:
    world = build_world(client, make_user)
    from soundstage.platform.accounts.models import User

    with client.app.state.db.session() as session:
        session.get(User, world.a.api.id).role = "admin"
        session.commit()
    client.app.state.runner.stop()  # generated jobs stay queued: nothing renders
    return world


def owned_path(world: World, operation) -> dict[str, str] | None:
    """The operation's path filled with A's real ids, when every parameter names a resource."""
    names = [p.name for p in operation.path_parameters]
    if not names or any(n not in FACTORIES for n in names):
        return None
    return {n: world.a.owned[FACTORIES[n][0]][0] for n in names}


def _text(value: Any) -> str | bytes:
    return value if isinstance(value, str | bytes) else json.dumps(value)


def _query_value(value: Any) -> Any:
    if isinstance(value, list):
        return [v if isinstance(v, str | int | float | bool) else _text(v) for v in value]
    return value if isinstance(value, str | int | float | bool) or value is None else _text(value)


def for_httpx(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Schemathesis' requests-style arguments as the test client (httpx) takes them.

    Generated multipart parts and query values can be any JSON value; a real client
    sends them as text, which is what reaches the server.
    """
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    for key in ("timeout", "allow_redirects", "verify", "cookies"):
        kwargs.pop(key, None)
    if isinstance(kwargs.get("data"), bytes | str) and "files" not in kwargs:
        kwargs["content"] = kwargs.pop("data")
    if "files" in kwargs:
        kwargs["files"] = [
            (name, (part[0], _text(part[1]), *part[2:])) for name, part in kwargs["files"]
        ]
    kwargs["params"] = {k: _query_value(v) for k, v in (kwargs.get("params") or {}).items()}
    return kwargs


def fuzz(client, case_strategy, headers: dict[str, str], max_examples: int) -> None:
    @given(case=case_strategy)
    @hypothesis_settings(
        max_examples=max_examples, deadline=None, database=None, derandomize=True,
        phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
    )  # fmt: skip
    def run(case) -> None:
        kwargs = for_httpx(case.as_transport_kwargs(base_url="http://testserver", headers=headers))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            request = client.build_request(**kwargs)
            request.read()  # multipart bodies too, so the check can show what was sent
            response = client.send(request)
        case.validate_response(response, checks=[not_a_server_error])

    run()


def test_no_server_error_on_any_operation(client, world) -> None:
    schema = schemathesis.openapi.from_dict(client.app.openapi())
    headers = world.a.jwt
    failures, operations = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        runs = [(operation.as_strategy(mode), n) for mode, n in EXAMPLES.items()]
        owned = owned_path(world, operation)
        if owned:
            runs.append((operation.as_strategy(path_parameters=owned), OWNED_EXAMPLES))
        for strategy, n in runs:
            try:
                fuzz(client, strategy, headers, n)
            except Unsatisfiable:
                continue  # nothing to vary (e.g. no parameter can be made invalid)
            except Exception as exc:  # collect every operation's failure, then report them all
                failures.append(f"{operation.label}: {str(exc)[:600]}")
                break
    assert operations > 50
    assert failures == [], "\n\n".join(failures)
