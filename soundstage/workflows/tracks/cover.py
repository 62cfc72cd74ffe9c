"""Square cover art from a series style: palette + geometry + motif + a seed → pixels.

Pure (no database, no settings): the same inputs give the same pixels and, saved
as PNG, the same bytes. Colours are built in OKLCh (perceptually even lightness
and chroma) from the palette's hues; a linear gradient at `gradient_angle` is the
ground; the motif's shapes are drawn at twice the size and scaled down, which
anti-aliases them; the art engine's vignette and film grain finish the image.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from soundstage.media.art.finish import grain, vignette
from soundstage.media.art.layers import smoothstep
from soundstage.media.art.palette import oklab_to_srgb, stable_seed

SUPERSAMPLE = 2
MAX_CHROMA = 0.17  # OKLCh chroma at saturation 1 (most hues stay inside sRGB)
RGBA = tuple[int, int, int, int]


def oklch_rgb(lightness: float, chroma: float, hue_deg: float) -> np.ndarray:
    """One sRGB colour (3,) in 0..1 from OKLCh."""
    h = math.radians(hue_deg)
    lab = np.array([lightness, chroma * math.cos(h), chroma * math.sin(h)])
    return oklab_to_srgb(lab).astype(np.float32)


class Colours:
    """The cover's colours from a palette: ground, ink per hue, and an accent."""

    def __init__(self, palette: dict[str, Any]) -> None:
        hues = [float(h) for h in palette["hues"]] or [210.0]
        lum = float(palette["luminance"])
        chroma = MAX_CHROMA * float(palette["saturation"])
        self.hues = hues
        self.dark = oklch_rgb(0.12 + 0.35 * lum, chroma * 0.7, hues[0])
        self.light = oklch_rgb(0.2 + 0.55 * lum, chroma, hues[1 % len(hues)])
        self.inks = [oklch_rgb(min(0.97, 0.45 + 0.5 * lum), chroma, h) for h in hues]
        self.accent = oklch_rgb(min(0.98, 0.6 + 0.4 * lum), chroma * 1.1, hues[-1])

    def ink(self, index: int, alpha: float = 1.0) -> RGBA:
        return _rgba(self.inks[index % len(self.inks)], alpha)

    def accent_rgba(self, alpha: float = 1.0) -> RGBA:
        return _rgba(self.accent, alpha)


def _rgba(colour: np.ndarray, alpha: float) -> RGBA:
    r, g, b = (round(float(c) * 255) for c in np.clip(colour, 0, 1))
    return r, g, b, round(255 * min(1.0, max(0.0, alpha)))


def gradient(size: int, colours: Colours, angle_deg: float) -> np.ndarray:
    """The ground: dark to light along `angle_deg` (0 = left to right), float (H, W, 3)."""
    a = math.radians(angle_deg)
    axis = (np.arange(size, dtype=np.float32) + 0.5) / size - 0.5
    t = math.cos(a) * axis[None, :] + math.sin(a) * axis[:, None]
    t = smoothstep(-0.72, 0.72, t)[..., None]
    return colours.dark * (1 - t) + colours.light * t


class Canvas:
    """A supersampled RGBA layer the motifs draw on, in cover coordinates (0..size)."""

    def __init__(self, size: int, rotation_deg: float) -> None:
        self.size = size
        self.scale = SUPERSAMPLE
        self.image = Image.new("RGBA", (size * SUPERSAMPLE, size * SUPERSAMPLE), (0, 0, 0, 0))
        self.draw = ImageDraw.Draw(self.image)
        self.rotation = math.radians(rotation_deg)

    def point(self, x: float, y: float, *, rotate: bool = True) -> tuple[float, float]:
        """Cover coordinates → supersampled pixels, turned by the rotation about the centre."""
        c = self.size / 2
        if rotate:
            dx, dy = x - c, y - c
            cos, sin = math.cos(self.rotation), math.sin(self.rotation)
            x, y = c + dx * cos - dy * sin, c + dx * sin + dy * cos
        return x * self.scale, y * self.scale

    def line(self, points: Sequence[tuple[float, float]], fill: RGBA, width: float) -> None:
        pts = [self.point(x, y) for x, y in points]
        self.draw.line(pts, fill=fill, width=max(1, round(width * self.scale)), joint="curve")

    def polygon(self, points: Sequence[tuple[float, float]], fill: RGBA, outline: RGBA,
                width: float) -> None:  # fmt: skip
        pts = [self.point(x, y) for x, y in points]
        self.draw.polygon(pts, fill=fill, outline=outline, width=max(1, round(width * self.scale)))

    def disc(self, x: float, y: float, radius: float, fill: RGBA) -> None:
        px, py = self.point(x, y)
        r = radius * self.scale
        self.draw.ellipse((px - r, py - r, px + r, py + r), fill=fill)

    def arc(self, x: float, y: float, radius: float, start: float, end: float, fill: RGBA,
            width: float) -> None:  # fmt: skip
        px, py = self.point(x, y)  # the centre turns with the figure, the arcs by the same angle
        r = radius * self.scale
        turn = math.degrees(self.rotation)
        self.draw.arc((px - r, py - r, px + r, py + r), start + turn, end + turn, fill=fill,
                      width=max(1, round(width * self.scale)))  # fmt: skip

    def flatten(self) -> Image.Image:
        return self.image.resize((self.size, self.size), Image.Resampling.LANCZOS)


MotifFn = Callable[[Canvas, Colours, dict[str, Any], np.random.Generator], None]


