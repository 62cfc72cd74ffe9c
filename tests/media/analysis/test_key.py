"""estimate_key on chord pads in all keys, edge cases, and the music engine round trip."""

from __future__ import annotations

import importlib.util
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import mir_eval
import numpy as np
import pytest
import soundfile as sf

from soundstage.media.analysis.key import estimate_key, key_from_chroma
from soundstage.media.analysis.result import KeyEstimate
from soundstage.media.analysis.rhythm import estimate_rhythm
from soundstage.media.music.theory import parse_key

_SYNTH = Path(__file__).resolve().parents[3] / "bench" / "analysis" / "synth.py"
_spec = importlib.util.spec_from_file_location("analysis_bench_synth_key", _SYNTH)
synth = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = synth
_spec.loader.exec_module(synth)


@pytest.mark.parametrize("mode", ["major", "minor"])
def test_chord_pads_in_all_keys(mode):
    scores = []
    for i, tonic in enumerate(synth.NOTE_NAMES):
        y, _ = synth.chord_pad(tonic, mode, 16.0, 22050, seed=i)
        k = estimate_key(y, 22050)
        assert isinstance(k, KeyEstimate)
        assert k.key in synth.NOTE_NAMES and k.mode in ("major", "minor")
        assert 0.0 <= k.confidence <= 1.0
        scores.append(mir_eval.key.weighted_score(f"{tonic} {mode}", f"{k.key} {k.mode}"))
    assert np.mean(scores) >= 0.9


def test_key_with_drums_and_detuning():
    y, _ = synth.chord_pad("E", "minor", 20.0, 22050, seed=4)
    drums, _ = synth.drum_pattern(120, 20.0, 22050, seed=4, bass=False)
    mix = y + 0.6 * drums
    # 30 cents sharp: resample so that pitches rise, as a detuned recording.
    sharp = np.interp(np.arange(0, len(mix), 2 ** (30 / 1200)), np.arange(len(mix)), mix)
    k = estimate_key(sharp.astype(np.float32), 22050)
    assert (k.key, k.mode) == ("E", "minor")


def test_silence_and_short_input():
    k = estimate_key(np.zeros(22050 * 5, dtype=np.float32), 22050)
    assert k == KeyEstimate("C", "major", 0.0)
    for n in (0, 10, 3000):
        k = estimate_key(np.ones(n, dtype=np.float32) * 0.1, 22050)
        assert 0.0 <= k.confidence <= 1.0


@pytest.mark.parametrize("sr", [8000, 96000])
def test_other_sample_rates(sr):
    y, _ = synth.chord_pad("A#", "major", 12.0, sr, seed=1)
    k = estimate_key(y, sr)
    assert (k.key, k.mode) == ("A#", "major")


def test_confidence_orders_clear_and_ambiguous_profiles():
    clear = np.array([5, 0, 3, 0, 4, 3, 0, 5, 0, 3, 0, 2], float)  # C major scale, tonic weighted
    flat = np.ones(12) + 0.01 * np.arange(12)
    assert key_from_chroma(clear).confidence > key_from_chroma(flat).confidence
    assert key_from_chroma(clear).key == "C"


def test_bass_tonic_arbitrates_relative_keys():
    # G minor / A# major pitch content leaning major; the bass sits on G.
    chroma = np.array([0.09, 0.04, 0.13, 0.13, 0.05, 0.11, 0.05, 0.11, 0.04, 0.07, 0.13, 0.05])
    assert (key_from_chroma(chroma).key, key_from_chroma(chroma).mode) == ("A#", "major")
    bass = np.zeros(12)
    bass[[7, 2, 3]] = [0.6, 0.2, 0.2]
    k = key_from_chroma(chroma, bass=bass)
    assert (k.key, k.mode) == ("G", "minor")
    bass_on_a_sharp = np.roll(np.eye(12)[0], 10)
    k = key_from_chroma(chroma, bass=bass_on_a_sharp)
    assert (k.key, k.mode) == ("A#", "major")


# --- round trip through our own music engine ---------------------------------------

ROUND_TRIP_KEYS = [
    ("C", "major"),
    ("F#", "minor"),
    ("A", "minor"),
    ("D#", "major"),
    ("G", "minor"),
    ("B", "major"),
]
ROUND_TRIP_TEMPI = [72, 90, 105, 120]
ROUND_TRIP_SECONDS = 45.0
PROMPTS = ("calm piano", "uplifting strings", "warm guitar", "dreamy harp")


