"""Embedded music-video visuals: a ClipSpec → an MP4 clip, drawn offline from procedural art.

`render_clip` draws a clip with one of the `TEMPLATES` (mood palette, energy-driven
motion, a visible hit on every beat, an entry transition) and encodes it with the
shared clip encoding; `suggest_template` picks a template for a song. See
docs/visuals.md.

The drawing code (numpy, scipy, Pillow, procedural art) is imported on first use, so
modules that only need the `ClipSpec` contract stay light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from soundstage.media.visuals.spec import ASPECTS, Caption, ClipSpec
from soundstage.media.visuals.suggest import suggest_template

if TYPE_CHECKING:
    from soundstage.media.visuals.render import build_template, iter_frames, render_clip

    TEMPLATES: dict[str, str]

__all__ = [
    "ASPECTS",
    "TEMPLATES",
    "Caption",
    "ClipSpec",
    "build_template",
    "iter_frames",
    "render_clip",
    "suggest_template",
]


def __getattr__(name: str) -> Any:
    if name in ("build_template", "iter_frames", "render_clip"):
        from soundstage.media.visuals import render

        return getattr(render, name)
    if name == "TEMPLATES":
        from soundstage.media.visuals.templates import TEMPLATE_CLASSES

        templates = {key: cls.description for key, cls in TEMPLATE_CLASSES.items()}
        globals()["TEMPLATES"] = templates
        return templates
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
