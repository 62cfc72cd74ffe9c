"""Moderators: the embedded rules (synchronous) and OpenAI's moderation endpoint.

A moderator takes named texts and returns `Finding`s in Soundstage's categories:

    RuleModerator(policy).moderate({"prompt": "..."})
    OpenAIModerator(api_key, base_url, policy=policy).moderate({"prompt": "..."})

The rules run at every door (a refusal is a 422 and nothing is stored). With
SOUNDSTAGE_MODERATION_PROVIDER=openai, jobs that passed the rules also wait in
`moderating` until the runner has asked OpenAI (`moderate_held`), then go on to
`queued`, or to `moderation_failed` with the category's reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import httpx

from soundstage.config import Settings
from soundstage.platform.policy.rules import Finding, Policy
from soundstage.platform.policy.service import ContentRefused, load_policy, texts_of
from soundstage.providers.base import (
    ClientOwner,
    ProviderError,
    RetryPolicy,
    TokenBucket,
    limiter_for,
    make_http_client,
    send_with_retries,
)

OPENAI = "openai"
RULES = "rules"

# OpenAI's categories → ours. Left out on purpose: "sexual" (adult content, common in
# lyrics), "harassment", "violence/graphic", "self-harm" (depictions, common in songs)
# and "illicit" (advice on non-violent wrongdoing). Flags in categories that the
# policy disables are ignored too.
OPENAI_CATEGORIES: dict[str, str] = {
    "sexual/minors": "minors_sexual",
    "hate": "hate",
    "hate/threatening": "hate",
    "harassment/threatening": "violence",
    "violence": "violence",
    "illicit/violent": "violence",
    "self-harm/intent": "self_harm",
    "self-harm/instructions": "self_harm",
}


class Moderator(Protocol):
    name: str

    def moderate(self, fields: Mapping[str, str]) -> list[Finding]:
        """Findings for the texts (empty: all clear); ProviderError when it cannot tell."""
        ...


class RuleModerator:
    """The embedded content rules as a moderator: offline, instant, free."""

    name = RULES

    def __init__(self, policy: Policy) -> None:
        self.policy = policy

    def moderate(self, fields: Mapping[str, str]) -> list[Finding]:
        return self.policy.screen(fields)


class OpenAIModerator(ClientOwner):
    """POST {base_url}/moderations with every text at once; flags mapped to our categories."""

    name = OPENAI

    def __init__(
        self,
        api_key: str,
        base_url: str = "https://api.openai.com/v1",
        client: httpx.Client | None = None,
        *,
        policy: Policy,
        model: str = "omni-moderation-latest",
        timeout_s: float = 60.0,
        retry: RetryPolicy | None = None,
        limiter: TokenBucket | None = None,
    ) -> None:
        if not api_key:
            raise ValueError("OpenAIModerator needs an API key (SOUNDSTAGE_OPENAI_API_KEY)")
        self.api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.policy = policy
        self.model = model
        self.retry = retry or RetryPolicy()
        self.limiter = limiter or limiter_for(f"{OPENAI}:moderation", rate_per_s=5, capacity=10)
        self._owns_client = client is None
        self._client = client or make_http_client(timeout_s=timeout_s)

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> OpenAIModerator:
        if not settings.openai_api_key:
            raise ProviderError(OPENAI, "SOUNDSTAGE_OPENAI_API_KEY is not set")
        kwargs.setdefault("policy", load_policy(settings))
        kwargs.setdefault("model", settings.openai_moderation_model)
        kwargs.setdefault("timeout_s", settings.provider_timeout_s)
        kwargs.setdefault("retry", RetryPolicy(max_retries=settings.provider_max_retries))
        return cls(settings.openai_api_key, settings.openai_base_url, **kwargs)

    def moderate(self, fields: Mapping[str, str]) -> list[Finding]:
        names = list(fields)
        if not names:
            return []
        body = {"model": self.model, "input": [fields[n] for n in names]}
        headers = {"Authorization": f"Bearer {self.api_key}", "Accept": "application/json"}
        url = f"{self.base_url}/moderations"
        response = send_with_retries(
            OPENAI,
            lambda: self._client.post(url, json=body, headers=headers),
            policy=self.retry,
            limiter=self.limiter,
        )
        results = _results(response, len(names))
        findings: list[Finding] = []
        for name, result in zip(names, results, strict=True):
            findings.extend(self._findings(name, result))
        return findings

    def _findings(self, field: str, result: Mapping[str, Any]) -> list[Finding]:
        flagged = result.get("categories") or {}
        ours: dict[str, list[str]] = {}
        for theirs, on in flagged.items():
            category = OPENAI_CATEGORIES.get(theirs)
            if on is True and category is not None:
                ours.setdefault(category, []).append(theirs)
        enabled = {c.name for c in self.policy.enabled()}
        return [
            Finding(category, field, self.policy.reason(category), source=f"openai:{'+'.join(t)}")
            for category, t in ours.items()
            if category in enabled
        ]


def _results(response: httpx.Response, expected: int) -> list[Mapping[str, Any]]:
    try:
        body = response.json()
    except ValueError:
        raise ProviderError(OPENAI, "moderation answer is not JSON") from None
    results = body.get("results") if isinstance(body, dict) else None
    if not isinstance(results, list) or len(results) != expected:
        raise ProviderError(
            OPENAI, f"moderation answer has no result per input (expected {expected})"
        )
    return results


def moderator_for(settings: Settings, name: str) -> Moderator:
    """The moderator called `name` ("rules" or "openai"), built from settings."""
    if name == OPENAI:
        return OpenAIModerator.from_settings(settings)
    if name == RULES:
        return RuleModerator(load_policy(settings))
    raise ProviderError(name, f"unknown moderation provider {name!r}; choose rules or openai")


def async_provider(settings: Settings) -> str | None:
    """The provider jobs wait in `moderating` for, or None when the door's rules suffice."""
    if not settings.content_policy_enabled or settings.moderation_provider == RULES:
        return None
    return settings.moderation_provider


def check_settings(settings: Settings) -> None:
    """Fail at startup, not at the first job, when moderation cannot work as configured."""
    if settings.moderation_provider == OPENAI and not settings.openai_api_key:
        raise ValueError(
            "SOUNDSTAGE_MODERATION_PROVIDER=openai needs SOUNDSTAGE_OPENAI_API_KEY "
            "(or set SOUNDSTAGE_MODERATION_PROVIDER=rules)"
        )
    if settings.content_policy_enabled:
        load_policy(settings)  # a broken rules file is reported now, with its path


def moderate_held(settings: Settings, held: Mapping[str, Any]) -> tuple[str | None, dict]:
    """Moderate a held job's texts: (the refusal message or None, the outcome to keep).

    Raises (ProviderError...) when the moderator cannot answer; the runner retries.
    """
    fields = texts_of(held.get("fields") or {})
    moderator = moderator_for(settings, str(held.get("provider") or RULES))
    try:
        findings = moderator.moderate(fields)
    finally:
        close = getattr(moderator, "close", None)
        if close is not None:
            close()
    outcome = {
        "provider": moderator.name,
        "flagged": [
            {"category": f.category, "field": f.field, "source": f.source} for f in findings
        ],
    }
    if not findings:
        return None, outcome
    return ContentRefused(findings[0]).message, outcome
