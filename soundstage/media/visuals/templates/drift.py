"""drift: a slow camera move (pan and zoom) across a procedural cover painting.

The painting comes from `soundstage.media.art.render_cover` (the clip's prompt, mood,
seed and section label: one painting per section), painted once at 1.5x the drawing
size. Every frame is a bilinear crop of
it (PIL, sub-pixel exact, so slow moves never stutter): the camera travels along a
seeded path at a speed set by the energy, punches in on beats and on the clip's
entry, and the colours flash towards light through a per-channel lookup table.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from soundstage.media.art import CoverStyle, render_cover
from soundstage.media.art.palette import stable_seed
from soundstage.media.visuals.colour import WHITE, art_mood
from soundstage.media.visuals.templates.base import Ctx, Template

OVERSCAN = 1.5


class Drift(Template):
    name = "drift"
    description = (
        "Slow camera moves — pan and zoom — over a procedural cover painting of the "
        "prompt and mood; beats punch the zoom in and flash the light."
    )
    max_pixels = 960 * 540

    def __init__(self, ctx: Ctx) -> None:
        super().__init__(ctx)
        spec, rng, d = ctx.spec, ctx.rng, ctx.drive
        mood, words = art_mood(spec.mood)
        # The painting: OVERSCAN x the frame (more for tiny frames: covers are >= 64 px).
        self.over = max(OVERSCAN, 64.0 / min(self.w, self.h))
        pw, ph = round(self.w * self.over), round(self.h * self.over)
        style = CoverStyle(mood=mood, energy=float(d.energy.mean()))
        prompt = f"{spec.prompt} {words}".strip()
        # One painting per section of the song (clips of a section share seed and label).
        art_seed = stable_seed("drift", spec.seed, spec.section_label) % (2**31)
        self.art = render_cover(prompt, art_seed, style, width=pw, height=ph)
        self.pw, self.ph = pw, ph
        # Camera path: zoom between 1.0 and 1.35 (of the painting's smallest crop),
        # panning along a seeded direction; `progress` runs 0..1 over the clip.
        self.zoom0, self.zoom1 = (1.0, 1.3) if rng.random() < 0.5 else (1.3, 1.0)
        ang = rng.uniform(0, 2 * np.pi)
        self.pan = np.array([np.cos(ang), np.sin(ang)], dtype=np.float64)
        phase = d.phase.astype(np.float64)
        span = max(float(phase[-1]), 1e-6)
        # Normalise by a typical clip's motion so a short clip moves slowly, not fully.
        self.progress = np.clip(phase / max(span, 6.0), 0.0, 1.0)
        self.accent = (ctx.pal[3] + ctx.pal[4]) * 0.25 + WHITE * 0.5
        self.ramp = np.arange(256, dtype=np.float32)

    def frame(self, i: int) -> np.ndarray:
        d = self.ctx.drive
        hit = min(1.3, float(d.pulse[i]) + float(d.entry[i]))
        s = float(self.progress[i])
        s = s * s * (3 - 2 * s)  # ease in and out
        zoom = (self.zoom0 + (self.zoom1 - self.zoom0) * s) * (1.0 + 0.07 * hit)
        # Crop size in painting pixels: the painting is `over` x the frame at zoom 1.
        cw, ch = self.pw / self.over / zoom, self.ph / self.over / zoom
        room_x, room_y = (self.pw - cw) / 2, (self.ph - ch) / 2
        cx = self.pw / 2 + self.pan[0] * room_x * 0.9 * (s - 0.5) * 2
        cy = self.ph / 2 + self.pan[1] * room_y * 0.9 * (s - 0.5) * 2
        box = (cx - cw / 2, cy - ch / 2, cx + cw / 2, cy + ch / 2)
        im = self.art.resize((self.w, self.h), Image.Resampling.BILINEAR, box=box)
        flash = min(0.65, 0.28 * float(d.pulse[i]) + 0.55 * float(d.entry[i]))
        gain = 0.9 + 0.2 * float(d.energy[i])
        tint = min(0.4, 0.3 * float(d.down[i]))
        if flash > 0.003 or tint > 0.003 or abs(gain - 1.0) > 0.003:
            tables = []
            for c in range(3):
                v = self.ramp * gain
                v += (self.ctx.pal[4][c] * 255.0 - v) * tint
                v += (self.accent[c] * 255.0 - v) * flash
                tables.append(np.clip(v + 0.5, 0, 255).astype(np.uint8))
            im = im.point(np.concatenate(tables).tolist())
        return np.asarray(im)
