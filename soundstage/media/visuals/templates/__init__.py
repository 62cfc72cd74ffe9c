"""The embedded visual templates, by name."""

from __future__ import annotations

from soundstage.media.visuals.templates.base import Template
from soundstage.media.visuals.templates.drift import Drift
from soundstage.media.visuals.templates.flow import Flow
from soundstage.media.visuals.templates.kaleidoscope import Kaleidoscope
from soundstage.media.visuals.templates.particles import Particles
from soundstage.media.visuals.templates.spectrum import Spectrum

TEMPLATE_CLASSES: dict[str, type[Template]] = {
    cls.name: cls for cls in (Flow, Kaleidoscope, Particles, Spectrum, Drift)
}

__all__ = ["TEMPLATE_CLASSES", "Template"]
