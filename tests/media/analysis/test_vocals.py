"""Vocal activity: sung vowels with vibrato are voice, plucked arpeggios are not."""

from __future__ import annotations

import numpy as np
import pytest
from analysis_signals import SR, VOWELS, _resonator
from scipy.signal import lfilter

from soundstage.media.analysis.features import compute_features, pitch_motion
from soundstage.media.analysis.vocals import detect_vocals


def sung_vowels(seconds: float, seed: int, f0s: tuple[float, ...]) -> np.ndarray:
    """Legato vowels: glottal pulses (tilted), 5.5 Hz vibrato of ±40 cents, three formants."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    out = np.zeros(n)
    t = 0.0
    while t < seconds - 0.5:
        dur = rng.uniform(0.4, 1.2)
        i0, i1 = int(t * SR), min(n, int((t + dur) * SR))
        tt = np.arange(i1 - i0) / SR
        f0 = rng.choice(f0s) * 2 ** (0.4 * np.sin(2 * np.pi * 5.5 * tt) / 12)
        pulses = (np.diff(np.floor(np.cumsum(f0 / SR)), prepend=0.0) > 0).astype(float)
        pulses = lfilter([1.0], [1.0, -0.95], pulses)
        formants = zip(VOWELS[rng.integers(len(VOWELS))], (1.0, 0.6, 0.3), strict=True)
        v = sum(_resonator(pulses, f, 80 + f / 20, SR) * g for f, g in formants)
        env = np.minimum(1.0, np.minimum(tt / 0.05, (dur - tt) / 0.08))
        out[i0:i1] += v * env / (np.abs(v).max() + 1e-9)
        t += dur + rng.uniform(0.0, 0.3)
    return (0.3 * out).astype(np.float32)


def soundfont_arpeggio(program: int, seconds: float, step: float) -> np.ndarray:
    """A General-MIDI instrument (46 = harp) playing a C-major arpeggio, notes ringing on."""
    from soundstage.config import Settings
    from soundstage.media.music.sampler import SoundFontError, SoundFontSampler

    soundfont = Settings().resolved_soundfont()
    if soundfont is None:
        pytest.skip("no SoundFont")
    try:
        sampler = SoundFontSampler(soundfont, SR)
    except SoundFontError as exc:
        pytest.skip(str(exc))
    pitches = [60, 64, 67, 72, 76, 72, 67, 64]
    out = np.zeros(int((seconds + 7) * SR))
    for i, t in enumerate(np.arange(0.0, seconds, step)):
        note = sampler.render_note(program, pitches[i % 8], 70 + 7 * (i % 4), int(0.4 * SR))
        j = int(t * SR)
        out[j : j + len(note)] += note.mean(axis=1)
    out = out[: int(seconds * SR)]
    return (0.3 * out / np.abs(out).max()).astype(np.float32)


def covered(y: np.ndarray) -> float:
    feat = compute_features(y)
    return sum(b - a for a, b in detect_vocals(feat)) / feat.duration_s


@pytest.mark.parametrize("f0s", [(110.0, 131.0, 147.0), (220.0, 262.0, 330.0)])
def test_sung_vowels_with_vibrato_are_voice(f0s):
    assert covered(sung_vowels(15, seed=1, f0s=f0s)) > 0.6


@pytest.mark.parametrize(("program", "step"), [(46, 0.3125), (46, 0.15), (24, 0.25), (0, 0.3125)])
def test_plucked_and_struck_arpeggios_are_not_voice(program, step):
    """Harp (46), nylon guitar (24) and piano (0): note changes, but steady pitch."""
    assert covered(soundfont_arpeggio(program, 15, step)) < 0.05


def test_pitch_motion_is_zero_for_steady_partials_and_follows_a_glide():
    t = np.arange(SR * 2) / SR
    steady = np.sin(2 * np.pi * 880 * t) + 0.5 * np.sin(2 * np.pi * 1760 * t)
    cents_per_s = 400.0  # a glide up: 18.6 cents per 2 frames (46 ms)
    f = 880 * 2 ** (cents_per_s * t / 1200)
    glide = np.sin(2 * np.pi * np.cumsum(f) / SR)
    motion = {}
    for name, y in (("steady", steady), ("glide", glide)):
        feat = compute_features(y.astype(np.float32))
        motion[name] = float(np.median(feat.pitch_motion[5:-5]))
    assert motion["steady"] == 0.0
    assert 10.0 <= motion["glide"] <= 30.0  # 20-cent grid: shifts of 1 bin, sometimes 0 or 2
    assert not pitch_motion(np.zeros((1, 180), np.float32)).any()
