"""estimate_rhythm: tempo, beats, downbeats and meter on signals with exact ground truth."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import mir_eval
import numpy as np
import pytest

from soundstage.media.analysis import rhythm
from soundstage.media.analysis.analyze import PULSE_WARNING_CONFIDENCE
from soundstage.media.analysis.result import Rhythm
from soundstage.media.analysis.rhythm import estimate_rhythm

_SYNTH = Path(__file__).resolve().parents[3] / "bench" / "analysis" / "synth.py"
_spec = importlib.util.spec_from_file_location("analysis_bench_synth", _SYNTH)
synth = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = synth
_spec.loader.exec_module(synth)


def beat_f(ref: np.ndarray, est: list[float]) -> float:
    est_arr = mir_eval.beat.trim_beats(np.asarray(est))
    if not len(est_arr):
        return 0.0
    return mir_eval.beat.f_measure(mir_eval.beat.trim_beats(np.asarray(ref)), est_arr)


def assert_valid(r: Rhythm) -> None:
    assert isinstance(r, Rhythm)
    assert 0.0 <= r.bpm_confidence <= 1.0
    assert r.bpm >= 0.0
    assert list(r.beats) == sorted(r.beats)
    assert set(r.downbeats) <= set(r.beats)
    assert r.meter in (2, 3, 4, 6)


@pytest.mark.parametrize("bpm", [40, 60, 90, 120, 150, 200])
def test_click_track_exact_tempo_and_beats(bpm):
    y, truth = synth.click_track(bpm, 30.0, 22050)
    r = estimate_rhythm(y, 22050)
    assert_valid(r)
    assert r.bpm == pytest.approx(bpm, rel=0.01)
    assert beat_f(truth["beats"], r.beats) >= 0.95
    assert r.bpm_confidence > 0.3


@pytest.mark.parametrize(
    ("style", "bpm"), [("rock", 100), ("four", 128), ("swing", 140), ("rock", 200), ("rock", 60)]
)
def test_drum_patterns(style, bpm):
    y, truth = synth.drum_pattern(bpm, 30.0, 22050, style=style, seed=bpm)
    r = estimate_rhythm(y, 22050)
    assert_valid(r)
    assert r.bpm == pytest.approx(bpm, rel=0.04)
    assert beat_f(truth["beats"], r.beats) >= 0.9
    assert r.meter == 4


@pytest.mark.parametrize(
    ("style", "bpm"), [("four", 55), ("four", 70), ("rock", 45), ("rock", 190)]
)
def test_metrical_level_from_beat_alternation(style, bpm):
    """Off-beat hats (slow) or kick/snare half notes (fast) must not move the octave."""
    y, _ = synth.drum_pattern(bpm, 30.0, 22050, style=style, seed=bpm)
    r = estimate_rhythm(y, 22050)
    assert r.bpm == pytest.approx(bpm, rel=0.04)


@pytest.mark.parametrize(
    ("style", "bpm"), [("four", 85), ("swing", 45), ("swing", 190), ("six8", 45), ("six8", 95)]
)
def test_metrical_level_from_accents(style, bpm):
    """Off-beat hats (85), swing or 6/8 triplet eighths (45: 135 BPM) must not win."""
    y, _ = synth.drum_pattern(bpm, 30.0, 22050, style=style, seed=bpm)
    r = estimate_rhythm(y, 22050)
    assert r.bpm == pytest.approx(bpm, rel=0.04)


@pytest.mark.parametrize("bpm", [140, 175])
def test_half_time_feel_reports_the_backbeat_pulse(bpm):
    """Kick on 1, snare on 3, eighth hats: identical to a backbeat groove at half the
    tempo with sixteenth hats, so the kick/snare pulse (bpm / 2) is what a listener
    taps; the notated quarter is not marked by any accent."""
    y, truth = synth.drum_pattern(bpm, 30.0, 22050, style="half", seed=bpm)
    assert truth["bpm"] == bpm / 2 and truth["notated_bpm"] == bpm
    r = estimate_rhythm(y, 22050)
    assert r.bpm == pytest.approx(bpm / 2, rel=0.04)
    assert beat_f(truth["beats"], r.beats) >= 0.9


@pytest.mark.parametrize(
    ("notated", "tapped"), [(45, 90), (55, 110), (70, 70), (115, 115), (128, 64), (210, 105)]
)
def test_half_time_reference_is_the_tapped_level(notated, tapped):
    """The bench's reference: the kick-snare pulse, doubled while slower than 60 BPM."""
    _, truth = synth.drum_pattern(notated, 10.0, 22050, style="half")
    assert synth.half_time_tactus(notated) == tapped
    assert truth["bpm"] == tapped
    assert np.allclose(np.diff(truth["beats"]), 60.0 / tapped)


def _backbeat_with_soft_kick(bpm: float, kick_gain: float, sr: int = 22050) -> np.ndarray:
    """Kick on 1 and 3 at `kick_gain`, a full-level snare on 2 and 4, eighth hats."""
    rng = np.random.default_rng(7)
    out = np.zeros(30 * sr)
    kick, snare, hat = synth._kick(sr), synth._snare(sr, rng), synth._hat(sr, rng)
    period = 60.0 / bpm
    for i, t in enumerate(np.arange(0.0, 30.0, period)):
        synth._add(out, kick if i % 2 == 0 else snare, t, sr, kick_gain if i % 2 == 0 else 1.0)
        synth._add(out, hat, t, sr, 0.5)
        synth._add(out, hat, t + period / 2, sr, 0.5)
    out += 0.003 * rng.standard_normal(len(out))
    return (0.8 * out / np.abs(out).max()).astype(np.float32)


