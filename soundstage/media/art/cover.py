"""Procedural cover art: prompt + seed + style → an ambient album cover."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from soundstage.media.art.finish import finish
from soundstage.media.art.palette import MOOD_COLOURS, CoverStyle, palette_for, stable_seed
from soundstage.media.art.scenes import SCENES, Ctx, pick_scene
from soundstage.media.art.title import draw_title


def render_cover(
    prompt: str,
    seed: int,
    style: CoverStyle = CoverStyle(),
    title: str | None = None,
    width: int = 1920,
    height: int = 1080,
) -> Image.Image:
    """Paint a cover (RGB) for ``prompt``; same inputs give the same pixels.

    The mood picks palette and likely scene, the prompt's colour and scene
    words steer both, and ``seed`` varies the composition.
    """
    if width < 64 or height < 64:
        raise ValueError("cover must be at least 64x64 pixels")
    mood = style.mood if style.mood in MOOD_COLOURS else "calm"
    style = CoverStyle(mood, style.brightness, style.warmth, style.energy)
    rng = np.random.default_rng(stable_seed("cover", prompt, seed, style))
    pal = np.array(palette_for(prompt, style, seed), dtype=np.float32) / 255.0
    scene = pick_scene(rng, prompt, mood)
    canvas = SCENES[scene](Ctx(rng, width, height, pal, style))
    image = Image.fromarray(finish(canvas, rng, mood, style.energy), "RGB")
    return draw_title(image, title) if title else image


def save_png(image: Image.Image, path: Path) -> None:
    """Write ``image`` as PNG atomically: a temp file in the same folder, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            image.save(fh, format="PNG")
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a cover is an ordinary output file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
