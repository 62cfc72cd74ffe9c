"""What every template shares: the render context, coordinate grids and colouring.

A template is built once per clip (precomputing grids, noise and particles) and then
asked for frames in order. It draws at an *internal* size of at most `max_pixels`
(ffmpeg scales up to the output size in the same encode: the imagery is smooth, and
drawing 1/4 or 1/9 of the pixels is what makes real-time rendering possible).
Coordinates are resolution independent: the short side spans -1..1, so a clip
looks the same at any size.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from PIL import Image

from soundstage.media.visuals.colour import grade, ramp_lut
from soundstage.media.visuals.drive import Drive
from soundstage.media.visuals.spec import ClipSpec

# 4x4 Bayer matrix: an ordered dither of ±0.5 level that hides banding in slow ramps.
_BAYER = (
    np.array([[0, 8, 2, 10], [12, 4, 14, 6], [3, 11, 1, 9], [15, 7, 13, 5]], dtype=np.float32) + 0.5
) / 16.0


@dataclass
class Ctx:
    """Everything a template needs: spec, internal size, control signals, palette, RNG."""

    spec: ClipSpec
    width: int  # internal drawing size
    height: int
    drive: Drive
    pal: np.ndarray  # (5, 3) float32 0..1: shadow, deep, mid, light, accent
    rng: np.random.Generator


def internal_size(width: int, height: int, max_pixels: int) -> tuple[int, int]:
    """The drawing size: the output size shrunk (aspect kept, even sides) to ``max_pixels``."""
    if width * height <= max_pixels:
        return width, height
    f = math.sqrt(max_pixels / (width * height))
    return max(2, round(width * f / 2) * 2), max(2, round(height * f / 2) * 2)


class Template(ABC):
    """Base class: subclasses set the class attributes and implement `frame`."""

    name: ClassVar[str]
    description: ClassVar[str]
    max_pixels: ClassVar[int] = 640 * 360

    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx
        self.w, self.h = ctx.width, ctx.height
        unit = min(self.w, self.h) / 2.0
        # Pixel-centre coordinates; the short side spans -1..1.
        self.x = ((np.arange(self.w, dtype=np.float32) + 0.5 - self.w / 2) / unit)[None, :]
        self.y = ((np.arange(self.h, dtype=np.float32) + 0.5 - self.h / 2) / unit)[:, None]

    @abstractmethod
    def frame(self, i: int) -> np.ndarray:
        """Frame ``i`` as (h, w, 3) uint8 RGB at the internal size."""


class RampTemplate(Template):
    """A template that paints a scalar field 0..1, coloured through the mood ramp."""

    def __init__(self, ctx: Ctx) -> None:
        super().__init__(ctx)
        self.base_lut = ramp_lut(ctx.pal)
        reps = (self.h // 4 + 1, self.w // 4 + 1)
        self.dither = np.tile(_BAYER, reps)[: self.h, : self.w].astype(np.float32)
        self._buf = np.empty((self.h, self.w), dtype=np.float32)

    @abstractmethod
    def field(self, i: int) -> np.ndarray:
        """The scalar field of frame ``i``, (h, w) float32, roughly 0..1 (clipped)."""

    def flash(self, i: int) -> float:
        """How strongly frame ``i``'s colours are pushed towards white (beats, entry)."""
        d = self.ctx.drive
        return 0.25 * float(d.pulse[i]) + 0.55 * float(d.entry[i])

    def frame(self, i: int) -> np.ndarray:
        d = self.ctx.drive
        f = self.field(i)
        buf = self._buf
        np.multiply(f, 255.0, out=buf)
        buf += self.dither
        np.clip(buf, 0.0, 255.0, out=buf)
        idx = buf.astype(np.uint8)
        lut = grade(
            self.base_lut,
            self.ctx.pal,
            energy=float(d.energy[i]),
            flash=self.flash(i),
            tint=float(d.down[i]),
        )
        im = Image.frombuffer("P", (self.w, self.h), idx, "raw", "P", 0, 1)
        im.putpalette(lut.tobytes())
        return np.asarray(im.convert("RGB"))


def smooth_curves(rng: np.random.Generator, count: int, terms: int = 3) -> np.ndarray:
    """Random (count, terms, 3) frequency / phase / weight sets for `eval_curves`."""
    freq = rng.uniform(0.15, 1.1, (count, terms)).astype(np.float32)
    phase = rng.uniform(0, 2 * np.pi, (count, terms)).astype(np.float32)
    weight = rng.uniform(0.5, 1.0, (count, terms)).astype(np.float32)
    weight /= weight.sum(axis=1, keepdims=True)
    return np.stack([freq, phase, weight], axis=-1)


def eval_curves(curves: np.ndarray, t: float) -> np.ndarray:
    """Smooth pseudo-random signals in -1..1 at time ``t``, one per curve."""
    f, p, w = curves[..., 0], curves[..., 1], curves[..., 2]
    return (np.sin(f * (2 * np.pi) * t + p) * w).sum(axis=1)
