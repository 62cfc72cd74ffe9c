"""Cover compositions. Each scene paints a full-resolution float RGB canvas.

Smooth light (sky gradients, glows, clouds, nebulae, aurora curtains) is
painted on a quarter-resolution "atmosphere" and upscaled; crisp shapes
(sun, planet, rings, ridgelines, stars) are drawn at full resolution.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

from soundstage.media.art import layers as L
from soundstage.media.art.noise import fbm, fbm_1d, resize_field, warped_fbm
from soundstage.media.art.palette import CoverStyle

WHITE = np.ones(3, dtype=np.float32)


@dataclass
class Ctx:
    """What every scene needs: canvas size, palette (5, 3) in 0..1, style and a seeded RNG."""

    rng: np.random.Generator
    width: int
    height: int
    pal: np.ndarray
    style: CoverStyle

    @property
    def unit(self) -> float:
        """The short side in pixels: sizes scale with it so portrait covers work too."""
        return float(min(self.width, self.height))

    @property
    def low(self) -> tuple[int, int]:
        return max(64, self.width // 4), max(64, self.height // 4)

    @property
    def energy(self) -> float:
        return min(1.0, max(0.0, self.style.energy))

    def to_low(self, x: float, y: float) -> tuple[float, float]:
        """Full-resolution pixel coordinates → atmosphere (low-resolution) coordinates."""
        lw, lh = self.low
        return x * lw / self.width, y * lh / self.height

    def u(self, lo: float, hi: float) -> float:
        return float(self.rng.uniform(lo, hi))

    def rows(self, n: int) -> np.ndarray:
        """Row centres (n, 1) as fractions of the height."""
        return ((np.arange(n, dtype=np.float32) + 0.5) / n)[:, None]


def _vertical(
    ctx: Ctx, colours: list[np.ndarray], curve: float = 1.0, end: float = 1.0
) -> np.ndarray:
    lw, lh = ctx.low
    t = np.broadcast_to(np.clip(ctx.rows(lh) / end, 0.0, 1.0) ** curve, (lh, lw))
    return L.ramp(np.array(colours), t)


def _diagonal(ctx: Ctx, colours: list[np.ndarray]) -> np.ndarray:
    lw, lh = ctx.low
    ang = ctx.u(0.0, 2 * np.pi)
    x = (np.arange(lw, dtype=np.float32)[None, :] + 0.5) / lh
    y = ctx.rows(lh)
    t = np.cos(ang) * x + np.sin(ang) * y
    t = (t - t.min()) / (t.max() - t.min())
    return L.ramp(np.array(colours), L.smoothstep(0.0, 1.0, t))


def _nebula(ctx: Ctx, img: np.ndarray, colours: list[np.ndarray], amount: float) -> None:
    """Flowing clouds of colour over a low-resolution canvas."""
    lh, lw = img.shape[:2]
    n = warped_fbm(ctx.rng, lw, lh, cells=ctx.u(1.6, 2.8), octaves=6, warp=ctx.u(0.05, 0.12))
    t = L.smoothstep(-1.5, 2.5, n)
    L.over(img, L.ramp(np.array(colours), t), L.smoothstep(-0.5, 2.5, n) * amount)


def _star_layer(ctx: Ctx, img: np.ndarray, max_y: float, density: float = 1.0) -> None:
    """Stars where the sky is dark enough to show them."""
    area = ctx.width * ctx.height / (1920 * 1080)
    count = int((120 + 500 * ctx.energy) * density * area * ctx.u(0.6, 1.4))
    field = L.stars(ctx.rng, ctx.width, ctx.height, count, max_y)
    dark = (1.0 - L.smoothstep(0.15, 0.6, L.luminance(img))) ** 2
    L.screen(img, L.mix(WHITE, ctx.pal[4], 0.25), field * dark * 0.9)


def _ridge(
    ctx: Ctx,
    img: np.ndarray,
    heights: np.ndarray,
    colour: np.ndarray,
    fog: np.ndarray,
    fog_amt: float,
) -> None:
    """A hill line filled with ``colour`` that fades into ``fog`` towards its foot."""
    top = max(0, int(heights.min()) - 2)
    sub = img[top:]
    mask = L.ridge_mask(ctx.height - top, heights - top, soft=1.1)
    y = np.arange(ctx.height - top, dtype=np.float32)[:, None]
    foot = ndimage.gaussian_filter1d(heights, ctx.width / 25, mode="nearest") - top
    depth = L.smoothstep(0.0, ctx.height * 0.16, y - foot[None, :]) * fog_amt
    fill = colour + (fog - colour) * depth[..., None]
    L.over(sub, fill, mask)


def horizon(ctx: Ctx) -> np.ndarray:
    """Layered hills under a glowing sky: sun or moon, streaked clouds, valley mist."""
    p, W, H, rng = ctx.pal, ctx.width, ctx.height, ctx.rng
    lw, lh = ctx.low
    hz = ctx.u(0.52, 0.66)
    sun = np.array([ctx.u(0.2, 0.8) * W, (hz - ctx.u(0.06, 0.22)) * H])
    sun_col = L.mix(p[4], WHITE, 0.3)
    sky = _vertical(
        ctx, [L.mix(p[0], p[1], 0.7), p[2], L.mix(p[3], p[4], 0.5)], ctx.u(0.8, 1.5), hz
    )
    sx, sy = ctx.to_low(sun[0], sun[1])
    L.glow(sky, sx, sy, lw * ctx.u(0.22, 0.4), p[4], 0.55)
    L.glow(sky, sx, sy, lw * 0.07, sun_col, 0.5)
    streak = resize_field(warped_fbm(rng, max(16, lw // 4), lh, cells=3.0, warp=0.1), lw, lh)
    above = 1.0 - L.smoothstep(hz - 0.12, hz, ctx.rows(lh))
    cloud_col = L.ramp(
        np.array([p[1], p[2], L.mix(p[3], p[4], 0.6)]), L.smoothstep(-1.5, 2.0, streak)
    )
    L.over(sky, cloud_col, L.smoothstep(0.1, 1.6, streak) * above * (0.2 + 0.3 * ctx.energy))
    img = L.upscale(sky, W, H)
    _star_layer(ctx, img, hz * H * 0.9, density=0.6)
    L.disc(img, sun[0], sun[1], ctx.unit * ctx.u(0.045, 0.09), sun_col, ctx.u(0.7, 0.95), soft=1.3)
    _ridges(ctx, img, hz)
    return img


def _ridges(ctx: Ctx, img: np.ndarray, hz: float) -> None:
    p, W, H = ctx.pal, ctx.width, ctx.height
    n = 3 + round(ctx.energy * 2) + int(ctx.rng.integers(0, 2))
    haze = L.mix(p[2], p[3], 0.6)
    fog = L.mix(haze, p[4], 0.25)
    for i in range(n):
        t = i / (n - 1)
        base = (hz + (0.95 - hz) * 0.8 * t**1.25) * H
        amp = H * (0.02 + 0.06 * (1 - 0.4 * t)) * ctx.u(0.6, 1.3)
        curve = fbm_1d(ctx.rng, W, cells=ctx.u(1.2, 2.6) * (1 + t), octaves=7)
        colour = L.mix(L.mix(haze, p[1], 0.25), p[0], t**0.85)
        _ridge(ctx, img, base - amp * curve, colour, fog, ctx.u(0.35, 0.6) * (1 - 0.7 * t))


def orb(ctx: Ctx) -> np.ndarray:
    """A shaded planet or moon with thin rings over a nebula and stars."""
    p, W, H = ctx.pal, ctx.width, ctx.height
    bg = _diagonal(ctx, [p[0], p[1], L.mix(p[1], p[2], 0.6)])
    _nebula(ctx, bg, [p[1], p[2], p[3]], 0.3 + 0.3 * ctx.energy)
    cx = W * float(ctx.rng.choice([0.33, 0.5, 0.67])) + ctx.u(-0.04, 0.04) * W
    cy = H * ctx.u(0.38, 0.56)
    r = ctx.unit * ctx.u(0.16, 0.28)
    gx, gy = ctx.to_low(cx, cy)
    L.glow(bg, gx, gy, r * ctx.low[0] / W * ctx.u(1.4, 2.2), p[4], 0.35)
    img = L.upscale(bg, W, H)
    _star_layer(ctx, img, H)
    _sphere(ctx, img, cx, cy, r)
    L.arc(img, cx, cy, r + 0.5, 2.0, L.mix(p[4], WHITE, 0.4), 0.35, ctx.u(0, 6.28), ctx.u(1.5, 3.5))
    for _ in range(int(ctx.rng.integers(1, 3 + round(4 * ctx.energy)))):
        rr = r * ctx.u(1.15, 2.3)
        col = L.mix(p[3], p[4], ctx.u(0, 1))
        L.arc(
            img,
            cx,
            cy,
            rr,
            ctx.unit * ctx.u(0.001, 0.0028),
            col,
            ctx.u(0.15, 0.5),
            ctx.u(0, 6.28),
            ctx.u(0.8, 6.3),
        )
    return img


def _sphere(ctx: Ctx, img: np.ndarray, cx: float, cy: float, r: float) -> None:
    p = ctx.pal
    reg = L.region(ctx.width, ctx.height, cx, cy, r + 3)
    nx, ny = (reg.x - cx) / r, (reg.y - cy) / r
    nz = np.sqrt(np.clip(1.0 - nx * nx - ny * ny, 0.0, 1.0))
    ang = ctx.u(0, 2 * np.pi)
    light = np.array([np.cos(ang), np.sin(ang), ctx.u(0.6, 1.2)])
    light /= np.linalg.norm(light)
    lam = np.clip(nx * light[0] + ny * light[1] + nz * light[2], 0.0, 1.0)
    h, w = lam.shape
    tex = resize_field(fbm(ctx.rng, max(8, w // 6), max(8, h // 6), cells=4.0), w, h)
    shade = np.clip(0.1 + 0.9 * lam**1.3 * (0.75 + 0.25 * nz) + tex * 0.03, 0.0, 1.0)
    dark = L.mix(p[0], p[1], 0.6)
    col = L.ramp(np.array([dark, p[1], p[2], p[3], L.mix(p[3], p[4], 0.4)]), shade)
    alpha = np.clip((r - r * np.sqrt(nx * nx + ny * ny)) / 1.2 + 0.5, 0.0, 1.0)
    L.over(img[reg.rows, reg.cols], col, alpha * ctx.u(0.88, 1.0))


def aurora(ctx: Ctx) -> np.ndarray:
    """Curtains of light over a night sky, above a dark, low horizon."""
    p, W, H, rng = ctx.pal, ctx.width, ctx.height, ctx.rng
    lw, lh = ctx.low
    sky = _vertical(ctx, [p[0], L.mix(p[0], p[1], 0.4), L.mix(p[0], p[1], 0.7)], ctx.u(1.0, 1.6))
    y = ctx.rows(lh)
    for _ in range(int(rng.integers(1, 3 + round(ctx.energy)))):
        base = ctx.u(0.3, 0.55) + fbm_1d(rng, lw, cells=ctx.u(1.5, 3.0)) * ctx.u(0.03, 0.08)
        tall = ctx.u(0.12, 0.3)
        dy = y - base[None, :]
        prof = np.where(dy < 0, np.exp(dy / tall), np.exp(-((dy / 0.03) ** 2)))
        along = L.smoothstep(-0.9, 1.2, fbm_1d(rng, lw, cells=ctx.u(1.5, 3.0)))
        rays = 0.6 + 0.4 * L.smoothstep(-1.5, 1.5, fbm_1d(rng, lw, cells=ctx.u(12, 24), octaves=3))
        col = L.ramp(np.array([p[4], p[3], p[2]]), np.clip(-dy / tall, 0.0, 1.0))
        L.screen(sky, col, prof * along * rays * ctx.u(0.55, 0.9))
    img = L.upscale(sky, W, H)
    _star_layer(ctx, img, H * 0.8)
    ground = ctx.u(0.8, 0.9)
    for i, t in enumerate((0.0, 1.0)):
        curve = fbm_1d(rng, W, cells=ctx.u(2.0, 5.0), octaves=7)
        heights = (ground + 0.05 * t) * H - H * ctx.u(0.015, 0.045) * curve
        _ridge(
            ctx,
            img,
            heights,
            L.mix(p[1], p[0], 0.6 + 0.4 * i),
            L.mix(p[1], p[2], 0.3),
            0.25 * (1 - t),
        )
    return img


def drift(ctx: Ctx) -> np.ndarray:
    """Soft geometry: overlapping discs of light, out-of-focus particles, a thin line or ring."""
    p, W, H, rng = ctx.pal, ctx.width, ctx.height, ctx.rng
    lw, lh = ctx.low
    bg = _diagonal(ctx, [p[0], p[1], p[2], L.mix(p[2], p[3], 0.5)])
    _nebula(ctx, bg, [p[1], p[2], p[3]], 0.25 + 0.2 * ctx.energy)
    for _ in range(int(rng.integers(1, 3))):
        L.glow(
            bg,
            ctx.u(0, lw),
            ctx.u(0, lh),
            lw * ctx.u(0.12, 0.3),
            L.mix(p[3], p[4], ctx.u(0, 1)),
            ctx.u(0.2, 0.4),
        )
    img = L.upscale(bg, W, H)
    if ctx.u(0, 1) < 0.35:
        _polygon(ctx, img)
    cx, cy = W * ctx.u(0.3, 0.7), H * ctx.u(0.38, 0.62)
    for _ in range(int(rng.integers(2, 5))):
        r = ctx.unit * ctx.u(0.12, 0.3)
        x, y = cx + ctx.u(-1.1, 1.1) * r, cy + ctx.u(-0.6, 0.6) * r
        _light_disc(
            img, x, y, r, L.mix(p[int(rng.integers(2, 5))], WHITE, ctx.u(0, 0.2)), ctx.u(0.1, 0.25)
        )
    count = int((6 + 30 * ctx.energy) * ctx.u(0.7, 1.3))
    for _ in range(count):
        r = ctx.unit * (0.006 + 0.05 * ctx.u(0, 1) ** 2.5)
        col = L.mix(p[int(rng.integers(3, 5))], WHITE, ctx.u(0, 0.4))
        L.disc(img, ctx.u(0, W), ctx.u(0, H), r, col, ctx.u(0.08, 0.35), soft=r * ctx.u(0.1, 0.7))
    if ctx.u(0, 1) < 0.5:
        L.arc(img, cx, cy, ctx.unit * ctx.u(0.3, 0.42), ctx.unit * 0.0016, p[4], ctx.u(0.25, 0.45))
    else:
        _hline(img, H * ctx.u(0.62, 0.75), L.mix(p[4], WHITE, 0.3), ctx.u(0.3, 0.55))
    return img


def _light_disc(
    img: np.ndarray, cx: float, cy: float, r: float, colour: np.ndarray, amount: float
) -> None:
    """A translucent disc of light: overlaps brighten like projected spots."""
    h, w = img.shape[:2]
    reg = L.region(w, h, cx, cy, r + 3)
    if reg.empty:
        return
    d = np.hypot(reg.x - cx, reg.y - cy)
    inside = np.clip((r - d) / 2.0 + 0.5, 0.0, 1.0) * (0.7 + 0.3 * d / r)
    L.screen(img[reg.rows, reg.cols], colour, inside * amount)


def _hline(img: np.ndarray, y: float, colour: np.ndarray, alpha: float) -> None:
    """A hairline across the frame that fades out towards both edges."""
    h, w = img.shape[:2]
    rows = slice(max(0, int(y) - 2), min(h, int(y) + 3))
    dy = np.abs(np.arange(rows.start, rows.stop, dtype=np.float32)[:, None] + 0.5 - y)
    x = (np.arange(w, dtype=np.float32)[None, :] + 0.5) / w
    fade = L.smoothstep(0.0, 0.3, x) * L.smoothstep(1.0, 0.7, x)
    L.over(img[rows], colour, np.clip(1.2 - dy, 0.0, 1.0) * fade * alpha)


def _polygon(ctx: Ctx, img: np.ndarray) -> None:
    """A large soft-edged translucent polygon (triangle to hexagon)."""
    W, H = ctx.width, ctx.height
    sides = int(ctx.rng.integers(3, 7))
    cx, cy, r = W * ctx.u(0.3, 0.7), H * ctx.u(0.35, 0.65), ctx.unit * ctx.u(0.25, 0.45)
    rot = ctx.u(0, 2 * np.pi)
    pts = [
        (cx + r * np.cos(rot + 2 * np.pi * k / sides), cy + r * np.sin(rot + 2 * np.pi * k / sides))
        for k in range(sides)
    ]
    mask = Image.new("L", (W // 2, H // 2), 0)
    ImageDraw.Draw(mask).polygon([(x / 2, y / 2) for x, y in pts], fill=255)
    alpha = resize_field(np.asarray(mask, dtype=np.float32) / 255.0, W, H)
    L.over(img, L.mix(ctx.pal[3], ctx.pal[4], 0.5), np.clip(alpha, 0, 1) * ctx.u(0.06, 0.16))


SCENES: dict[str, Callable[[Ctx], np.ndarray]] = {
    "horizon": horizon,
    "orb": orb,
    "aurora": aurora,
    "drift": drift,
}

# How likely each mood picks each scene (horizon, orb, aurora, drift).
MOOD_SCENES: dict[str, tuple[float, float, float, float]] = {
    "calm": (0.45, 0.2, 0.1, 0.25),
    "dreamy": (0.2, 0.3, 0.15, 0.35),
    "melancholic": (0.45, 0.25, 0.15, 0.15),
    "dark": (0.25, 0.4, 0.25, 0.1),
    "uplifting": (0.5, 0.15, 0.1, 0.25),
    "mysterious": (0.2, 0.4, 0.3, 0.1),
    "warm": (0.5, 0.2, 0.05, 0.25),
    "ethereal": (0.2, 0.3, 0.25, 0.25),
    "cold": (0.3, 0.25, 0.35, 0.1),
    "nostalgic": (0.5, 0.2, 0.05, 0.25),
    "meditative": (0.35, 0.4, 0.1, 0.15),
}

# Prompt words that ask for a particular scene.
SCENE_WORDS: dict[str, tuple[str, ...]] = {
    "horizon": (
        "mountain",
        "mountains",
        "hills",
        "valley",
        "landscape",
        "sunset",
        "sunrise",
        "dawn",
        "dusk",
    ),
    "orb": ("moon", "planet", "orbit", "space", "cosmic", "galaxy", "eclipse", "sun"),
    "aurora": ("aurora", "northern", "borealis", "polar", "arctic"),
    "drift": ("bokeh", "lights", "bubbles", "particles", "abstract", "geometry", "dream"),
}


def pick_scene(rng: np.random.Generator, prompt: str, mood: str) -> str:
    """Choose a scene: named by a prompt word if any, else by mood-weighted chance."""
    words = set(prompt.lower().split())
    names = list(SCENES)
    asked = [n for n in names if words & set(SCENE_WORDS[n])]
    weights = np.array(MOOD_SCENES.get(mood, MOOD_SCENES["calm"]), dtype=np.float64)
    if asked:
        weights = np.array([4.0 if n in asked else w for n, w in zip(names, weights, strict=True)])
    return names[int(rng.choice(len(names), p=weights / weights.sum()))]
