"""Lyrics parsing (plain text, LRC) and alignment."""

from __future__ import annotations

import itertools

import pytest

from soundstage.media.analysis.lyrics import (
    align_lyrics,
    is_lrc,
    parse_lrc,
    parse_lyrics,
    parse_plain,
    syllables,
)

PLAIN = """
Walking down the empty street
Counting every light I meet

The city hums a quiet tune
Underneath a paper moon
And I keep on walking
"""

LRC = """[ar:Someone]
[ti:Song]
[length: 03:10]
[offset:+500]
[00:12.50]First line
[00:17.20]Second line
[00:21.00][01:05.00]Chorus line <00:21.50>with words
[00:30.00]
[00:35.5]Last line
"""

BEATS = [i * 0.5 for i in range(0, 121)]  # 120 BPM over 60 s


def test_plain_text_keeps_lines_and_stanzas():
    parsed = parse_plain(PLAIN)
    assert parsed.times is None
    assert parsed.lines[0] == "Walking down the empty street"
    assert len(parsed.lines) == 5
    assert parsed.stanza_breaks == frozenset({2})
    assert not is_lrc(PLAIN)


def test_lrc_times_metadata_and_offset():
    parsed = parse_lyrics(LRC)
    assert is_lrc(LRC)
    assert parsed.lines == [
        "First line",
        "Second line",
        "Chorus line with words",
        "",
        "Last line",
        "Chorus line with words",
    ]
    assert parsed.times == pytest.approx([12.0, 16.7, 20.5, 29.5, 35.0, 64.5])


def test_lrc_alignment_keeps_times_and_clips():
    lines = align_lyrics(parse_lrc(LRC), [], duration=40.0, beats=BEATS)
    assert [ln.text for ln in lines] == [
        "First line",
        "Second line",
        "Chorus line with words",
        "Last line",
    ]
    assert lines[0].start == 12.0 and lines[0].end == pytest.approx(16.7)
    assert lines[2].end == pytest.approx(29.5)  # the empty line ends it
    assert lines[-1].end == 40.0  # clipped: the repeat at 64.5 s is past the end
    _check_monotonic(lines, 40.0)


def test_plain_alignment_inside_vocal_regions_on_beats():
    regions = [(5.0, 20.0), (30.0, 50.0)]
    warnings: list[str] = []
    lines = align_lyrics(PLAIN, regions, duration=60.0, beats=BEATS, warnings=warnings)
    assert [ln.text for ln in lines] == parse_plain(PLAIN).lines
    assert not warnings
    _check_monotonic(lines, 60.0)
    for ln in lines:
        assert any(a - 1e-6 <= ln.start <= b + 1e-6 for a, b in regions), ln
        assert any(a - 1e-6 <= ln.end <= b + 1e-6 for a, b in regions), ln
    on_beat = sum(1 for ln in lines if min(abs(ln.start - b) for b in BEATS) < 1e-6)
    assert on_beat >= len(lines) - 1
    # longer lines get more time
    spans = {ln.text: ln.end - ln.start for ln in lines}
    assert spans["Walking down the empty street"] > spans["And I keep on walking"] * 0.8


def test_plain_alignment_without_vocals_spreads_with_a_warning():
    warnings: list[str] = []
    lines = align_lyrics(PLAIN, [], duration=30.0, beats=[], warnings=warnings)
    assert len(lines) == 5
    assert warnings and "no vocals" in warnings[0]
    assert lines[0].start == pytest.approx(0.0)
    assert lines[-1].end == pytest.approx(30.0, abs=0.01)
    _check_monotonic(lines, 30.0)


def test_many_lines_in_a_short_region_never_overlap():
    text = "\n".join(f"line number {i}" for i in range(40))
    lines = align_lyrics(text, [(1.0, 4.0)], duration=5.0, beats=BEATS)
    assert len(lines) == 40
    _check_monotonic(lines, 5.0)


def test_syllables():
    assert syllables("") == 0
    assert syllables("hmm") == 1
    assert syllables("Underneath a paper moon") == 7


def _check_monotonic(lines, duration):
    for ln in lines:
        assert 0.0 <= ln.start < ln.end <= duration + 1e-9, ln
    for a, b in itertools.pairwise(lines):
        assert a.end <= b.start + 1e-9, (a, b)