def _render(args: tuple) -> str:
    from soundstage.config import Settings
    from soundstage.media.music.engine import MusicOutputs, MusicRequest, render_music

    out, i, j, key, mode, bpm = args
    out = Path(out)
    request = MusicRequest(
        PROMPTS[(i + j) % len(PROMPTS)], ROUND_TRIP_SECONDS, 10 * i + j, key=key, mode=mode, bpm=bpm
    )
    result = render_music(request, out, soundfont=Settings().resolved_soundfont(), work_dir=out / "work",
                          outputs=MusicOutputs(formats=("wav",), stems=False, midi=False))  # fmt: skip
    return str(result.files["wav"])


@pytest.fixture(scope="module")
def round_trip(tmp_path_factory):
    base = tmp_path_factory.mktemp("round_trip")
    jobs = [(str(base / f"{k}{m}{bpm}"), i, j, k, m, bpm)
            for i, (k, m) in enumerate(ROUND_TRIP_KEYS) for j, bpm in enumerate(ROUND_TRIP_TEMPI)]  # fmt: skip
    with ProcessPoolExecutor(2) as pool:
        wavs = list(pool.map(_render, jobs))
    results = []
    for (_, _, _, key, mode, bpm), wav in zip(jobs, wavs, strict=True):
        y, sr = sf.read(wav, dtype="float32", always_2d=True)
        results.append(((key, mode, bpm), estimate_key(y.T, sr), estimate_rhythm(y.T, sr)))
    return results


@pytest.mark.slow
def test_round_trip_key_weighted(round_trip):
    """MIREX weighted key score (fifth 0.5, relative 0.3, parallel 0.2) ≥ 0.9 on the grid."""
    scores = [
        mir_eval.key.weighted_score(f"{key} {mode}", f"{k.key} {k.mode}")
        for (key, mode, _), k, _ in round_trip
    ]
    assert np.mean(scores) >= 0.9, [(want, (k.key, k.mode)) for want, k, _ in round_trip]


@pytest.mark.slow
def test_round_trip_key_exact(round_trip):
    """The requested key and mode, spelled either way (Eb is D#)."""
    hits = [
        (parse_key(k.key), k.mode) == (parse_key(key), mode) for (key, mode, _), k, _ in round_trip
    ]
    misses = [
        (want, (k.key, k.mode))
        for (want, k, _), hit in zip(round_trip, hits, strict=True)
        if not hit
    ]
    assert np.mean(hits) >= 0.95, misses


@pytest.mark.slow
def test_round_trip_tempo_octave_family(round_trip):
    """The requested tempo, or a metrical multiple (×2, ×½), on most tracks."""
    hits = [
        any(abs(r.bpm / (bpm * f) - 1) < 0.04 for f in (0.5, 1, 2))
        for (_, _, bpm), _, r in round_trip
    ]
    assert np.mean(hits) >= 0.6, [(want[2], r.bpm) for want, _, r in round_trip]


@pytest.mark.slow
def test_round_trip_tempo_exact_floor(round_trip):
    """At least 21/24 at the requested octave (was 17/24); guards the metrical-level rules."""
    hits = [abs(r.bpm / bpm - 1) < 0.04 for (_, _, bpm), _, r in round_trip]
    assert np.mean(hits) >= 0.875, [(want[2], r.bpm) for want, _, r in round_trip]


@pytest.mark.slow
def test_round_trip_tempo_exact(round_trip):
    """Issue 3 target: ≥ 95 % at the requested octave (23/24 since the engine's arpeggio
    plays on the beat below 84 BPM; was 21/24 with even eighths)."""
    hits = [abs(r.bpm / bpm - 1) < 0.04 for (_, _, bpm), _, r in round_trip]
    assert np.mean(hits) >= 0.95, [(want[2], r.bpm) for want, _, r in round_trip]


@pytest.mark.slow
def test_round_trip_tempo_confidence(round_trip):
    """Engine tracks carry an audible pulse: most are above the "no steady pulse" warning."""
    from soundstage.media.analysis.analyze import PULSE_WARNING_CONFIDENCE

    confident = [r.bpm_confidence >= PULSE_WARNING_CONFIDENCE for _, _, r in round_trip]
    assert np.mean(confident) >= 0.75, [(want[2], r.bpm_confidence) for want, _, r in round_trip]
