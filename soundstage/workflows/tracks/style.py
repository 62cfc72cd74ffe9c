"""The style system, pure: a user's style seed, palettes and geometry derived from it,
their valid ranges, and the visual styles (motifs) unlocked by completed tracks.

Everything here is a function of its inputs: the same user id gives the same
seed, the same seed gives the same palette and geometry, on every machine.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from soundstage.media.art.palette import stable_seed

# Valid ranges (inclusive) of the series style. Hues are degrees on the colour wheel.
HUES_COUNT = (1, 5)
LUMINANCE_RANGE = (0.1, 0.9)
SATURATION_RANGE = (0.0, 1.0)
STROKE_WIDTH_RANGE = (0.5, 32.0)  # pixels on a 1024 px cover
ANGLE_RANGE = (0.0, 360.0)  # rotation and gradient angle, degrees
SHAPE_COUNT_RANGE = (1, 64)


@dataclass(frozen=True)
class Motif:
    """A named visual style for covers; available once `threshold` tracks are complete."""

    name: str
    threshold: int
    description: str


MOTIFS: tuple[Motif, ...] = (
    Motif("orbits", 0, "concentric arcs around a bright centre"),
    Motif("waves", 1, "layered sine lines across the cover"),
    Motif("prism", 5, "translucent overlapping polygons"),
    Motif("weave", 10, "two crossing families of lines"),
    Motif("constellation", 25, "stars joined into a figure"),
)
MOTIF_NAMES = tuple(m.name for m in MOTIFS)
DEFAULT_MOTIF = "orbits"


def style_seed_for(user_id: str) -> int:
    """A user's style seed: 63 bits of SHA-256 of the user id (same user → same seed)."""
    digest = hashlib.sha256(f"soundstage-style:{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") & (2**63 - 1)


def derive_palette(seed: int) -> dict[str, Any]:
    """Three related hues (a base, an analogous and a contrasting one) and tone, from a seed."""
    rng = np.random.default_rng(stable_seed("palette", seed))
    base = float(rng.uniform(0, 360))
    analogous = (base + float(rng.uniform(25, 60)) * float(rng.choice([-1, 1]))) % 360
    contrast = (base + float(rng.uniform(150, 210))) % 360
    return {
        "hues": [round(base, 1), round(analogous, 1), round(contrast, 1)],
        "luminance": round(float(rng.uniform(0.3, 0.65)), 3),
        "saturation": round(float(rng.uniform(0.45, 0.9)), 3),
    }


def derive_geometry(seed: int) -> dict[str, Any]:
    """Stroke width, rotation, gradient angle and shape count, from a seed."""
    rng = np.random.default_rng(stable_seed("geometry", seed))
    return {
        "stroke_width": round(float(rng.uniform(2.0, 10.0)), 2),
        "rotation": round(float(rng.uniform(0, 360)), 1),
        "gradient_angle": round(float(rng.uniform(0, 360)), 1),
        "shape_count": int(rng.integers(6, 24)),
    }


def series_seed(style_seed: int, name: str) -> int:
    """The seed of a new series' derived style: the user's seed and the series name."""
    return stable_seed("series", style_seed, name.strip().lower())


def unlocked_motifs(completed_tracks: int) -> list[str]:
    """Motifs earned with this many completed tracks, in unlock order."""
    return [m.name for m in MOTIFS if completed_tracks >= m.threshold]


def next_unlock(completed_tracks: int) -> Motif | None:
    return next((m for m in MOTIFS if m.threshold > completed_tracks), None)


def motif(name: str) -> Motif:
    for item in MOTIFS:
        if item.name == name:
            return item
    raise KeyError(name)
