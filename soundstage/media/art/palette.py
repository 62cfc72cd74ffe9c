"""Cover palettes: a mood's colours, tinted by colour words in the prompt.

Every palette has five colours ordered by role: ``shadow, deep, mid, light,
accent``. The mood sets the character and most of the lightness; colour words
set the hues. Colours are mixed in OKLab so blends stay even and saturated.

Colour lexicon (a word matches on its own or as a plural, case-insensitive):

========  =============================================  ==================
family    words                                          colours
========  =============================================  ==================
water     ocean, sea, rain, water, wave, river, lake,    blues
          tide, underwater
forest    forest, woods, moss, jungle, leaf, garden,     greens
          meadow
sunset    sunset, autumn, dusk, ember, fire, golden,     ambers
          desert, candle
night     night, space, star, cosmic, galaxy,            deep indigo
          midnight, nebula
ice       snow, ice, winter, frost, glacier, arctic      pale cyan
dawn      dawn, sunrise, morning, spring, blossom,       peach and rose
          rose
mist      mist, fog, cloud, haze, smoke                  soft greys
========  =============================================  ==================
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import numpy as np

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class CoverStyle:
    """How a cover should feel; all numbers run from 0 to 1.

    ``brightness`` dark→bright, ``warmth`` cool→warm, ``energy`` calm→busy.
    """

    mood: str = "calm"
    brightness: float = 0.5
    warmth: float = 0.5
    energy: float = 0.3


def _hex(*codes: str) -> tuple[RGB, ...]:
    return tuple(tuple(int(c[i : i + 2], 16) for i in (1, 3, 5)) for c in codes)  # type: ignore[misc]


MOOD_COLOURS: dict[str, tuple[RGB, ...]] = {
    "calm": _hex("#0d2430", "#2b5866", "#76a3a6", "#d5e3dc", "#f3d9a8"),
    "dreamy": _hex("#221a3d", "#5f4a88", "#b892cc", "#f3d5e6", "#ffd3b8"),
    "melancholic": _hex("#12161d", "#2c3847", "#5d6d7e", "#a7b1bc", "#c7a59c"),
    "dark": _hex("#040406", "#120b14", "#2a1928", "#4d2f3e", "#8f2f3a"),
    "uplifting": _hex("#1b3a5e", "#3f7db0", "#f0a35c", "#ffe2a1", "#fff3d2"),
    "mysterious": _hex("#05111a", "#103840", "#2d5d59", "#6c8d86", "#9a7fd4"),
    "warm": _hex("#2a130f", "#7a3a23", "#c96e3a", "#f2c38c", "#ffdc98"),
    "ethereal": _hex("#26385a", "#7b91ba", "#c5d2ec", "#f2f0fb", "#e6d6ff"),
    "cold": _hex("#081520", "#1d3a55", "#4d7ca2", "#bad6e8", "#e8f6ff"),
    "nostalgic": _hex("#29221f", "#6a5347", "#b38c72", "#e6d1b6", "#d88d78"),
    "meditative": _hex("#0d1125", "#2b2d59", "#5a5e8e", "#b7a688", "#e2b45a"),
}
MOODS: tuple[str, ...] = tuple(MOOD_COLOURS)

COLOUR_FAMILIES: dict[str, tuple[tuple[str, ...], tuple[RGB, ...]]] = {
    "water": (
        ("ocean", "sea", "rain", "water", "wave", "river", "lake", "tide", "underwater"),
        _hex("#05203a", "#0e4a74", "#3181b6", "#a5d6ea", "#dff4ff"),
    ),
    "forest": (
        ("forest", "woods", "moss", "jungle", "leaf", "garden", "meadow"),
        _hex("#0a1d13", "#1d4a2a", "#4e7a43", "#a2c584", "#e5efc0"),
    ),
    "sunset": (
        ("sunset", "autumn", "dusk", "ember", "fire", "golden", "desert", "candle"),
        _hex("#2b0e1d", "#772c3a", "#d8633a", "#f5a75b", "#ffd99b"),
    ),
    "night": (
        ("night", "space", "star", "cosmic", "galaxy", "midnight", "nebula"),
        _hex("#03030f", "#0d0d36", "#2a1f6c", "#6a5acd", "#c4b7ff"),
    ),
    "ice": (
        ("snow", "ice", "winter", "frost", "glacier", "arctic"),
        _hex("#1a293a", "#5a7e98", "#a8d5e4", "#e2f3f8", "#ffffff"),
    ),
    "dawn": (
        ("dawn", "sunrise", "morning", "spring", "blossom", "rose"),
        _hex("#2c1f3a", "#7b5a86", "#e79a9a", "#ffd0b0", "#fff0d8"),
    ),
    "mist": (
        ("mist", "fog", "cloud", "haze", "smoke"),
        _hex("#1c1f24", "#4a5058", "#8c939b", "#ccd1d6", "#eef0f2"),
    ),
}
_WORD_FAMILY = {w: fam for fam, (words, _) in COLOUR_FAMILIES.items() for w in words}

# OKLab (Björn Ottosson, 2020) matrices.
_M1 = np.array(
    [
        [0.4122214708, 0.5363325363, 0.0514459929],
        [0.2119034982, 0.6806995451, 0.1073969566],
        [0.0883024619, 0.2817188376, 0.6299787005],
    ]
)
_M2 = np.array(
    [
        [0.2104542553, 0.7936177850, -0.0040720468],
        [1.9779984951, -2.4285922050, 0.4505937099],
        [0.0259040371, 0.7827717662, -0.8086757660],
    ]
)


def srgb_to_oklab(rgb: np.ndarray) -> np.ndarray:
    """sRGB in 0..1 (…, 3) → OKLab (…, 3)."""
    c = np.asarray(rgb, dtype=np.float64)
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return np.cbrt(lin @ _M1.T) @ _M2.T


def oklab_to_srgb(lab: np.ndarray) -> np.ndarray:
    """OKLab (…, 3) → sRGB in 0..1, clipped into gamut."""
    lms = (np.asarray(lab, dtype=np.float64) @ np.linalg.inv(_M2).T) ** 3
    lin = np.clip(lms @ np.linalg.inv(_M1).T, 0.0, 1.0)
    return np.where(lin <= 0.0031308, lin * 12.92, 1.055 * lin ** (1 / 2.4) - 0.055)


def colour_families(prompt: str) -> list[str]:
    """Colour families named in ``prompt``, in order of first mention."""
    found: list[str] = []
    for word in re.findall(r"[a-z]+", prompt.lower()):
        fam = _WORD_FAMILY.get(word) or (word.endswith("s") and _WORD_FAMILY.get(word[:-1]))
        if fam and fam not in found:
            found.append(fam)
    return found


def stable_seed(*parts: object) -> int:
    """A 64-bit seed from ``parts`` that is the same in every process."""
    text = "\x1f".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")


def _lab(colours: tuple[RGB, ...]) -> np.ndarray:
    return srgb_to_oklab(np.array(colours, dtype=np.float64) / 255.0)


def palette_for(prompt: str, style: CoverStyle, seed: int) -> list[RGB]:
    """Five colours (shadow, deep, mid, light, accent) for a cover.

    The mood (unknown → calm) gives lightness and character, colour words in
    the prompt pull the hues (a second family lights the light and accent
    roles), ``style`` shifts brightness and warmth, and the
    seed adds a small hue drift so covers of one mood are not all identical.
    """
    lab = _lab(MOOD_COLOURS.get(style.mood, MOOD_COLOURS["calm"]))
    families = colour_families(prompt)
    if families:
        word = _lab(COLOUR_FAMILIES[families[0]][1])
        if len(families) > 1:  # "ocean at dusk": deep blues lit by an amber sky
            word[3:] = _lab(COLOUR_FAMILIES[families[1]][1])[3:]
        lab[:, 0] = 0.6 * lab[:, 0] + 0.4 * word[:, 0]
        lab[:, 1:] = 0.25 * lab[:, 1:] + 0.75 * word[:, 1:]
    rng = np.random.default_rng(stable_seed("palette", prompt, seed))
    lab = _drift_hue(lab, np.deg2rad(rng.uniform(-14.0, 14.0)))
    lab = _apply_brightness(lab, _clamp01(style.brightness))
    lab = _apply_warmth(lab, _clamp01(style.warmth))
    rgb = np.round(oklab_to_srgb(lab) * 255.0).astype(int)
    return [(int(r), int(g), int(b)) for r, g, b in rgb]


def _clamp01(x: float) -> float:
    return min(1.0, max(0.0, float(x)))


def _drift_hue(lab: np.ndarray, angle: float) -> np.ndarray:
    out = lab.copy()
    c, s = np.cos(angle), np.sin(angle)
    out[:, 1] = c * lab[:, 1] - s * lab[:, 2]
    out[:, 2] = s * lab[:, 1] + c * lab[:, 2]
    return out


def _apply_brightness(lab: np.ndarray, brightness: float) -> np.ndarray:
    out = lab.copy()
    out[:, 0] = np.clip(lab[:, 0], 0.0, 1.0) ** (2.0 ** ((0.5 - brightness) * 1.4))
    return out


def _apply_warmth(lab: np.ndarray, warmth: float) -> np.ndarray:
    out = lab.copy()
    shift = warmth - 0.5
    out[:, 1] += shift * 0.035
    out[:, 2] += shift * 0.09
    return out
