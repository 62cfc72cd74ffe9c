"""Cloud providers: optional services behind small capability Protocols.

Soundstage works offline; a provider is used only when its key is configured.
See docs/providers.md. Importing this package registers the built-in providers.
"""

from __future__ import annotations

# Importing a provider module registers it.
from soundstage.providers import openai, registry
from soundstage.providers.base import (
    AllProvidersFailed,
    CostRecord,
    ProviderError,
    ProviderNotConfigured,
    RetryPolicy,
    TokenBucket,
)
from soundstage.providers.registry import available, get, register, with_fallback
from soundstage.providers.transcription import Transcriber, Transcription

__all__ = [
    "AllProvidersFailed",
    "CostRecord",
    "ProviderError",
    "ProviderNotConfigured",
    "RetryPolicy",
    "TokenBucket",
    "Transcriber",
    "Transcription",
    "available",
    "get",
    "openai",
    "register",
    "registry",
    "with_fallback",
]