@pytest.mark.parametrize("bpm", [90, 130])
def test_backbeat_with_a_soft_kick_is_not_halved(bpm):
    """A snare much louder than the kick makes the beats alternate loud/soft like
    beats and off-beats, but the soft beats carry the kick: they are beats."""
    r = estimate_rhythm(_backbeat_with_soft_kick(bpm, 0.25), 22050)
    assert r.bpm == pytest.approx(bpm, rel=0.04)


def test_beats_move_onto_the_loud_phase():
    """Beats tracked on the off-beats move to the louder series between them."""
    accent = np.zeros(2000, dtype=np.float32)
    accent[100:1900:40] = 1.0  # loud events every 40 frames from frame 100
    accent[120:1900:40] = 0.2  # soft off-beats: where the tracker sat
    off = np.arange(120.0, 1900.0, 40.0)
    moved = rhythm._on_beat_phase(off, accent, 1.5)
    assert np.allclose(moved[:-1] % 40, 20.0)  # frame 140, 180, ...: the loud ones
    assert rhythm._on_beat_phase(np.arange(100.0, 1900.0, 40.0), accent, 1.5)[0] == 100.0


def test_very_slow_drums_give_the_pulse_or_its_double():
    y, _ = synth.drum_pattern(45, 30.0, 22050, style="rock", seed=45)
    r = estimate_rhythm(y, 22050)
    assert_valid(r)
    assert any(abs(r.bpm / (45 * f) - 1) < 0.04 for f in (1, 2))
    assert r.bpm_confidence > 0.2


@pytest.mark.parametrize("bpm", [90, 140])
def test_three_four_downbeats(bpm):
    y, truth = synth.drum_pattern(bpm, 30.0, 22050, style="waltz", seed=3)
    r = estimate_rhythm(y, 22050)
    assert r.meter == 3
    assert r.bpm == pytest.approx(bpm, rel=0.04)
    ref = truth["downbeats"][truth["downbeats"] > 3]
    est = np.asarray(r.downbeats)
    assert mir_eval.beat.f_measure(ref, est[est > 3]) >= 0.9


def test_six_eight_dotted_quarter_pulse():
    y, truth = synth.drum_pattern(70, 30.0, 22050, style="six8", seed=1)
    r = estimate_rhythm(y, 22050)
    assert_valid(r)
    assert any(abs(r.bpm / (70 * f) - 1) < 0.04 for f in (1, 3))  # the beat or the eighth pulse
    assert beat_f(truth["beats"], r.beats) >= 0.6


def test_tempo_ramp_is_followed():
    y, truth = synth.drum_pattern(90, 40.0, 22050, style="rock", seed=5, end_bpm=120)
    r = estimate_rhythm(y, 22050)
    assert_valid(r)
    assert beat_f(truth["beats"], r.beats) >= 0.85


def test_silence_gives_zero_confidence():
    r = estimate_rhythm(np.zeros(22050 * 10, dtype=np.float32), 22050)
    assert_valid(r)
    assert r.bpm_confidence == 0.0
    assert r.beats == []


def test_noise_without_pulse_has_low_confidence():
    y = (0.1 * np.random.default_rng(0).standard_normal(22050 * 20)).astype(np.float32)
    r = estimate_rhythm(y, 22050)
    assert_valid(r)
    assert r.bpm_confidence < PULSE_WARNING_CONFIDENCE


@pytest.mark.parametrize("n", [0, 1, 100, 4000, 22050, 40000])
def test_very_short_input(n):
    y, _ = synth.click_track(120, 2.0, 22050)
    r = estimate_rhythm(y[:n], 22050)
    assert_valid(r)


def test_non_finite_and_stereo_input():
    y, _ = synth.click_track(120, 10.0, 22050)
    stereo = np.stack([y, y])
    stereo[0, 100] = np.nan
    r = estimate_rhythm(stereo, 22050)
    assert_valid(r)
    assert r.bpm == pytest.approx(120, rel=0.01)


@pytest.mark.parametrize("sr", [8000, 96000])
def test_other_sample_rates(sr):
    y, truth = synth.drum_pattern(110, 20.0, sr, style="rock", seed=2)
    r = estimate_rhythm(y, sr)
    assert_valid(r)
    assert r.bpm == pytest.approx(110, rel=0.04)
    assert beat_f(truth["beats"], r.beats) >= 0.9


def test_beatless_pads_have_low_confidence():
    """Chords changing at random times (no pulse) stay below the warning threshold."""
    rng = np.random.default_rng(1)
    sr = 22050
    y = np.zeros(30 * sr)
    tt = np.arange(8 * sr) / sr
    t = 0.0
    while t * sr < len(y):
        length = rng.uniform(2.5, 7.0)
        f = 110 * 2 ** (rng.integers(0, 24) / 12)
        tone = sum(np.sin(2 * np.pi * f * m * tt) for m in (1, 1.26, 1.5))
        tone = tone * np.minimum(1, tt / 1.5) * np.exp(-np.maximum(0, tt - length))
        k = int(t * sr)
        y[k : k + len(tone)] += tone[: len(y) - k]
        t += length
    r = estimate_rhythm((0.1 * y).astype(np.float32), sr)
    assert_valid(r)
    assert r.bpm_confidence < PULSE_WARNING_CONFIDENCE
