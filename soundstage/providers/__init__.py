"""Cloud providers: optional services behind small capability Protocols.

Soundstage works offline; a provider is used only when its key is configured.
See docs/providers.md. Importing this package registers the built-in providers.
"""

from __future__ import annotations

# Importing a provider module registers it; the embedded video engine goes last, as the
# fallback after every cloud video provider.
from soundstage.providers import openai, registry, replicate, video
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
from soundstage.providers.video import EmbeddedVideo, VideoGenerator

video.register_embedded()

__all__ = [
    "AllProvidersFailed",
    "CostRecord",
    "EmbeddedVideo",
    "ProviderError",
    "ProviderNotConfigured",
    "RetryPolicy",
    "TokenBucket",
    "Transcriber",
    "Transcription",
    "VideoGenerator",
    "available",
    "get",
    "openai",
    "register",
    "registry",
    "replicate",
    "video",
    "with_fallback",
]
