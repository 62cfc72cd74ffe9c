"""Caption ASS files and the subtitles filter: sizes, margins, escaping, wrapping, paths."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from soundstage.media.video.captions import (
    ass_document,
    escape_text,
    font_size,
    subtitles_filter,
    wrap_text,
    write_ass,
)
from soundstage.media.visuals import Caption


def _dialogues(text: str) -> list[str]:
    return [ln.split(",", 9)[9] for ln in text.splitlines() if ln.startswith("Dialogue:")]


def test_style_scales_with_the_picture() -> None:
    assert font_size(1920, 1080) == 60
    assert font_size(1080, 1920) == 67  # portrait: limited by the width
    doc = ass_document([Caption(1, 2, "hi")], 1920, 1080)
    assert "PlayResX: 1920" in doc and "PlayResY: 1080" in doc
    style = next(ln for ln in doc.splitlines() if ln.startswith("Style:")).split(",")
    assert style[18] == "2"  # bottom centre
    assert float(style[16]) >= 3 and float(style[17]) > 0  # outline and shadow
    assert int(style[19]) >= 0.07 * 1920 and int(style[21]) >= 0.05 * 1080  # safe margins


def test_times_and_order() -> None:
    doc = ass_document(
        [
            Caption(65.5, 67.25, "b"),
            Caption(0.004, 1.0, "a"),
            Caption(3, 2, "bad"),
            Caption(1, 2, " "),
        ],
        640,
        360,
    )
    events = [ln for ln in doc.splitlines() if ln.startswith("Dialogue:")]
    assert events == [
        "Dialogue: 0,0:00:00.00,0:00:01.00,Default,,0,0,0,,a",
        "Dialogue: 0,0:01:05.50,0:01:07.25,Default,,0,0,0,,b",
    ]


def test_escaping() -> None:
    assert escape_text("{\\b1}x") == "\\{\\\u2060b1\\}x"
    doc = ass_document([Caption(0, 1, "a {tag}\\N b\nnext line")], 1920, 1080)
    (text,) = _dialogues(doc)
    assert text == "a \\{tag\\}\\\u2060N b\\Nnext line"
    assert "\n" not in text


def test_long_lines_wrap_evenly() -> None:
    text = "the quick brown fox jumps over the lazy dog " * 3
    lines = wrap_text(text, 40)
    assert len(lines) == 4
    assert all(len(ln) <= 40 for ln in lines)
    assert max(map(len, lines)) - min(map(len, lines)) <= 12
    assert " ".join(lines) == text.strip()
    assert wrap_text("short", 40) == ["short"]
    assert wrap_text("supercalifragilistic", 8) == ["supercalifragilistic"]


def test_write_ass_is_atomic_utf8(tmp_path: Path) -> None:
    path = write_ass([Caption(0, 1, "naïve — ♪")], 640, 360, tmp_path / "sub" / "c.ass")
    assert path.read_text(encoding="utf-8-sig").count("naïve — ♪") == 1
    assert [p.name for p in path.parent.iterdir()] == ["c.ass"]


@pytest.mark.parametrize("name", ["plain.ass", "it's [a], b;c: d\\e.ass", "spaced name.ass"])
def test_subtitles_filter_survives_awkward_paths(tmp_path: Path, name: str) -> None:
    folder = tmp_path / "we'ird, [dir]"
    ass = write_ass([Caption(0, 5, "{Braces} and \\ backslash")], 320, 180, folder / name)
    filt = subtitles_filter(ass)
    assert filt.startswith("subtitles=filename=")
    cmd = [
        "ffmpeg", "-v", "error", "-f", "lavfi", "-i", "color=c=0x203040:s=320x180:d=0.2",
        "-vf", f"{filt},format=gray", "-frames:v", "1", "-f", "rawvideo", "-",
    ]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, check=True).stdout
    img = np.frombuffer(out, dtype=np.uint8).reshape(180, 320)
    assert img[120:].max() > 200  # white text at the bottom
    assert img[:90].max() < 60  # nothing at the top
