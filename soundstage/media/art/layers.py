"""Drawing primitives on float RGB canvases (H, W, 3) with values in 0..1.

Full-resolution shapes are drawn only inside their bounding box, so a small
circle costs little on a 1920x1080 canvas.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from soundstage.media.art.noise import resize_field

LUMA = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)


def smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    """Hermite step from 0 at ``edge0`` to 1 at ``edge1``."""
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def ramp(colours: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Map ``t`` in 0..1 through evenly spaced ``colours`` (k, 3)."""
    k = len(colours)
    pos = np.clip(t, 0.0, 1.0) * (k - 1)
    idx = np.minimum(pos.astype(np.int32), k - 2)
    frac = (pos - idx)[..., None]
    cols = np.asarray(colours, dtype=np.float32)
    return cols[idx] * (1.0 - frac) + cols[idx + 1] * frac


def mix(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Linear blend of two colours."""
    return (
        np.asarray(a, dtype=np.float32) * (1.0 - t) + np.asarray(b, dtype=np.float32) * t
    ).astype(np.float32)


def over(img: np.ndarray, colour: np.ndarray, alpha: np.ndarray) -> None:
    """Paint ``colour`` (3,) or (h, w, 3) over ``img`` with coverage ``alpha`` (h, w)."""
    img += (colour - img) * alpha[..., None]


def screen(img: np.ndarray, colour: np.ndarray, amount: np.ndarray) -> None:
    """Lighten ``img`` like projected light: 1 - (1 - a)(1 - b)."""
    img += (1.0 - img) * (colour * amount[..., None])


def luminance(img: np.ndarray) -> np.ndarray:
    """Relative luminance of an sRGB-ish float image."""
    return img @ LUMA


def upscale(img: np.ndarray, width: int, height: int) -> np.ndarray:
    """Bicubic upscale of a float RGB image, channel by channel."""
    return np.stack([resize_field(img[..., c], width, height) for c in range(3)], axis=-1)


@dataclass(frozen=True)
class Region:
    """A clipped bounding box with pixel-centre coordinates for its rows and columns."""

    rows: slice
    cols: slice
    y: np.ndarray  # (h, 1)
    x: np.ndarray  # (1, w)

    @property
    def empty(self) -> bool:
        return self.y.size == 0 or self.x.size == 0


def region(
    width: int, height: int, cx: float, cy: float, rx: float, ry: float | None = None
) -> Region:
    """The part of the canvas within ``rx``/``ry`` pixels of (cx, cy)."""
    ry = rx if ry is None else ry
    x0, x1 = max(0, int(cx - rx) - 1), min(width, int(cx + rx) + 2)
    y0, y1 = max(0, int(cy - ry) - 1), min(height, int(cy + ry) + 2)
    y = np.arange(max(y0, 0), max(y1, y0), dtype=np.float32)[:, None] + 0.5
    x = np.arange(max(x0, 0), max(x1, x0), dtype=np.float32)[None, :] + 0.5
    return Region(slice(y0, max(y1, y0)), slice(x0, max(x1, x0)), y, x)


def disc(
    img: np.ndarray,
    cx: float,
    cy: float,
    r: float,
    colour: np.ndarray,
    alpha: float,
    soft: float = 1.0,
) -> None:
    """A filled circle with an edge ``soft`` pixels wide."""
    h, w = img.shape[:2]
    reg = region(w, h, cx, cy, r + soft + 2)
    if reg.empty:
        return
    d = np.hypot(reg.x - cx, reg.y - cy)
    cover = np.clip((r - d) / max(soft, 0.5) + 0.5, 0.0, 1.0) * alpha
    over(img[reg.rows, reg.cols], colour, cover)


def arc(
    img: np.ndarray,
    cx: float,
    cy: float,
    r: float,
    width: float,
    colour: np.ndarray,
    alpha: float,
    start: float = 0.0,
    span: float = 2 * np.pi,
) -> None:
    """A ring of ``width`` pixels, optionally only from angle ``start`` over ``span``, with soft ends."""
    h, w = img.shape[:2]
    reg = region(w, h, cx, cy, r + width + 2)
    if reg.empty:
        return
    dx, dy = reg.x - cx, reg.y - cy
    d = np.hypot(dx, dy)
    cover = np.clip(width / 2 - np.abs(d - r) + 0.5, 0.0, 1.0)
    if span < 2 * np.pi - 1e-6:
        ang = np.mod(np.arctan2(dy, dx) - start, 2 * np.pi)
        fade = min(0.35, span / 3)
        cover = cover * smoothstep(0.0, fade, ang) * smoothstep(span, span - fade, ang)
    over(img[reg.rows, reg.cols], colour, cover * alpha)


def glow(
    img: np.ndarray,
    cx: float,
    cy: float,
    r: float,
    colour: np.ndarray,
    amount: float,
    reach: float = 3.0,
) -> None:
    """A soft Gaussian light centred on (cx, cy), screened onto ``img``."""
    h, w = img.shape[:2]
    reg = region(w, h, cx, cy, r * reach)
    if reg.empty:
        return
    d2 = ((reg.x - cx) ** 2 + (reg.y - cy) ** 2) / (r * r)
    screen(img[reg.rows, reg.cols], colour, np.exp(-d2) * amount)


def ridge_mask(height: int, heights: np.ndarray, soft: float = 1.0) -> np.ndarray:
    """Coverage (H, W) of the ground below a skyline ``heights`` (W,) in pixels."""
    y = np.arange(height, dtype=np.float32)[:, None] + 0.5
    return np.clip((y - heights[None, :]) / soft + 0.5, 0.0, 1.0)


def stars(
    rng: np.random.Generator, width: int, height: int, count: int, max_y: float
) -> np.ndarray:
    """A star field (H, W) of tiny soft points above ``max_y`` pixels, 0..1."""
    field = np.zeros((height, width), dtype=np.float32)
    if count <= 0 or max_y <= 1:
        return field
    xs = rng.integers(0, width, count)
    ys = (rng.random(count) ** 1.3 * max_y).astype(np.int64).clip(0, height - 1)
    mags = (rng.random(count, dtype=np.float32) ** 3.0) * 2.2 + 0.25
    np.add.at(field, (ys, xs), mags)
    return np.clip(ndimage.gaussian_filter(field, 0.65) * 2.2, 0.0, 1.0)
