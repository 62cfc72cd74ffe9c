"""Procedural cover art: size, determinism, variety, palettes, title, atomic save."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from soundstage.media.art import MOODS, CoverStyle, palette_for, render_cover, save_png
from soundstage.media.art.palette import colour_families
from soundstage.media.art.title import title_box

SMALL = {"width": 480, "height": 270}


def _png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _arr(img: Image.Image) -> np.ndarray:
    return np.asarray(img, dtype=np.float32)


def _luma(img: Image.Image) -> np.ndarray:
    return _arr(img) @ np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)


@pytest.fixture(scope="module")
def cover() -> Image.Image:
    return render_cover("calm ocean at dusk", 7, CoverStyle(mood="calm"))


def test_full_hd_rgb_png(cover: Image.Image, tmp_path: Path) -> None:
    path = tmp_path / "cover.png"
    save_png(cover, path)
    with Image.open(path) as img:
        assert img.format == "PNG"
        assert img.size == (1920, 1080)
        assert img.mode == "RGB"


def test_same_inputs_give_identical_bytes(cover: Image.Image) -> None:
    again = render_cover("calm ocean at dusk", 7, CoverStyle(mood="calm"))
    assert again.tobytes() == cover.tobytes()
    small = [
        render_cover("night rain", 3, CoverStyle(mood="dark"), title="T", **SMALL) for _ in range(2)
    ]
    assert _png_bytes(small[0]) == _png_bytes(small[1])


def test_different_seeds_differ_visibly(cover: Image.Image) -> None:
    other = render_cover("calm ocean at dusk", 8, CoverStyle(mood="calm"))
    assert np.abs(_arr(other) - _arr(cover)).mean() > 12.0


def test_cover_is_not_flat(cover: Image.Image) -> None:
    assert _luma(cover).std() > 12.0
    rgb = np.asarray(cover).astype(np.uint32)
    assert len(np.unique((rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2])) > 5000


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_dark_mood_is_darker_than_uplifting(seed: int) -> None:
    dark = render_cover("a long drive", seed, CoverStyle(mood="dark"), **SMALL)
    bright = render_cover("a long drive", seed, CoverStyle(mood="uplifting"), **SMALL)
    assert _luma(dark).mean() + 25 < _luma(bright).mean()


def test_palette_has_five_rgb_colours_for_every_mood() -> None:
    for mood in MOODS:
        pal = palette_for("", CoverStyle(mood=mood), 1)
        assert len(pal) == 5
        assert all(len(c) == 3 and all(0 <= v <= 255 for v in c) for c in pal)


def test_palettes_follow_mood_warmth_and_brightness() -> None:
    def mean(mood: str, **kw: float) -> np.ndarray:
        return np.mean(palette_for("", CoverStyle(mood=mood, **kw), 3), axis=0)

    assert mean("dark").sum() < mean("uplifting").sum()
    warm, cold = mean("warm"), mean("cold")
    assert warm[0] - warm[2] > 30 > cold[0] - cold[2]
    assert mean("calm", brightness=0.9).sum() > mean("calm", brightness=0.1).sum() + 60
    hot, cool = mean("calm", warmth=1.0), mean("calm", warmth=0.0)
    assert hot[0] - hot[2] > cool[0] - cool[2] + 20


def test_colour_words_steer_the_palette() -> None:
    style = CoverStyle(mood="calm")
    ocean = np.mean(palette_for("deep ocean waves", style, 1), axis=0)
    forest = np.mean(palette_for("old forest", style, 1), axis=0)
    assert ocean[2] > ocean[1] and ocean[2] > forest[2]
    assert forest[1] - forest[2] > ocean[1] - ocean[2] + 20
    assert colour_families("Rain over the SEA at sunset") == ["water", "sunset"]


def test_unknown_mood_falls_back_to_calm() -> None:
    assert palette_for("x", CoverStyle(mood="grumpy"), 4) == palette_for(
        "x", CoverStyle(mood="calm"), 4
    )
    img = render_cover("x", 4, CoverStyle(mood="grumpy"), **SMALL)
    assert _png_bytes(img) == _png_bytes(render_cover("x", 4, CoverStyle(mood="calm"), **SMALL))


def test_title_changes_pixels_in_its_box_only(cover: Image.Image) -> None:
    titled = render_cover("calm ocean at dusk", 7, CoverStyle(mood="calm"), title="Tidal Memory")
    diff = np.abs(_arr(titled) - _arr(cover)).sum(axis=2)
    left, top, right, bottom = title_box(1920, 1080, "Tidal Memory")
    assert diff[top:bottom, left:right].mean() > 20.0
    pad = bottom - top
    outside = diff.copy()
    outside[max(0, top - pad) : bottom + pad, max(0, left - pad) : right + pad] = 0
    assert outside.max() == 0


def test_portrait_size_and_long_title_fit() -> None:
    img = render_cover(
        "dreamy",
        2,
        CoverStyle(mood="dreamy"),
        title="A Very Long Title " * 3,
        width=540,
        height=960,
    )
    assert img.size == (540, 960)
    left, _, right, _ = title_box(540, 960, " ".join(("A Very Long Title " * 3).split()))
    assert left >= 0 and right <= 540


def test_save_png_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    img = render_cover("snow", 1, CoverStyle(mood="cold"), **SMALL)
    target = tmp_path / "art" / "cover.png"
    save_png(img, target)
    assert [p.name for p in target.parent.iterdir()] == ["cover.png"]
    assert target.stat().st_mode & 0o777 == 0o644, "an ordinary, readable output file"

    def broken_save(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_png(img, tmp_path / "art" / "other.png")
    assert [p.name for p in target.parent.iterdir()] == ["cover.png"]
