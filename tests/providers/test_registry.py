"""The capability registry: configuration, preference, fallback."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from soundstage.providers import available, get
from soundstage.providers.base import AllProvidersFailed, ProviderError, ProviderNotConfigured
from soundstage.providers.openai import OpenAITranscriber
from soundstage.providers.registry import ProviderRegistry
from soundstage.providers.transcription import Transcriber
from tests.conftest import make_settings


@dataclass
class Fake:
    name: str
    fail: bool = False

    def run(self, calls: list[str]) -> str:
        calls.append(self.name)
        if self.fail:
            raise ProviderError(self.name, "boom", status=503)
        return self.name


def build(tmp_path: Path, fails: dict[str, bool], **settings):
    registry = ProviderRegistry()
    for name in ("alpha", "beta", "gamma"):
        registry.register(
            "demo",
            name,
            lambda _s, name=name: Fake(name, fails.get(name, False)),
            configured=lambda s: True,
            requires=(f"{name}_api_key",),
        )
    return registry, make_settings(tmp_path, **settings)


def test_openai_is_not_configured_without_a_key(tmp_path):
    settings = make_settings(tmp_path)
    assert available("transcription", settings) == []
    with pytest.raises(ProviderNotConfigured) as caught:
        get("transcription", settings)
    message = str(caught.value)
    assert "no transcription provider is configured" in message
    assert "openai (set SOUNDSTAGE_OPENAI_API_KEY)" in message
    assert caught.value.options == ["openai"]


def test_an_empty_key_does_not_count(tmp_path):
    assert available("transcription", make_settings(tmp_path, openai_api_key="")) == []


def test_openai_is_built_from_settings_when_its_key_is_set(tmp_path):
    settings = make_settings(
        tmp_path, openai_api_key="sk-abc", openai_base_url="http://127.0.0.1:1/v1"
    )
    assert available("transcription", settings) == ["openai"]
    transcriber = get("transcription", settings)
    try:
        assert isinstance(transcriber, OpenAITranscriber)
        assert isinstance(transcriber, Transcriber)
        assert transcriber.base_url == "http://127.0.0.1:1/v1"
    finally:
        transcriber.close()


def test_naming_an_unconfigured_provider_says_what_to_set(tmp_path):
    with pytest.raises(ProviderNotConfigured, match="set SOUNDSTAGE_OPENAI_API_KEY"):
        get("transcription", make_settings(tmp_path), "openai")


def test_naming_an_unknown_provider_lists_the_options(tmp_path):
    settings = make_settings(tmp_path, transcription_provider="nope", openai_api_key="k")
    with pytest.raises(
        ProviderNotConfigured, match="unknown transcription provider 'nope'; choose one of: openai"
    ):
        get("transcription", settings)


def test_an_unknown_capability_is_not_configured(tmp_path):
    with pytest.raises(ProviderNotConfigured, match="no provider is registered for 'teleport'"):
        get("teleport", make_settings(tmp_path))


def test_get_returns_the_first_configured_in_registration_order(tmp_path):
    registry = ProviderRegistry()
    registry.register(
        "demo",
        "alpha",
        lambda s: Fake("alpha"),
        configured=lambda s: False,
        requires=("alpha_key",),
    )
    registry.register("demo", "beta", lambda s: Fake("beta"), configured=lambda s: True)
    registry.register("demo", "gamma", lambda s: Fake("gamma"), configured=lambda s: True)
    settings = make_settings(tmp_path)
    assert registry.names("demo") == ["alpha", "beta", "gamma"]
    assert registry.available("demo", settings) == ["beta", "gamma"]
    assert registry.get("demo", settings).name == "beta"
    assert registry.get("demo", settings, "gamma").name == "gamma"


def test_re_registering_replaces_in_place(tmp_path):
    registry = ProviderRegistry()
    registry.register("demo", "alpha", lambda s: Fake("old"), configured=lambda s: True)
    registry.register("demo", "beta", lambda s: Fake("beta"), configured=lambda s: True)
    registry.register("demo", "alpha", lambda s: Fake("new"), configured=lambda s: True)
    assert registry.names("demo") == ["alpha", "beta"]
    assert registry.get("demo", make_settings(tmp_path)).name == "new"
    registry.unregister("demo", "alpha")
    assert registry.names("demo") == ["beta"]


def test_fallback_tries_providers_in_order_until_one_succeeds(tmp_path):
    registry, settings = build(tmp_path, {"alpha": True})
    calls: list[str] = []
    assert registry.with_fallback("demo", settings, lambda p: p.run(calls)) == "beta"
    assert calls == ["alpha", "beta"]


def test_the_preferred_provider_is_tried_first(tmp_path):
    registry = ProviderRegistry()
    for name in ("alpha", "beta"):
        registry.register(
            "transcription", name, lambda s, n=name: Fake(n), configured=lambda s: True
        )
    settings = make_settings(tmp_path, transcription_provider="beta")
    calls: list[str] = []
    assert registry.available("transcription", settings) == ["beta", "alpha"]
    assert registry.get("transcription", settings).name == "beta"
    assert registry.with_fallback("transcription", settings, lambda p: p.run(calls)) == "beta"
    assert calls == ["beta"]


def test_fallback_raises_the_last_error_with_every_attempt_summarised(tmp_path):
    registry, settings = build(tmp_path, {"alpha": True, "beta": True, "gamma": True})
    calls: list[str] = []
    with pytest.raises(AllProvidersFailed) as caught:
        registry.with_fallback("demo", settings, lambda p: p.run(calls))
    error = caught.value
    assert calls == ["alpha", "beta", "gamma"]
    assert [name for name, _ in error.errors] == ["alpha", "beta", "gamma"]
    assert error.last is error.__cause__
    assert error.status == 503
    assert str(error) == (
        "demo: all 3 configured provider(s) failed: [alpha] alpha: HTTP 503: boom; "
        "[beta] beta: HTTP 503: boom; [gamma] gamma: HTTP 503: boom"
    )
    assert isinstance(error, ProviderError)  # callers fall back to the embedded engine on this


def test_fallback_does_not_swallow_bugs(tmp_path):
    registry, settings = build(tmp_path, {})

    def broken(_provider):
        raise KeyError("bug")

    with pytest.raises(KeyError):
        registry.with_fallback("demo", settings, broken)


def test_fallback_with_nothing_configured(tmp_path):
    registry = ProviderRegistry()
    registry.register(
        "demo",
        "alpha",
        lambda s: Fake("alpha"),
        configured=lambda s: False,
        requires=("alpha_key",),
    )
    with pytest.raises(ProviderNotConfigured, match=r"options: alpha \(set SOUNDSTAGE_ALPHA_KEY\)"):
        registry.with_fallback("demo", make_settings(tmp_path), lambda p: p)
