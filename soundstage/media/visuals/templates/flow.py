"""flow: liquid colour — bands of the mood ramp flowing through a domain-warped noise field."""

from __future__ import annotations

import numpy as np

from soundstage.media.art.noise import fbm
from soundstage.media.visuals.templates.base import Ctx, RampTemplate


class Flow(RampTemplate):
    name = "flow"
    description = (
        "Liquid colour: marbled bands flowing through a warped noise field; "
        "the energy sets the current, beats swell and brighten it."
    )
    max_pixels = 640 * 360

    def __init__(self, ctx: Ctx) -> None:
        super().__init__(ctx)
        rng = ctx.rng
        # Two static fBm fields cross-faded over time: the warp itself slowly morphs.
        self.n1 = fbm(rng, self.w, self.h, cells=1.6, octaves=3, gain=0.45) * 2.2
        self.n2 = fbm(rng, self.w, self.h, cells=2.0, octaves=3, gain=0.45) * 2.2
        a1, a2 = rng.uniform(0, 2 * np.pi, 2)
        self.k1 = np.float32(rng.uniform(1.6, 2.6))
        self.k2 = np.float32(rng.uniform(2.4, 3.6))
        self.d1 = (np.float32(np.cos(a1)), np.float32(np.sin(a1)))
        self.d2 = (np.float32(np.cos(a2)), np.float32(np.sin(a2)))
        self.t0 = float(rng.uniform(0, 100))
        self.bias = float(rng.uniform(-0.05, 0.05))
        self._a = np.empty((self.h, self.w), dtype=np.float32)
        self._b = np.empty((self.h, self.w), dtype=np.float32)

    def field(self, i: int) -> np.ndarray:
        d = self.ctx.drive
        t = self.t0 + float(d.phase[i]) * 0.9
        hit = float(d.pulse[i]) + float(d.entry[i])
        z = np.float32(1.0 - 0.1 * min(hit, 1.2))  # zoom punch: the pattern swells
        x, y = self.x * z, self.y * z
        a, b = self._a, self._b
        # Morphing warp field.
        s = t * 0.13
        np.multiply(self.n1, np.float32(np.cos(s)), out=a)
        a += self.n2 * np.float32(np.sin(s))
        # Layer 1: bands along d1, bent by the warp and a slow separable swirl.
        sw_y = np.sin(y * 1.7 + np.float32(t * 0.31)) * np.float32(0.7)
        sw_x = np.sin(x * 1.3 - np.float32(t * 0.23)) * np.float32(0.7)
        lin = (x * self.d1[0] + sw_y) * self.k1 + (y * self.d1[1] + sw_x) * self.k1
        np.add(a, lin, out=b)
        b += np.float32(t * 0.8)
        np.sin(b, out=b)
        # Layer 2: finer bands along d2 through the same warp, moving the other way.
        lin2 = x * (self.d2[0] * self.k2) + y * (self.d2[1] * self.k2)
        a *= np.float32(0.8)
        a += lin2
        a -= np.float32(t * 0.55)
        np.sin(a, out=a)
        # Mix: soft ramp position, with the layers' product adding bright crests.
        b *= np.float32(0.36)
        a *= np.float32(0.12)
        b += a
        b += np.float32(0.5 + self.bias + 0.12 * min(hit, 1.2))
        return b
