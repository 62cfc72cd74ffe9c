"""The video capability: a ClipSpec → an MP4 clip of a music video.

A provider writes one video file per clip. Cloud providers may answer any size, frame
rate or a slightly different length; the workflow normalises every clip (scale, fps,
trim) afterwards, so providers only promise "an MP4 at out_path, covering the clip as
well as the model allows".

The embedded provider renders with Soundstage's offline visual engine
(`soundstage.media.visuals.render_clip`), costs nothing and is always configured. It is
registered last (by `soundstage.providers.__init__`, after every cloud provider), so
with no cloud key set it is the one used, and `SOUNDSTAGE_VIDEO_PROVIDER=embedded`
picks it explicitly.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from soundstage.providers.base import CostRecord, ProviderError

if TYPE_CHECKING:  # keep `import soundstage.providers` light: no media engine at import time
    from soundstage.config import Settings
    from soundstage.media.visuals.spec import ClipSpec
    from soundstage.providers.registry import ProviderRegistry

CAPABILITY = "video"
EMBEDDED = "embedded"

ProgressCallback = Callable[[float], None]


@runtime_checkable
class VideoGenerator(Protocol):
    name: str

    def generate_clip(
        self,
        spec: ClipSpec,
        out_path: Path,
        *,
        on_progress: ProgressCallback | None = None,
    ) -> list[CostRecord]:
        """Write the clip as an MP4 at `out_path` and return what it cost.

        `on_progress(fraction)` gets 0..1; an exception raised by it cancels the clip
        (remote work is canceled too), leaves no file at `out_path` and propagates.
        Failures of the service raise ProviderError.
        """
        ...

    def estimate_cost(self, spec: ClipSpec) -> list[CostRecord]:
        """What generating `spec` would cost, for a preview; sends nothing."""
        ...


class EmbeddedVideo:
    """The offline visual engine as a video provider: free, always available."""

    name = EMBEDDED

    def __init__(self, render: Callable[..., Any] | None = None) -> None:
        self._render = render  # injectable for tests; else media.visuals.render_clip

    @classmethod
    def from_settings(cls, settings: Settings) -> EmbeddedVideo:
        return cls()

    def estimate_cost(self, spec: ClipSpec) -> list[CostRecord]:
        return [
            CostRecord(
                provider=EMBEDDED,
                operation=CAPABILITY,
                units=round(spec.duration_s, 3),
                unit="second",
                cost_usd=0.0,
                estimated=False,
            )
        ]

    def generate_clip(
        self,
        spec: ClipSpec,
        out_path: Path,
        *,
        on_progress: ProgressCallback | None = None,
    ) -> list[CostRecord]:
        render = self._render
        if render is None:
            try:
                from soundstage.media.visuals import render_clip as render
            except ImportError as exc:
                raise ProviderError(
                    EMBEDDED, f"the embedded visual engine is not available: {exc}"
                ) from exc
        render(spec, Path(out_path), on_progress=on_progress)
        return self.estimate_cost(spec)


def register_embedded(registry: ProviderRegistry | None = None) -> None:
    """Register the embedded provider (call it after the cloud providers: last = fallback)."""
    if registry is None:
        from soundstage.providers.registry import registry as default_registry

        registry = default_registry
    registry.register(
        CAPABILITY, EMBEDDED, EmbeddedVideo.from_settings, configured=lambda settings: True
    )
