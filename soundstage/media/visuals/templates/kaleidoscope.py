"""kaleidoscope: a pattern folded into n mirror-symmetric wedges that turns and breathes."""

from __future__ import annotations

import numpy as np

from soundstage.media.visuals.templates.base import Ctx, RampTemplate


class Kaleidoscope(RampTemplate):
    name = "kaleidoscope"
    description = (
        "Geometric symmetry: interference patterns folded into 6-12 mirrored wedges, "
        "turning with the energy; beats punch the zoom and kick the rotation."
    )
    max_pixels = 640 * 360

    def __init__(self, ctx: Ctx) -> None:
        super().__init__(ctx)
        rng = ctx.rng
        mean_e = float(ctx.drive.energy.mean())
        self.n = int(rng.choice([6, 8, 10, 12] if mean_e > 0.5 else [5, 6, 8]))
        self.wedge = np.float32(2 * np.pi / self.n)
        self.r = np.sqrt(self.x * self.x + self.y * self.y).astype(np.float32)
        self.theta = np.arctan2(self.y, self.x).astype(np.float32)
        self.k = np.array(
            [rng.uniform(4, 7), rng.uniform(4, 7), rng.uniform(3, 5.5), rng.uniform(2, 4)],
            dtype=np.float32,
        )
        self.spin = float(rng.choice([-1.0, 1.0])) * float(rng.uniform(0.12, 0.22))
        self.t0 = float(rng.uniform(0, 100))
        # Beat kicks add up: each beat turns the figure a little further.
        kicks = np.where(np.diff(np.concatenate([[0], ctx.drive.beat_count])) > 0, 1.0, 0.0)
        target = np.cumsum(kicks) * (np.pi / self.n / 3)
        # Settle each kick over a few frames so a beat reads as a snap, not a jump cut.
        self.kick = np.zeros(len(target), dtype=np.float32)
        for i in range(1, len(target)):
            self.kick[i] = self.kick[i - 1] + (target[i] - self.kick[i - 1]) * 0.55
        self.vignette = (1.0 - 0.35 * np.clip(self.r / 1.9, 0, 1) ** 2).astype(np.float32)
        shape = (self.h, self.w)
        self._f = np.empty(shape, dtype=np.float32)
        self._u = np.empty(shape, dtype=np.float32)
        self._v = np.empty(shape, dtype=np.float32)

    def field(self, i: int) -> np.ndarray:
        d = self.ctx.drive
        t = self.t0 + float(d.phase[i])
        hit = min(1.2, float(d.pulse[i]) + float(d.entry[i]))
        rot = np.float32(self.spin * t + float(self.kick[i]))
        zoom = np.float32((1.0 + 0.25 * np.sin(t * 0.21)) * (1.0 - 0.14 * hit))
        f, u, v = self._f, self._u, self._v
        # Fold the angle into one mirrored wedge: |frac(a / wedge) - 0.5| * wedge.
        np.add(self.theta, rot, out=f)
        f /= self.wedge
        np.floor(f, out=u)
        f -= u
        f -= np.float32(0.5)
        np.abs(f, out=f)
        f *= self.wedge
        # Cartesian coordinates inside the wedge.
        rz = self.r * zoom
        np.cos(f, out=u)
        u *= rz
        np.sin(f, out=v)
        v *= rz
        k = self.k
        a = np.sin(u * k[0] + np.float32(t * 0.9))
        a *= np.cos(v * k[1] - np.float32(t * 0.6))
        # Crisp ridge lines: 1 - |sin|, sharpened to the 4th power.
        b = np.sin((u + v) * k[2] + np.sin(rz * k[3] - np.float32(t * 1.3)) * np.float32(1.5))
        np.abs(b, out=b)
        np.subtract(np.float32(1.0), b, out=b)
        b *= b
        b *= b
        rings = np.cos(rz * np.float32(6.0) - np.float32(t * 2.0))
        out = a
        out *= np.float32(0.24)
        out += b * np.float32(0.38)
        out += rings * np.float32(0.08)
        out += np.float32(0.36 + 0.1 * hit)
        out *= self.vignette
        return out
