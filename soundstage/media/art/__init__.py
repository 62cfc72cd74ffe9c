"""Procedural cover art: seeded, mood-coloured ambient album covers as PNG."""

from soundstage.media.art.cover import render_cover, save_png
from soundstage.media.art.palette import MOODS, CoverStyle, palette_for

__all__ = ["MOODS", "CoverStyle", "palette_for", "render_cover", "save_png"]
