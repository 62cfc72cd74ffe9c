"""Section detection, naming and the beat-aligned video sections."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from analysis_signals import SR

from soundstage.media.analysis.features import compute_features
from soundstage.media.analysis.result import Rhythm, Section
from soundstage.media.analysis.structure import (
    beat_phase_shift,
    detect_sections,
    name_sections,
    segment_units,
    suggested_sections,
    view_similarity,
)


def _beats(duration: float, period: float = 0.5) -> list[float]:
    return [round(t, 3) for t in np.arange(0.0, duration, period)]


def _check_tiling(sections: list[Section], duration: float) -> None:
    assert sections[0].start == 0.0
    assert sections[-1].end == pytest.approx(duration, abs=1e-3)
    for a, b in itertools.pairwise(sections):
        assert a.end == b.start
    assert all(s.end > s.start for s in sections)


def _abab(duration_part: float = 12.0) -> tuple[np.ndarray, Rhythm]:
    """Alternating parts: a quiet C-major arpeggio (A) and a loud noisy A-minor riff (B)."""
    rng = np.random.default_rng(0)
    parts = []
    for i, kind in enumerate("ABAB"):
        n = int(duration_part * SR)
        t = np.arange(n) / SR
        if kind == "A":
            notes = (261.63, 329.63, 392.0)
            y = 0.1 * sum(np.sin(2 * np.pi * f * t) for f in notes)
        else:
            notes = (220.0, 261.63, 329.63)
            y = 0.3 * np.tanh(3 * sum(np.sin(2 * np.pi * f * t) for f in notes))
            y += 0.05 * rng.standard_normal(n)
        parts.append(y * (1.0 + 0.0 * i))
    y = np.concatenate(parts).astype(np.float32)
    beats = _beats(len(y) / SR)
    rhythm = Rhythm(120.0, 0.9, beats, beats[::4], 4)
    return y, rhythm


def test_detect_sections_finds_the_alternation_and_tiles():
    y, rhythm = _abab()
    duration = len(y) / SR
    sections = detect_sections(compute_features(y), rhythm, duration)
    _check_tiling(sections, duration)
    starts = [s.start for s in sections[1:]]
    for expected in (12.0, 24.0, 36.0):
        assert min(abs(s - expected) for s in starts) <= 2.0, starts
    assert all(s.start in rhythm.beats for s in sections[1:])
    labels = [s.label for s in sections]
    assert labels[0] != labels[1]
    assert len(set(labels)) <= 3


@pytest.mark.parametrize("phase", [1, 3])
def test_boundaries_land_on_the_changes_when_the_downbeats_are_a_beat_off(phase):
    """Downbeats one beat late (phase 1) or early (phase 3): the bar lines miss the
    changes by a beat, the boundaries do not."""
    y, rhythm = _abab()
    duration = len(y) / SR
    shifted = Rhythm(rhythm.bpm, rhythm.bpm_confidence, rhythm.beats, rhythm.beats[phase::4], 4)
    sections = detect_sections(compute_features(y), shifted, duration)
    assert [s.start for s in sections] == [0.0, 12.0, 24.0, 36.0], sections


def test_beat_phase_shift_follows_the_sharpest_changes():
    rng = np.random.default_rng(2)
    levels = np.repeat([0.0, 3.0, 0.0, 3.0], 40)  # changes into beats 40, 80 and 120
    rows = np.stack([levels, -levels], axis=1) + 0.3 * rng.standard_normal((160, 2))
    changes = np.array([40, 80, 120])
    assert beat_phase_shift(rows, changes) == 0
    assert beat_phase_shift(rows, changes + 1) == -1  # bar lines a beat late
    assert beat_phase_shift(rows, changes - 2) == 2
    assert beat_phase_shift(rows, changes[:2] + 1) == 0  # too few boundaries to judge


def test_steady_features_outweigh_jittery_ones():
    """A feature that steps once and holds still makes two blocks in the similarity even
    beside three features that jump from bar to bar as much as the step."""
    rng = np.random.default_rng(3)
    step = np.repeat([0.0, 1.0], 32) + 0.05 * rng.standard_normal(64)
    x = np.column_stack([step, *(0.7 * rng.standard_normal((3, 64)))])
    ssm = view_similarity(x)
    within = (ssm[:32, :32].mean() + ssm[32:, 32:].mean()) / 2
    across = ssm[:32, 32:].mean()
    assert within - across > 0.5, (within, across)  # plain z-scores: 0.24


def _loop(repeats: int = 16) -> tuple[np.ndarray, Rhythm]:
    """A 4-bar phrase (C, Am, F, G triads, one per 2-s bar, a noise click per beat) looped."""
    rng = np.random.default_rng(1)
    t = np.arange(2 * SR) / SR
    bars = []
    for root in (261.63, 220.0, 174.61, 196.0):
        y = sum(0.1 * np.sin(2 * np.pi * root * r * t) for r in (1.0, 1.26, 1.5))
        for beat in range(4):
            i = beat * SR // 2
            y[i : i + 800] += 0.3 * rng.standard_normal(800) * np.exp(-np.arange(800) / 150)
        bars.append(y)
    y = np.tile(np.concatenate(bars), repeats).astype(np.float32)
    beats = _beats(len(y) / SR)
    return y, Rhythm(120.0, 0.9, beats, beats[::4], 4)


def test_a_looped_phrase_is_one_section():
    """Chord changes inside a repeated phrase are not section changes."""
    y, rhythm = _loop()
    duration = len(y) / SR
    sections = detect_sections(compute_features(y), rhythm, duration)
    assert [s.start for s in sections] == [0.0], sections
    _check_tiling(sections, duration)


def test_segment_units_cuts_where_the_kernel_blocks_change():
    rng = np.random.default_rng(0)
    groups = np.repeat([0, 1, 0, 2], [10, 12, 8, 10])  # A B A C, a repeat does not merge
    kernel = np.where(groups[:, None] == groups[None, :], 0.9, 0.2)
    kernel = kernel + 0.05 * rng.random(kernel.shape)
    kernel = (kernel + kernel.T) / 2
    np.fill_diagonal(kernel, 1.0)
    flat = np.zeros(len(groups))
    assert segment_units(kernel, flat, 3) == [10, 22, 30]
    assert segment_units(np.full((40, 40), 0.9), flat, 3) == []


def test_silence_is_one_section():
    y = np.zeros(SR * 20, np.float32)
    sections = detect_sections(compute_features(y), Rhythm(0.0, 0.0, [], [], 4), 20.0)
    assert sections == [Section(0.0, 20.0, "A")]


def test_name_sections_rule():
    # intro (short, quiet), A B A B A (loud B repeats), bridge C, B, outro
    clusters = [0, 1, 2, 1, 2, 3, 2, 4]
    energy = [-30, -18, -10, -18, -10, -15, -10, -32]
    edges = [0, 8, 30, 50, 72, 92, 108, 130, 140]
    names = name_sections(clusters, energy, [float(e) for e in edges])
    assert names == ["intro", "verse", "chorus", "verse", "chorus", "bridge", "chorus", "outro"]


def test_name_sections_without_repeats_keeps_letters():
    assert name_sections([0, 1, 2], [-10, -10, -10], [0.0, 30.0, 60.0, 90.0]) == ["A", "B", "C"]


@pytest.mark.parametrize(
    "starts,duration",
    [
        ([0, 3, 8, 40, 41, 150], 200.0),  # tiny sections and a 150 s one
        ([0], 300.0),  # one long section
        ([0, 15, 30, 45], 61.0),
        ([0, 2], 9.0),  # shorter than the minimum: one section
    ],
)
def test_suggested_sections_are_beat_aligned_10_to_60_s(starts, duration):
    beats = _beats(duration, 0.52)
    sections = [
        Section(float(a), float(b), chr(65 + i))
        for i, (a, b) in enumerate(zip(starts, [*starts[1:], duration], strict=True))
    ]
    out = suggested_sections(sections, beats, duration)
    _check_tiling(out, duration)
    for s in out[1:]:
        assert min(abs(s.start - b) for b in beats) < 1e-6
    if duration >= 10:
        assert all(10.0 <= s.end - s.start <= 60.0 for s in out), out
    else:
        assert len(out) == 1


def test_engine_track_boundaries_found_within_3_s(tmp_path):
    """On a 130 s engine track, at least half the composed section changes are found (±3 s)."""
    from soundstage.config import Settings
    from soundstage.media.analysis.analyze import analyze_file
    from soundstage.media.music.engine import MusicOutputs, MusicRequest, render_music

    request = MusicRequest("warm guitar", 130.0, 12, bpm=100, key="G")
    result = render_music(request, tmp_path, soundfont=Settings().resolved_soundfont(),
                          work_dir=tmp_path / "work",
                          outputs=MusicOutputs(formats=("wav",), stems=False, midi=False))  # fmt: skip
    reference = [s.start for s in result.composition.sections[1:]]
    analysis = analyze_file(result.files["wav"])
    _check_tiling(analysis.sections, analysis.duration_s)
    found = [s.start for s in analysis.sections[1:]]
    hits = sum(any(abs(f - r) <= 3.0 for f in found) for r in reference)
    assert len(reference) >= 3
    assert hits >= len(reference) / 2, (reference, found)
