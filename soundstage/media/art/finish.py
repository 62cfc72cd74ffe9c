"""Finishing passes shared by every scene: bloom, grade, vignette, grain."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from soundstage.media.art import layers as L
from soundstage.media.art.noise import resize_field

# Extra glow and lifted blacks per mood: (bloom amount, black lift).
MOOD_FINISH: dict[str, tuple[float, float]] = {
    "dreamy": (0.45, 0.02),
    "ethereal": (0.5, 0.03),
    "nostalgic": (0.25, 0.07),
    "warm": (0.3, 0.02),
    "uplifting": (0.35, 0.0),
    "melancholic": (0.2, 0.03),
}


def bloom(img: np.ndarray, amount: float) -> None:
    """Let bright areas bleed softly into their surroundings, like a lens."""
    if amount <= 0:
        return
    h, w = img.shape[:2]
    f = 8
    small = img[: h - h % f, : w - w % f].reshape(h // f, f, w // f, f, 3).mean(axis=(1, 3))
    bright = small * L.smoothstep(0.45, 0.95, L.luminance(small))[..., None]
    soft = ndimage.gaussian_filter(bright, sigma=(6, 6, 0))
    L.screen(img, L.upscale(soft, w, h), np.full((h, w), amount, dtype=np.float32))


def grade(img: np.ndarray, lift: float) -> None:
    """Raise the black point a little (a faded-print look)."""
    if lift > 0:
        img *= 1.0 - lift
        img += lift


def vignette(img: np.ndarray, strength: float = 0.35) -> None:
    """Darken the corners gently to hold the eye in the frame."""
    h, w = img.shape[:2]
    lh, lw = max(16, h // 8), max(16, w // 8)
    y = (np.arange(lh, dtype=np.float32)[:, None] + 0.5) / lh * 2 - 1
    x = (np.arange(lw, dtype=np.float32)[None, :] + 0.5) / lw * 2 - 1
    r = np.sqrt(x * x + y * y) / np.sqrt(2.0)
    v = 1.0 - strength * L.smoothstep(0.35, 1.05, r)
    img *= resize_field(v, w, h)[..., None]


def grain(img: np.ndarray, rng: np.random.Generator, amount: float = 0.005) -> None:
    """Fine monochrome film grain: dithers away gradient banding.

    Kept subtle on purpose: grain is what costs bytes when the cover becomes a video
    keyframe (σ 0.012 makes a 1080p keyframe ~7x larger than none).
    """
    h, w = img.shape[:2]
    noise = rng.standard_normal((h, w), dtype=np.float32) * amount
    img += noise[..., None]


def finish(img: np.ndarray, rng: np.random.Generator, mood: str, energy: float) -> np.ndarray:
    """All finishing passes, then 8-bit RGB."""
    glow, lift = MOOD_FINISH.get(mood, (0.25, 0.0))
    bloom(img, glow)
    grade(img, lift)
    vignette(img, 0.3 + 0.1 * energy)
    grain(img, rng, 0.004 + 0.003 * energy)
    return (np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
