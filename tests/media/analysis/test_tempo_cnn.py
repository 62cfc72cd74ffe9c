"""The tempo CNN (shipped TempoCNN model) and how rhythm takes its octave, or refuses it."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from soundstage.media.analysis import rhythm, tempo_cnn
from soundstage.media.analysis._onset import RHYTHM_SR

_SYNTH = Path(__file__).resolve().parents[3] / "bench" / "analysis" / "synth.py"
_spec = importlib.util.spec_from_file_location("analysis_bench_synth_cnn", _SYNTH)
synth = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = synth
_spec.loader.exec_module(synth)

needs_model = pytest.mark.skipif(
    tempo_cnn.default_model_path() is None,
    reason="the tempocnn package (model file) is not installed; scripts/setup.sh installs it",
)


def _peaked_at(bpm: float) -> np.ndarray:
    """A distribution as confident as the CNN is on clear music: 0.9 at `bpm`."""
    dist = np.full(256, 0.1 / 255)
    dist[round(bpm - tempo_cnn.MIN_BPM)] = 0.9
    return dist


@needs_model
@pytest.mark.parametrize("bpm", [90, 120])
def test_model_hears_the_tempo_of_a_drum_groove(bpm):
    y, _ = synth.drum_pattern(bpm, 30.0, 22050, style="rock", seed=1)
    dist = tempo_cnn.tempo_distribution(y, 22050)
    assert dist.shape == (256,)
    assert dist.sum() == pytest.approx(1.0, abs=1e-3)
    assert tempo_cnn.class_bpms()[int(np.argmax(dist))] == pytest.approx(bpm, abs=2)


@needs_model
@pytest.mark.parametrize(("seconds", "sr"), [(2.0, 8000), (200.0, 22050)])
def test_short_long_and_low_rate_input(seconds, sr):
    """Short input is padded; long input is read in at most MAX_WINDOWS windows."""
    y = 0.1 * np.random.default_rng(0).standard_normal(int(seconds * sr)).astype(np.float32)
    dist = tempo_cnn.tempo_distribution(y, sr)
    assert dist.shape == (256,) and np.isfinite(dist).all()


@needs_model
def test_silence_gives_no_distribution():
    assert tempo_cnn.tempo_distribution(np.zeros(22050 * 5, dtype=np.float32), 22050) is None


def test_missing_model_gives_no_distribution(tmp_path):
    y = np.ones(22050, dtype=np.float32)
    assert tempo_cnn.tempo_distribution(y, 22050, model_path=tmp_path / "none.h5") is None


def _level(y: np.ndarray, bpm: float, dist: np.ndarray) -> float:
    feats = rhythm._features(y.astype(np.float32))
    return rhythm._model_level(feats, bpm, dist, 30.0, 300.0, 400.0)


def test_octave_down_refused_when_events_sit_halfway():
    """The CNN halves fast clicks; at half the tempo a click sits between the beats."""
    y, _ = synth.click_track(180, 20.0, RHYTHM_SR)
    assert _level(y, 180.0, _peaked_at(90)) == 180.0


def test_octave_up_refused_when_every_second_beat_is_empty():
    """The CNN doubles slow clicks; at double tempo every second beat is silence."""
    y, _ = synth.click_track(50, 30.0, RHYTHM_SR)
    assert _level(y, 50.0, _peaked_at(100)) == 50.0


def test_octave_up_taken_on_a_backbeat():
    """Kick on 1 and 3, snare on 2 and 4 at 172 BPM (jive, drum and bass): the rules
    may read 86; a confident CNN moves it up, as the accents allow."""
    y, _ = synth.drum_pattern(172, 20.0, RHYTHM_SR, style="rock", seed=4)
    assert _level(y, 86.0, _peaked_at(172)) == 172.0


def test_octave_down_taken_when_halfway_is_weak():
    """A four-on-the-floor at 100 read as 200 (hats between the kicks are soft)."""
    y, _ = synth.drum_pattern(100, 20.0, RHYTHM_SR, style="four", seed=2)
    assert _level(y, 200.0, _peaked_at(100)) == pytest.approx(100.0)


def test_unsure_model_changes_nothing():
    y, _ = synth.drum_pattern(120, 20.0, RHYTHM_SR, style="rock", seed=3)
    flat = np.full(256, 1 / 256)
    assert _level(y, 120.0, flat) == 120.0
    split = _peaked_at(60) * 0 + 1e-4
    split[int(60 - tempo_cnn.MIN_BPM)] = 0.45
    split[int(120 - tempo_cnn.MIN_BPM)] = 0.3
    assert _level(y, 120.0, split) == 120.0  # 0.45 is not confident, nor 3× 0.3
