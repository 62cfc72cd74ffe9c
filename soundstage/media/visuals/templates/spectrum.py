"""spectrum: equaliser bars over a reflecting horizon and a ring that pulses on the beat.

ClipSpec carries the song's energy per frame, not a spectrum, so the bars are a
stylised one: each bar follows the energy, shaped by a bass-heavy profile and its own
smooth random wobble, kicks up on beats (bass bars most) and falls back slowly, with
peak caps that hang and drop. Bars are coloured by height through the mood ramp.
"""

from __future__ import annotations

import numpy as np

from soundstage.media.visuals.templates.base import Ctx, RampTemplate, eval_curves, smooth_curves


class Spectrum(RampTemplate):
    name = "spectrum"
    description = (
        "Equaliser bars mirrored in a reflecting horizon, under a ring; bars follow the "
        "energy curve and jump on beats, the ring pulses with every beat."
    )
    max_pixels = 800 * 450

    def __init__(self, ctx: Ctx) -> None:
        super().__init__(ctx)
        rng, d = ctx.rng, ctx.drive
        ax = float(self.x[0, -1])
        ay = float(self.y[-1, 0])
        self.nb = nb = int(np.clip(round(ax * 22), 16, 64))
        self.h_max = 0.78 * min(1.0, ay)
        horizon = 0.42 * ay
        # Columns: which bar, and how much of the bar covers the column (soft gaps).
        pos = (self.x[0] + ax) / (2 * ax) * nb
        self.col_bar = np.clip(pos.astype(np.int64), 0, nb - 1)
        frac = pos - np.floor(pos)
        edge = 0.5 / max(1.0, self.w / nb)  # half a pixel, in bar widths
        self.fill = np.clip((0.36 - np.abs(frac - 0.5)) / (2 * edge) + 0.5, 0, 1).astype(
            np.float32
        )[None, :]
        # Rows: distance above the horizon (reflection rows: squashed, dimmer).
        up = horizon - self.y[:, 0]
        self.dist = np.where(up >= 0, up, -up / 0.45).astype(np.float32)[:, None]
        fade = np.clip(1.0 + up / (0.45 * self.h_max), 0.0, 1.0)
        self.row_w = np.where(up >= 0, 1.0, 0.4 * fade).astype(np.float32)[:, None]
        self.row_val = (0.42 + 0.56 * np.clip(self.dist / self.h_max, 0, 1)).astype(np.float32)
        self.sharp = np.float32(self.h / 2.0 / 1.0)  # 1-pixel soft edge (units → px)
        self.heights, self.peaks = self._levels(rng, d)
        # Ring above the horizon.
        cy = -0.38 * min(1.0, ay)
        self.ring_r = np.sqrt(self.x**2 + (self.y - cy) ** 2).astype(np.float32)
        self.ring_base = 0.36
        self.halo = (np.exp(-((self.ring_r / 0.55) ** 2)) * (up > 0)[:, None]).astype(np.float32)
        sky = np.clip(up / max(ay, 1e-3), -1, 1)[:, None]
        self.bg = (0.08 + 0.1 * (1 - np.abs(sky)) + 0.0 * self.x).astype(np.float32)

    def _levels(self, rng: np.random.Generator, d) -> tuple[np.ndarray, np.ndarray]:
        nb, n = self.nb, d.n_frames
        centre = (nb - 1) / 2.0
        dist = np.abs(np.arange(nb) - centre) / max(centre, 1.0)
        profile = (1.0 - 0.55 * dist) * rng.uniform(0.8, 1.1, nb)  # bass in the middle
        kick = (1.0 - 0.7 * dist) * rng.uniform(0.7, 1.0, nb)
        curves = smooth_curves(rng, nb, 3)
        heights = np.empty((n, nb), dtype=np.float32)
        peaks = np.empty((n, nb), dtype=np.float32)
        level = np.zeros(nb, dtype=np.float32)
        peak = np.zeros(nb, dtype=np.float32)
        t0 = float(rng.uniform(0, 100))
        for i in range(n):
            e = float(d.energy[i])
            wob = eval_curves(curves, t0 + float(d.phase[i]) * 1.7)
            raw = (0.12 + 0.7 * e) * profile * (0.6 + 0.4 * wob)
            raw = raw + 0.45 * float(d.pulse[i]) * kick + 0.3 * float(d.entry[i])
            raw = np.clip(raw, 0.02, 1.0)
            level = np.maximum(raw, level * 0.86).astype(np.float32)  # fast attack, slow fall
            peak = np.maximum(level, peak - 0.012).astype(np.float32)
            heights[i], peaks[i] = level, peak
        return heights * self.h_max, peaks * self.h_max

    def field(self, i: int) -> np.ndarray:
        d = self.ctx.drive
        hit = min(1.3, float(d.pulse[i]) + float(d.entry[i]))
        hc = self.heights[i][self.col_bar][None, :]
        pc = self.peaks[i][self.col_bar][None, :] + np.float32(0.02)
        # Bars: covered where the row is below the column's height.
        inside = hc - self.dist
        inside *= self.sharp
        np.clip(inside, 0.0, 1.0, out=inside)
        inside *= self.fill
        inside *= self.row_w
        # Peak caps: a thin line at the peak height.
        cap = np.abs(self.dist - pc)
        cap *= -self.sharp / 1.5
        cap += np.float32(1.0)
        np.clip(cap, 0.0, 1.0, out=cap)
        cap *= self.fill
        cap *= self.row_w
        # Ring and halo.
        radius = self.ring_base * (1.0 + 0.22 * hit + 0.08 * float(d.energy[i]))
        ring = np.abs(self.ring_r - np.float32(radius))
        ring *= -self.sharp / (2.0 + 4.0 * hit)
        ring += np.float32(1.0)
        np.clip(ring, 0.0, 1.0, out=ring)
        out = self.halo * np.float32(0.12 + 0.35 * hit)
        out += self.bg
        out += ring * np.float32(0.55 + 0.3 * hit)
        # Bars over everything, coloured by height.
        val = self.row_val - out
        val *= inside
        out += val
        out += cap * np.float32(0.9)
        return out
