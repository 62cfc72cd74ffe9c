"""Clip colours: the song's mood picks a cover palette, beats grade it frame by frame.

Palettes come from `soundstage.media.art.palette` (the same moods and colour words as
the album covers). The analysis moods that art has no palette for are mapped onto
the nearest one (`MOOD_TO_ART`). Most templates paint a scalar field 0..1 that a
256-entry colour ramp (shadow → deep → mid → light → accent, blended in OKLab) turns
into RGB; all per-frame colour effects — the beat flash, the downbeat tint towards
the accent colour, energy-driven brightness — are applied to those 256 entries, not to
the pixels, so they cost nothing.
"""

from __future__ import annotations

import numpy as np

from soundstage.media.art.palette import (
    MOOD_COLOURS,
    CoverStyle,
    oklab_to_srgb,
    palette_for,
    srgb_to_oklab,
)

# Analysis moods (media.analysis.mood.MOODS) → (art mood, extra colour words).
MOOD_TO_ART: dict[str, tuple[str, str]] = {
    "happy": ("uplifting", ""),
    "sad": ("melancholic", ""),
    "energetic": ("warm", "fire"),
    "tense": ("mysterious", ""),
    "romantic": ("nostalgic", "rose"),
}
# Where the five palette roles sit on the 0..1 ramp.
RAMP_STOPS = (0.0, 0.28, 0.55, 0.82, 1.0)
WHITE = np.ones(3, dtype=np.float32)


def art_mood(mood: str) -> tuple[str, str]:
    """The cover mood and extra colour words for an analysis (or cover) mood name."""
    key = mood.strip().lower()
    if key in MOOD_COLOURS:
        return key, ""
    return MOOD_TO_ART.get(key, ("calm", ""))


def clip_palette(mood: str, prompt: str, seed: int, energy: float = 0.5) -> np.ndarray:
    """Five colours (shadow, deep, mid, light, accent) as float32 (5, 3) in 0..1."""
    name, words = art_mood(mood)
    style = CoverStyle(mood=name, brightness=0.5, warmth=0.5, energy=float(energy))
    colours = palette_for(f"{prompt} {words}".strip(), style, seed)
    return np.array(colours, dtype=np.float32) / 255.0


def ramp_lut(pal: np.ndarray, size: int = 256) -> np.ndarray:
    """A ``size``-entry colour ramp (size, 3) float32 through the palette, mixed in OKLab."""
    lab = srgb_to_oklab(pal.astype(np.float64))
    t = np.linspace(0.0, 1.0, size)
    out = np.stack([np.interp(t, RAMP_STOPS, lab[:, c]) for c in range(3)], axis=-1)
    return np.clip(oklab_to_srgb(out), 0.0, 1.0).astype(np.float32)


def grade(
    base: np.ndarray,
    pal: np.ndarray,
    *,
    energy: float,
    flash: float,
    tint: float,
) -> np.ndarray:
    """One frame's colours from ``base`` (n, 3) float32: returns (n, 3) uint8.

    ``energy`` 0..1 lifts brightness a little; ``flash`` (a beat or the clip entry)
    pushes every colour towards a bright version of the light/accent colours;
    ``tint`` (downbeats) shifts the hue towards the accent colour.
    """
    lut = base * (0.82 + 0.28 * energy)
    if tint > 0:
        lut += (pal[4] - lut) * min(0.5, 0.35 * tint)
    if flash > 0:
        hot = 0.5 * (pal[3] + pal[4]) * 0.5 + 0.5 * WHITE
        a = min(0.65, flash)
        lut += (hot - lut) * a
    return (np.clip(lut, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
