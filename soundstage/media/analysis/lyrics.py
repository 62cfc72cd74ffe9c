"""Lyrics: plain-text and LRC parsing, and alignment to vocal regions and beats.

- Plain text: one lyric line per line; blank lines separate stanzas (a stanza
  break becomes a slightly longer gap when aligning).
- LRC: ``[mm:ss.xx] text`` (several time tags on one line repeat it);
  metadata tags (``[ar:...]``, ``[offset:+250]``...) are ignored, except that
  ``offset`` (ms, positive = earlier) is applied as LRC players do.
- `align_lyrics`: LRC keeps its times (clipped to the duration, each line ends
  where the next starts); plain lines are spread over the vocal regions in
  proportion to their syllable counts, snapped to beats, never overlapping.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from soundstage.media.analysis.result import LyricLine

_TIME_TAG = re.compile(r"\[(\d{1,3}):(\d{1,2}(?:[.:]\d{1,3})?)\]")
_META_TAG = re.compile(r"^\[([a-zA-Z#]+):(.*)\]\s*$")
_VOWEL_GROUPS = re.compile(r"[aeiouyàâäéèêëîïôöùûüáíóúãõåæøœ]+", re.IGNORECASE)


class Transcriber(Protocol):
    """Something that hears the words: a speech-to-text provider client."""

    def transcribe(self, audio_path: Path) -> list[LyricLine]: ...


@dataclass(frozen=True)
class ParsedLyrics:
    """Lines of text; `times` holds each line's LRC start (None for plain text)."""

    lines: list[str]
    times: list[float] | None = None
    stanza_breaks: frozenset[int] = frozenset()  # indexes of lines that start a stanza


def is_lrc(text: str) -> bool:
    return any(_TIME_TAG.match(line.strip()) for line in text.splitlines())


def parse_lyrics(text: str) -> ParsedLyrics:
    """LRC when any line starts with a time tag, plain text otherwise."""
    return parse_lrc(text) if is_lrc(text) else parse_plain(text)


def parse_plain(text: str) -> ParsedLyrics:
    lines: list[str] = []
    breaks: set[int] = set()
    gap = False
    for raw in text.splitlines():
        line = " ".join(raw.split())
        if not line:
            gap = bool(lines)
            continue
        if gap:
            breaks.add(len(lines))
            gap = False
        lines.append(line)
    return ParsedLyrics(lines, None, frozenset(breaks))


def parse_lrc(text: str) -> ParsedLyrics:
    offset_s = 0.0
    entries: list[tuple[float, str]] = []
    for raw in text.splitlines():
        line = raw.strip()
        meta = _META_TAG.match(line)
        if meta and not _TIME_TAG.match(line):
            if meta.group(1).lower() == "offset":
                with contextlib.suppress(ValueError):
                    offset_s = float(meta.group(2).strip()) / 1000.0
            continue
        stamps = []
        while m := _TIME_TAG.match(line):
            minutes, seconds = int(m.group(1)), float(m.group(2).replace(":", "."))
            stamps.append(minutes * 60.0 + seconds)
            line = line[m.end() :].lstrip()
        line = re.sub(r"<\d{1,3}:\d{1,2}(?:[.:]\d{1,3})?>", "", line).strip()  # word times
        entries.extend((t, line) for t in stamps)
    entries.sort(key=lambda e: e[0])
    kept = [(max(0.0, t - offset_s), s) for t, s in entries]
    return ParsedLyrics([s for _, s in kept], [t for t, _ in kept])


def syllables(text: str) -> int:
    """A rough syllable count (vowel groups), at least 1 for any non-empty line."""
    return max(1, len(_VOWEL_GROUPS.findall(text))) if text.strip() else 0


def align_lyrics(
    lyrics: ParsedLyrics | str,
    vocal_regions: list[tuple[float, float]],
    duration: float,
    beats: list[float],
    *,
    warnings: list[str] | None = None,
) -> list[LyricLine]:
    """Timed lyric lines, sorted and non-overlapping, inside [0, duration]."""
    parsed = parse_lyrics(lyrics) if isinstance(lyrics, str) else lyrics
    if parsed.times is not None:
        return _align_lrc(parsed, duration)
    lines = parsed.lines
    if not lines or duration <= 0:
        return []
    regions = [
        (max(0.0, a), min(duration, b)) for a, b in vocal_regions if min(duration, b) > max(0.0, a)
    ]
    if not regions:
        if warnings is not None:
            warnings.append("no vocals detected: lyrics spread evenly over the whole song")
        regions = [(0.0, duration)]
    weights = np.array([syllables(s) for s in lines], dtype=float)
    # a stanza break costs the pause of two syllables before the line
    pause = np.array([2.0 if i in parsed.stanza_breaks else 0.0 for i in range(len(lines))])
    cum = np.concatenate([[0.0], np.cumsum(weights + pause)])
    total = cum[-1]
    region_len = np.array([b - a for a, b in regions])
    region_cum = np.concatenate([[0.0], np.cumsum(region_len)])
    vocal_total = region_cum[-1]

    def to_time(w: float) -> float:
        """Map a position in syllable space onto vocal time (concatenated regions)."""
        pos = w / total * vocal_total
        j = min(len(regions) - 1, int(np.searchsorted(region_cum, pos, side="right") - 1))
        return regions[j][0] + (pos - region_cum[j])

    grid = np.asarray(sorted(b for b in beats if 0.0 <= b <= duration), dtype=float)
    out: list[LyricLine] = []
    for i, text in enumerate(lines):
        start = to_time(cum[i] + pause[i])
        end = to_time(cum[i + 1] - 1e-9)
        start = _snap_inside(start, grid, regions)
        if out and start < out[-1].end:
            start = out[-1].end
        end = max(end, start + 1e-3)
        end = min(end, duration)
        if end <= start:
            start = max(0.0, min(start, duration - 1e-3))
            end = min(duration, start + 1e-3)
        out.append(LyricLine(round(start, 3), round(end, 3), text))
    return _no_overlap(out)


def _snap_inside(t: float, grid: np.ndarray, regions: list[tuple[float, float]]) -> float:
    """The nearest beat to `t` if it lies in the same vocal region, else `t`."""
    if not len(grid):
        return t
    b = float(grid[np.argmin(np.abs(grid - t))])
    for a, e in regions:
        if a <= t <= e:
            return b if a <= b <= e else t
    return t


def _align_lrc(parsed: ParsedLyrics, duration: float) -> list[LyricLine]:
    times = parsed.times or []
    out: list[LyricLine] = []
    for i, (t, text) in enumerate(zip(times, parsed.lines, strict=True)):
        start = min(t, duration)
        end = min(times[i + 1], duration) if i + 1 < len(times) else duration
        if end <= start or not text:
            continue  # past the end, or an empty "clear the screen" line
        out.append(LyricLine(round(start, 3), round(end, 3), text))
    return _no_overlap(out)


def _no_overlap(lines: list[LyricLine]) -> list[LyricLine]:
    out: list[LyricLine] = []
    for line in lines:
        start = max(line.start, out[-1].end) if out else line.start
        if line.end > start:
            out.append(LyricLine(start, line.end, line.text))
    return out
