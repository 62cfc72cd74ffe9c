"""particles: motes of light drifting on a swirling current, bursting outwards on beats.

Particle paths are simulated once per clip (positions for every frame, a few hundred
particles). Each frame splats them with bilinear weights into two small grids —
soft out-of-focus glows at 1/4 of the drawing size, brighter cores at 1/2 — blurs
those tiny grids and scales them up: the cost hardly depends on the particle count.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

from soundstage.media.visuals.templates.base import Ctx, RampTemplate


def _splat(grid_w: int, grid_h: int, px: np.ndarray, py: np.ndarray, wgt: np.ndarray) -> np.ndarray:
    """Add weights at fractional grid positions (bilinear), (grid_h, grid_w) float32."""
    x0 = np.floor(px)
    y0 = np.floor(py)
    fx, fy = px - x0, py - y0
    x0 = x0.astype(np.int64)
    y0 = y0.astype(np.int64)
    acc = np.zeros(grid_h * grid_w, dtype=np.float64)
    for dx, dy, w in (
        (0, 0, (1 - fx) * (1 - fy)),
        (1, 0, fx * (1 - fy)),
        (0, 1, (1 - fx) * fy),
        (1, 1, fx * fy),
    ):
        xi, yi = x0 + dx, y0 + dy
        ok = (xi >= 0) & (xi < grid_w) & (yi >= 0) & (yi < grid_h)
        acc += np.bincount(
            (yi[ok] * grid_w + xi[ok]), weights=(w * wgt)[ok], minlength=grid_h * grid_w
        )
    return acc.reshape(grid_h, grid_w).astype(np.float32)


def _up(field: np.ndarray, width: int, height: int) -> np.ndarray:
    img = Image.fromarray(field, mode="F").resize((width, height), Image.Resampling.BILINEAR)
    return np.array(img, dtype=np.float32)


class Particles(RampTemplate):
    name = "particles"
    description = (
        "Drifting motes of light on a swirling current at three depths; the energy sets "
        "their speed, beats burst them outwards and make them flare."
    )
    max_pixels = 640 * 360

    def __init__(self, ctx: Ctx) -> None:
        super().__init__(ctx)
        rng, d = ctx.rng, ctx.drive
        self.ax = float(self.x[0, -1]) + 0.1  # half extents in units, with a margin
        self.ay = float(self.y[-1, 0]) + 0.1
        n = 420
        self.depth = rng.uniform(0.25, 1.0, n).astype(np.float32)  # 1 = near
        self.big = self.depth > 0.72  # near motes are large, soft glows
        self.bright = (rng.uniform(0.4, 1.0, n) * (0.35 + 0.65 * self.depth)).astype(np.float32)
        self.twinkle = rng.uniform(0, 2 * np.pi, n).astype(np.float32)
        self.pos = self._simulate(rng, n, d)
        self.bg = self._background(rng)
        self.gw, self.gh = max(8, self.w // 4), max(8, self.h // 4)
        self.cw, self.ch = max(8, self.w // 2), max(8, self.h // 2)

    def _simulate(self, rng: np.random.Generator, n: int, d) -> np.ndarray:
        p = np.stack(
            [rng.uniform(-self.ax, self.ax, n), rng.uniform(-self.ay, self.ay, n)], axis=-1
        ).astype(np.float32)
        k = rng.uniform(0.8, 1.8, 4).astype(np.float32)
        out = np.empty((d.n_frames, n, 2), dtype=np.float32)
        vel = np.zeros((n, 2), dtype=np.float32)
        t0 = float(rng.uniform(0, 50))
        dt = 1.0 / d.fps
        burst_prev = 0.0
        for i in range(d.n_frames):
            out[i] = p
            t = t0 + float(d.phase[i])
            x, y = p[:, 0], p[:, 1]
            # A divergence-free swirl (curl of a sum of sines) plus a slow drift upwards.
            flow_x = np.cos(y * k[0] + t * 0.5) * k[0] + np.cos((x + y) * k[2] - t * 0.3) * k[2]
            flow_y = -np.cos(x * k[1] - t * 0.4) * k[1] - np.cos((x + y) * k[2] - t * 0.3) * k[2]
            speed = 0.035 + 0.11 * float(d.energy[i])
            target = np.stack([flow_x, flow_y - 0.8], axis=-1) * (speed * self.depth[:, None])
            # Beat: an outward impulse when the pulse rises.
            rise = max(0.0, float(d.pulse[i] + d.entry[i]) - burst_prev)
            burst_prev = float(d.pulse[i] + d.entry[i])
            if rise > 0:
                r = np.sqrt(x * x + y * y)[:, None] + 0.15
                vel += p / r * (rise * 1.1 * self.depth[:, None])
            vel *= 0.82  # the impulse fades within a few frames
            p = p + (target + vel) * dt * 1.0
            # Wrap around the frame edges.
            p[:, 0] = (p[:, 0] + self.ax) % (2 * self.ax) - self.ax
            p[:, 1] = (p[:, 1] + self.ay) % (2 * self.ay) - self.ay
        return out

    def _background(self, rng: np.random.Generator) -> np.ndarray:
        cx, cy = rng.uniform(-0.6, 0.6), rng.uniform(-0.4, 0.4)
        r2 = (self.x - cx) ** 2 + (self.y - cy) ** 2
        return (0.05 + 0.22 * np.exp(-r2 / 1.4)).astype(np.float32)

    def _grid(self, gw: int, gh: int, pos: np.ndarray, sel: np.ndarray, wgt: np.ndarray):
        scale = gh * min(self.w, self.h) / 2.0 / self.h  # grid pixels per unit
        px = pos[sel, 0] * scale + gw / 2 - 0.5
        py = pos[sel, 1] * scale + gh / 2 - 0.5
        return _splat(gw, gh, px, py, wgt[sel])

    def field(self, i: int) -> np.ndarray:
        d = self.ctx.drive
        t = float(d.phase[i])
        hit = min(1.3, float(d.pulse[i]) + float(d.entry[i]))
        pos = self.pos[i]
        glow = self.bright * (0.75 + 0.25 * np.sin(self.twinkle + t * 2.0)) * (1.0 + 1.2 * hit)
        soft = self._grid(self.gw, self.gh, pos, self.big, glow)
        soft = ndimage.gaussian_filter(soft, 1.1, mode="constant", truncate=2.5)
        core = self._grid(self.cw, self.ch, pos, ~self.big, glow)
        core = ndimage.gaussian_filter(core, 0.7, mode="constant", truncate=2.5)
        out = _up(soft, self.w, self.h)
        out *= np.float32(2.0)
        out += _up(core, self.w, self.h) * np.float32(2.8)
        out += self.bg
        out += np.float32(0.06 * hit)
        return out
