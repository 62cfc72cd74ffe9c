"""Title lettering: tracked type with a soft shadow, sized and coloured to stay legible."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from soundstage.media.art.layers import LUMA


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _measure(text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, tracking: float) -> int:
    widths = [font.getlength(ch) for ch in text]
    return int(sum(widths) + tracking * max(0, len(text) - 1))


def _fit(
    text: str, width: int, height: int
) -> tuple[ImageFont.FreeTypeFont | ImageFont.ImageFont, float]:
    """The largest font (up to 7% of the short side) whose line fits 80% of the width."""
    size = max(12, int(min(width, height) * 0.07))
    while True:
        font = _font(size)
        tracking = size * 0.12
        if _measure(text, font, tracking) <= width * 0.8 or size <= 12:
            return font, tracking
        size = int(size * 0.9)


def title_box(width: int, height: int, text: str) -> tuple[int, int, int, int]:
    """Where the title goes: (left, top, right, bottom) in pixels, centred in the lower third."""
    font, tracking = _fit(text, width, height)
    tw = _measure(text, font, tracking)
    asc, desc = font.getmetrics() if hasattr(font, "getmetrics") else (font.size, 0)
    cx, cy = width / 2, height * (0.8 if height <= width else 0.78)
    left, top = int(cx - tw / 2), int(cy - (asc + desc) / 2)
    return left, top, left + tw, top + asc + desc


def draw_title(image: Image.Image, text: str) -> Image.Image:
    """Draw ``text`` over ``image`` with a blurred shadow; light or dark ink by background."""
    text = " ".join(text.split())
    if not text:
        return image
    w, h = image.size
    font, tracking = _fit(text, w, h)
    left, top, right, bottom = title_box(w, h, text)
    pad = int((bottom - top) * 0.9)
    area = np.asarray(
        image.crop((left - pad, top - pad, right + pad, bottom + pad)), dtype=np.float32
    )
    light_bg = float((area / 255.0 @ LUMA).mean()) > 0.62
    ink, shade = ((22, 20, 26), (255, 255, 255)) if light_bg else ((250, 248, 244), (0, 0, 0))

    mask = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(mask)
    x = float(left)
    for ch in text:
        draw.text((x, top), ch, font=font, fill=255)
        x += font.getlength(ch) + tracking

    blur = max(2.0, (bottom - top) * 0.18)
    shadow = mask.filter(ImageFilter.GaussianBlur(blur)).point(lambda v: int(v * 0.75))
    offset = max(1, int((bottom - top) * 0.05))
    out = image.convert("RGB")
    out.paste(Image.new("RGB", (w, h), shade), (0, 0), _shift(shadow, offset))
    out.paste(Image.new("RGB", (w, h), ink), (0, 0), mask.point(lambda v: int(v * 0.94)))
    return out


def _shift(mask: Image.Image, offset: int) -> Image.Image:
    shifted = Image.new("L", mask.size, 0)
    shifted.paste(mask, (offset, offset))
    return shifted