def _orbits(cv: Canvas, col: Colours, geo: dict[str, Any], rng: np.random.Generator) -> None:
    s, n, width = cv.size, int(geo["shape_count"]), float(geo["stroke_width"])
    cx, cy = s * rng.uniform(0.4, 0.6), s * rng.uniform(0.4, 0.6)
    cv.disc(cx, cy, s * 0.09, col.accent_rgba(0.25))
    cv.disc(cx, cy, s * 0.05, col.accent_rgba(0.85))
    for i in range(n):
        radius = s * (0.1 + 0.36 * (i + 1) / n)
        start = float(rng.uniform(0, 360))
        cv.arc(cx, cy, radius, start, start + float(rng.uniform(60, 300)),
               col.ink(i, 0.85), width * float(rng.uniform(0.6, 1.4)))  # fmt: skip


def _waves(cv: Canvas, col: Colours, geo: dict[str, Any], rng: np.random.Generator) -> None:
    s, n, width = cv.size, int(geo["shape_count"]), float(geo["stroke_width"])
    xs = np.linspace(-0.2 * s, 1.2 * s, 160)
    for i in range(n):
        base = s * (0.1 + 0.8 * (i + 0.5) / n)
        amp = s * float(rng.uniform(0.02, 0.09))
        freq = float(rng.uniform(1.0, 3.5)) * 2 * math.pi / s
        phase = float(rng.uniform(0, 2 * math.pi))
        ys = base + amp * np.sin(freq * xs + phase)
        cv.line(list(zip(xs.tolist(), ys.tolist(), strict=True)), col.ink(i, 0.8), width)


def _prism(cv: Canvas, col: Colours, geo: dict[str, Any], rng: np.random.Generator) -> None:
    s, n, width = cv.size, int(geo["shape_count"]), float(geo["stroke_width"])
    golden = math.pi * (3 - math.sqrt(5))
    for i in range(n):
        sides = int(rng.integers(3, 7))
        cx, cy = s * rng.uniform(0.15, 0.85), s * rng.uniform(0.15, 0.85)
        radius = s * float(rng.uniform(0.08, 0.3))
        turn = i * golden
        pts = [(cx + radius * math.cos(turn + 2 * math.pi * k / sides),
                cy + radius * math.sin(turn + 2 * math.pi * k / sides)) for k in range(sides)]  # fmt: skip
        cv.polygon(pts, col.ink(i, 0.22), col.ink(i + 1, 0.9), width * 0.6)


def _weave(cv: Canvas, col: Colours, geo: dict[str, Any], rng: np.random.Generator) -> None:
    s, n, width = cv.size, int(geo["shape_count"]), float(geo["stroke_width"])
    cross = math.radians(float(rng.uniform(50, 90)))
    for family, angle in enumerate((0.0, cross)):
        dx, dy = math.cos(angle), math.sin(angle)
        for i in range(n):
            offset = s * (-0.2 + 1.4 * (i + 0.5) / n) - s / 2
            cx, cy = s / 2 - dy * offset, s / 2 + dx * offset
            ends = [(cx - dx * s, cy - dy * s), (cx + dx * s, cy + dy * s)]
            cv.line(ends, col.ink(i + family, 0.55 + 0.35 * family), width)


def _constellation(cv: Canvas, col: Colours, geo: dict[str, Any], rng: np.random.Generator) -> None:
    s, n, width = cv.size, max(3, int(geo["shape_count"])), float(geo["stroke_width"])
    angles = rng.uniform(0, 2 * math.pi, n)
    radii = s * 0.42 * np.sqrt(rng.uniform(0.02, 1.0, n))
    stars = [(s / 2 + r * math.cos(a), s / 2 + r * math.sin(a)) for a, r in zip(angles, radii, strict=True)]  # fmt: skip
    for i in range(1, n):  # join each star to its nearest earlier one: a tree, no crossings soup
        x, y = stars[i]
        j = min(range(i), key=lambda k: (stars[k][0] - x) ** 2 + (stars[k][1] - y) ** 2)
        cv.line([stars[j], stars[i]], col.ink(i, 0.6), max(0.5, width * 0.4))
    for i, (x, y) in enumerate(stars):
        glow = s * float(rng.uniform(0.01, 0.025))
        cv.disc(x, y, glow * 2.2, col.accent_rgba(0.15))
        cv.disc(x, y, glow, col.ink(i, 1.0) if i % 3 else col.accent_rgba(1.0))


MOTIF_PAINTERS: dict[str, MotifFn] = {
    "orbits": _orbits,
    "waves": _waves,
    "prism": _prism,
    "weave": _weave,
    "constellation": _constellation,
}


def render_cover(
    palette: dict[str, Any],
    geometry: dict[str, Any],
    motif: str,
    seed: int,
    size: int = 1024,
) -> Image.Image:
    """Paint a square RGB cover. Same palette, geometry, motif, seed and size → same pixels."""
    if size < 64:
        raise ValueError("cover must be at least 64 pixels square")
    if motif not in MOTIF_PAINTERS:
        raise ValueError(f"unknown motif {motif!r}; known: {', '.join(MOTIF_PAINTERS)}")
    rng = np.random.default_rng(stable_seed("series-cover", motif, seed))
    colours = Colours(palette)
    ground = gradient(size, colours, float(geometry["gradient_angle"]))
    canvas = Canvas(size, float(geometry["rotation"]))
    MOTIF_PAINTERS[motif](canvas, colours, _scaled(geometry, size), rng)
    layer = np.asarray(canvas.flatten(), dtype=np.float32) / 255.0
    alpha = layer[..., 3:4]
    image = ground * (1 - alpha) + layer[..., :3] * alpha
    vignette(image, 0.32)
    grain(image, rng, 0.006)
    return Image.fromarray((np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8), "RGB")


def _scaled(geometry: dict[str, Any], size: int) -> dict[str, Any]:
    """Stroke widths are given for a 1024 px cover; other sizes scale them."""
    return {**geometry, "stroke_width": float(geometry["stroke_width"]) * size / 1024}
