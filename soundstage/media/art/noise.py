"""Smooth, seeded noise fields (vectorized value-noise fBm and domain warping)."""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage


def resize_field(field: np.ndarray, width: int, height: int) -> np.ndarray:
    """Smoothly resize a 2-D float field (bicubic)."""
    img = Image.fromarray(np.ascontiguousarray(field, dtype=np.float32), mode="F")
    return np.asarray(img.resize((width, height), Image.Resampling.BICUBIC), dtype=np.float32)


def value_noise(rng: np.random.Generator, width: int, height: int, cells: float) -> np.ndarray:
    """One octave of value noise with about ``cells`` features across the short side."""
    aspect = width / height
    gy = max(2, round(cells if aspect >= 1 else cells / aspect)) + 1
    gx = max(2, round(cells * aspect if aspect >= 1 else cells)) + 1
    lattice = rng.random((gy, gx), dtype=np.float32)
    return resize_field(lattice, width, height)


def fbm(
    rng: np.random.Generator,
    width: int,
    height: int,
    *,
    cells: float = 3.0,
    octaves: int = 5,
    gain: float = 0.5,
    lacunarity: float = 2.0,
) -> np.ndarray:
    """Fractal sum of value-noise octaves, normalised to zero mean and unit std."""
    total = np.zeros((height, width), dtype=np.float32)
    amp = 1.0
    for _ in range(octaves):
        total += amp * value_noise(rng, width, height, cells)
        cells *= lacunarity
        amp *= gain
    return _standardise(total)


def warped_fbm(
    rng: np.random.Generator,
    width: int,
    height: int,
    *,
    cells: float = 2.5,
    octaves: int = 5,
    warp: float = 0.12,
) -> np.ndarray:
    """fBm sampled through another fBm offset field: flowing, cloud-like shapes.

    ``warp`` is the displacement as a fraction of the short side.
    """
    base = fbm(rng, width, height, cells=cells, octaves=octaves)
    amount = warp * min(width, height)
    dx = fbm(rng, width, height, cells=cells * 0.8, octaves=3) * amount
    dy = fbm(rng, width, height, cells=cells * 0.8, octaves=3) * amount
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    out = ndimage.map_coordinates(base, [yy + dy, xx + dx], order=1, mode="mirror")
    return _standardise(out)


def fbm_1d(
    rng: np.random.Generator, length: int, *, cells: float = 3.0, octaves: int = 5
) -> np.ndarray:
    """A smooth 1-D fractal curve of ``length`` samples, zero mean, unit std."""
    total = np.zeros(length, dtype=np.float32)
    amp = 1.0
    for _ in range(octaves):
        knots = rng.random((1, max(2, round(cells)) + 1), dtype=np.float32)
        total += amp * resize_field(knots, length, 1)[0]
        cells *= 2.0
        amp *= 0.5
    return _standardise(total)


def _standardise(a: np.ndarray) -> np.ndarray:
    std = float(a.std())
    return ((a - a.mean()) / (std if std > 1e-9 else 1.0)).astype(np.float32)
