"""Lyric captions burnt into video: an ASS subtitle file and the ffmpeg filter that draws it.

`write_ass` writes captions for a ``width`` x ``height`` picture: white sans-serif
text with a dark outline and a soft shadow (readable on any footage), bottom centre,
inside title-safe margins (8 % of the width at each side, 6 % of the height below).
The font size follows the picture: 5.6 % of the height, but never wider than 6.2 % of
the width, so portrait video gets the same size as landscape (60 px at 1080p).
Long lines are wrapped into balanced lines that fit between the margins (libass
would wrap too, but unevenly: a long first line and an orphan word).

Caption text is literal: ``{`` ``}`` (which open and close ASS override tags) and
``\\`` (which starts ASS escapes such as ``\\N``) are escaped so they are drawn as
typed, and newlines become line breaks.

`subtitles_filter` returns the ``subtitles`` filter (libass) for an ASS file, with the
path escaped for both levels of ffmpeg's filtergraph syntax, ready to append to a
``-vf`` chain or a ``-filter_complex`` graph.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from soundstage.media.visuals.spec import Caption

FONT = "DejaVu Sans"
SIZE_OF_HEIGHT = 0.056
SIZE_OF_WIDTH = 0.062
MARGIN_X = 0.08  # of the width, each side
MARGIN_BOTTOM = 0.06  # of the height
CHAR_WIDTH_EM = 0.56  # average advance of DejaVu Sans text, in font sizes (a safe guess)
WORD_JOINER = "\u2060"  # zero-width, keeps a typed backslash from starting an escape


def font_size(width: int, height: int) -> int:
    """Caption font size in pixels for a ``width`` x ``height`` picture."""
    return max(10, round(min(SIZE_OF_HEIGHT * height, SIZE_OF_WIDTH * width)))


def wrap_text(text: str, max_chars: int) -> list[str]:
    """Split ``text`` into lines of at most ``max_chars`` (words longer than that stay
    whole), balanced so the lines have similar lengths; newlines are kept."""
    lines: list[str] = []
    for para in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        words = para.split()
        if not words:
            continue
        total = len(" ".join(words))
        n = max(1, math.ceil(total / max(1, max_chars)))
        while True:
            target = math.ceil(total / n)
            wrapped = _greedy(words, max(target, 1), max_chars)
            if len(wrapped) <= n or n >= len(words):
                break
            n += 1
        lines.extend(wrapped)
    return lines


def _greedy(words: list[str], target: int, limit: int) -> list[str]:
    """Fill lines up to about ``target`` characters, never past ``limit``."""
    out: list[str] = []
    line = ""
    for word in words:
        if not line:
            line = word
        elif len(line) + 1 + len(word) <= limit and (
            len(line) + 1 + len(word) <= target
            or abs(len(line) + 1 + len(word) - target) < abs(len(line) - target)
        ):
            line = f"{line} {word}"
        else:
            out.append(line)
            line = word
    if line:
        out.append(line)
    return out


def escape_text(line: str) -> str:
    """One line of caption text as literal ASS dialogue text."""
    line = line.replace("\\", "\\" + WORD_JOINER)  # "\" + joiner is no escape, draws "\"
    return line.replace("{", "\\{").replace("}", "\\}")


def _time(seconds: float) -> str:
    cs = max(0, round(seconds * 100))
    h, rest = divmod(cs, 360000)
    m, rest = divmod(rest, 6000)
    s, cs = divmod(rest, 100)
    return f"{h}:{m:02d}:{s:02d}.{cs:02d}"


def ass_document(captions: Sequence[Caption], width: int, height: int) -> str:
    """The ASS file's text (see the module docstring for the style)."""
    size = font_size(width, height)
    margin_x = round(MARGIN_X * width)
    margin_v = round(MARGIN_BOTTOM * height)
    outline = max(1.0, round(size * 0.07, 1))
    shadow = max(0.5, round(size * 0.04, 1))
    max_chars = max(8, int((width - 2 * margin_x) / (CHAR_WIDTH_EM * size)))
    head = [
        "[Script Info]",
        "; Soundstage lyric captions",
        "ScriptType: v4.00+",
        f"PlayResX: {width}",
        f"PlayResY: {height}",
        "WrapStyle: 0",
        "ScaledBorderAndShadow: yes",
        "YCbCr Matrix: TV.709",
        "",
        "[V4+ Styles]",
        "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, "
        "BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, "
        "BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding",
        f"Style: Default,{FONT},{size},&H00FFFFFF,&H000000FF,&H00141414,&H96000000,"
        f"-1,0,0,0,100,100,0,0,1,{outline},{shadow},2,{margin_x},{margin_x},{margin_v},1",
        "",
        "[Events]",
        "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text",
    ]
    events = []
    for cap in sorted(captions, key=lambda c: (c.start, c.end)):
        start, end = max(0.0, float(cap.start)), float(cap.end)
        lines = wrap_text(cap.text, max_chars)
        if end <= start or not lines:
            continue
        text = "\\N".join(escape_text(line) for line in lines)
        events.append(f"Dialogue: 0,{_time(start)},{_time(end)},Default,,0,0,0,,{text}")
    return "\n".join([*head, *events]) + "\n"


def write_ass(captions: Sequence[Caption], width: int, height: int, path: Path) -> Path:
    """Write the captions as an ASS file for a ``width`` x ``height`` video; return ``path``.

    Times are seconds from the video's first frame; captions that end before they
    start or have no text are skipped. Written atomically (temp file, then rename).
    """
    if width <= 0 or height <= 0:
        raise ValueError("width and height must be positive")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write("\ufeff" + ass_document(captions, width, height))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _escape(text: str, specials: str) -> str:
    return "".join("\\" + ch if ch in specials else ch for ch in text)


def subtitles_filter(ass_path: Path) -> str:
    """The ffmpeg ``subtitles`` filter that burns ``ass_path`` in, e.g.
    ``subtitles=filename=/tmp/a\\\\\\:b.ass`` for ``/tmp/a:b.ass``.

    The path is escaped once as an option value (``\\ ' :``) and once for the
    filtergraph (``\\ ' [ ] , ;``); it is passed to ffmpeg as one argument, no shell.
    """
    value = _escape(str(Path(ass_path)), "\\':")
    return "subtitles=filename=" + _escape(value, "\\'[],;")
