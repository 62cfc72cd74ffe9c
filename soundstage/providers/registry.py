"""Capability → ordered providers, in the spirit of Datasette's plugin registry.

A capability ("transcription", ...) is a small Protocol; each provider registers a
factory building it from Settings and a `configured` test (usually "is its key
set?"). Callers ask for one provider with `get`, or let `with_fallback` try the
configured ones in order.

    from soundstage.providers import registry

    transcriber = registry.get("transcription", settings)          # first configured
    lines = registry.with_fallback("transcription", settings, lambda t: t.transcribe(path))

`settings.<capability>_provider` (e.g. SOUNDSTAGE_TRANSCRIPTION_PROVIDER), when set,
names the preferred provider: `get` returns it and `with_fallback` tries it first.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from soundstage.config import Settings
from soundstage.providers.base import AllProvidersFailed, ProviderError, ProviderNotConfigured

T = TypeVar("T")
Factory = Callable[[Settings], Any]


def env_var(setting: str) -> str:
    """The environment variable for a Settings field: openai_api_key → SOUNDSTAGE_OPENAI_API_KEY."""
    return f"SOUNDSTAGE_{setting.upper()}"


@dataclass(frozen=True)
class Registration:
    capability: str
    name: str
    factory: Factory
    configured: Callable[[Settings], bool]
    requires: tuple[str, ...]  # Settings fields that configure it, for error messages

    def hint(self) -> str:
        if not self.requires:
            return self.name
        return f"{self.name} (set {' and '.join(env_var(r) for r in self.requires)})"


class ProviderRegistry:
    def __init__(self) -> None:
        self._entries: dict[str, list[Registration]] = {}
        self._lock = threading.Lock()

    def register(
        self,
        capability: str,
        name: str,
        factory: Factory,
        *,
        configured: Callable[[Settings], bool],
        requires: Sequence[str] = (),
    ) -> None:
        """Add (or replace, keeping its place) provider `name` for `capability`."""
        entry = Registration(capability, name, factory, configured, tuple(requires))
        with self._lock:
            entries = self._entries.setdefault(capability, [])
            for i, existing in enumerate(entries):
                if existing.name == name:
                    entries[i] = entry
                    return
            entries.append(entry)

    def unregister(self, capability: str, name: str) -> None:
        with self._lock:
            self._entries[capability] = [
                e for e in self._entries.get(capability, []) if e.name != name
            ]

    def capabilities(self) -> list[str]:
        return sorted(self._entries)

    def names(self, capability: str) -> list[str]:
        """Every registered provider for `capability`, configured or not, in order."""
        return [e.name for e in self._registrations(capability)]

    def available(self, capability: str, settings: Settings) -> list[str]:
        """The configured providers for `capability`: the preferred one first, then in
        registration order."""
        return [e.name for e in self._ordered(capability, settings) if e.configured(settings)]

    def get(self, capability: str, settings: Settings, name: str | None = None) -> Any:
        """Build provider `name` (default: the preferred, else the first configured one).

        Raises ProviderNotConfigured naming the SOUNDSTAGE_* variables to set.
        """
        entries = self._registrations(capability)
        if not entries:
            raise ProviderNotConfigured(capability, f"no provider is registered for {capability!r}")
        name = name or self._preferred(capability, settings)
        if name is not None:
            entry = next((e for e in entries if e.name == name), None)
            if entry is None:
                options = [e.name for e in entries]
                raise ProviderNotConfigured(
                    capability,
                    f"unknown {capability} provider {name!r}; choose one of: {', '.join(options)}",
                    options=options,
                )
            if not entry.configured(settings):
                raise ProviderNotConfigured(
                    capability,
                    f"{capability} provider {name!r} is not configured; set "
                    f"{' and '.join(env_var(r) for r in entry.requires) or 'its settings'}",
                    options=[name],
                )
            return entry.factory(settings)
        for entry in entries:
            if entry.configured(settings):
                return entry.factory(settings)
        raise self._not_configured(capability, entries)

    def with_fallback(self, capability: str, settings: Settings, call: Callable[[Any], T]) -> T:
        """`call(provider)` with each configured provider in turn until one succeeds.

        Only ProviderError moves on to the next provider (a bug in `call` is raised as
        is). When all fail, raises AllProvidersFailed summarising every attempt, chained
        to the last error; when none is configured, ProviderNotConfigured.
        """
        entries = [e for e in self._ordered(capability, settings) if e.configured(settings)]
        if not entries:
            raise self._not_configured(capability, self._registrations(capability))
        errors: list[tuple[str, Exception]] = []
        for entry in entries:
            try:
                return call(entry.factory(settings))
            except ProviderError as exc:
                errors.append((entry.name, exc))
        raise AllProvidersFailed(capability, errors) from errors[-1][1]

    # --- internals ---

    def _registrations(self, capability: str) -> list[Registration]:
        with self._lock:
            return list(self._entries.get(capability, []))

    @staticmethod
    def _preferred(capability: str, settings: Settings) -> str | None:
        value = getattr(settings, f"{capability}_provider", None)
        return value or None

    def _ordered(self, capability: str, settings: Settings) -> list[Registration]:
        entries = self._registrations(capability)
        preferred = self._preferred(capability, settings)
        return sorted(entries, key=lambda e: e.name != preferred)  # stable: keeps order

    @staticmethod
    def _not_configured(capability: str, entries: list[Registration]) -> ProviderNotConfigured:
        if not entries:
            return ProviderNotConfigured(
                capability, f"no provider is registered for {capability!r}"
            )
        return ProviderNotConfigured(
            capability,
            f"no {capability} provider is configured; options: "
            + "; ".join(e.hint() for e in entries),
            options=[e.name for e in entries],
        )


registry = ProviderRegistry()
register = registry.register
unregister = registry.unregister
available = registry.available
get = registry.get
with_fallback = registry.with_fallback
