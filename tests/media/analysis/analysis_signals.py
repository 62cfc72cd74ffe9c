"""Synthetic test signals for the analysis tests (mono float32 at `sr`)."""

from __future__ import annotations

import numpy as np
from scipy.signal import lfilter

SR = 22050

# (F1, F2, F3) of a few vowels, Hz
VOWELS = [
    (730, 1090, 2440),
    (270, 2290, 3010),
    (300, 870, 2240),
    (530, 1840, 2480),
    (570, 840, 2410),
]


def _resonator(x: np.ndarray, freq: float, bw: float, sr: int) -> np.ndarray:
    r = np.exp(-np.pi * bw / sr)
    a = [1.0, -2.0 * r * np.cos(2 * np.pi * freq / sr), r * r]
    return lfilter([1.0 - r], a, x)


def speech_like(seconds: float, sr: int = SR, seed: int = 0) -> np.ndarray:
    """Formant-filtered glottal pulses with gliding pitch, syllables, fricatives and pauses."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    out = np.zeros(n)
    t = 0.0
    while t < seconds - 0.3:
        words = rng.integers(2, 6)
        for _ in range(words):
            for _ in range(rng.integers(1, 4)):  # syllables
                dur = rng.uniform(0.12, 0.25)
                i0, i1 = int(t * sr), min(n, int((t + dur) * sr))
                if i1 - i0 < 100:
                    break
                m = i1 - i0
                f0 = rng.uniform(100, 180) * np.linspace(1.0, rng.uniform(0.8, 1.25), m)
                phase = np.cumsum(f0 / sr)
                pulses = (np.diff(np.floor(phase), prepend=0.0) > 0).astype(float)
                f1, f2, f3 = VOWELS[rng.integers(len(VOWELS))]
                v = sum(
                    _resonator(pulses, f, 80 + f / 20, sr) * g
                    for f, g in ((f1, 1.0), (f2, 0.6), (f3, 0.3))
                )
                env = np.sin(np.linspace(0, np.pi, m)) ** 0.7
                out[i0:i1] += v * env / (np.abs(v).max() + 1e-9)
                t += dur
                if rng.random() < 0.4:  # a fricative
                    fd = rng.uniform(0.05, 0.1)
                    j0, j1 = int(t * sr), min(n, int((t + fd) * sr))
                    noise = rng.standard_normal(j1 - j0)
                    fr = _resonator(noise, rng.uniform(3000, 6000), 1500, sr)
                    out[j0:j1] += 0.3 * fr / (np.abs(fr).max() + 1e-9)
                    t += fd
            t += rng.uniform(0.05, 0.15)  # between words
        t += rng.uniform(0.3, 0.7)  # between phrases
    return (0.3 * out).astype(np.float32)


def click_track(seconds: float, bpm: float = 120.0, sr: int = SR) -> np.ndarray:
    n = int(seconds * sr)
    y = np.zeros(n)
    click = np.sin(2 * np.pi * 1500 * np.arange(int(0.02 * sr)) / sr) * np.exp(
        -np.arange(int(0.02 * sr)) / (0.004 * sr)
    )
    for t in np.arange(0.1, seconds, 60.0 / bpm):
        i = int(t * sr)
        seg = click[: n - i]
        y[i : i + len(seg)] += seg
    return (0.8 * y).astype(np.float32)


def sine_pad(seconds: float, sr: int = SR) -> np.ndarray:
    """A soft sustained A-minor chord of sines with a slow swell."""
    t = np.arange(int(seconds * sr)) / sr
    y = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 261.63, 329.63))
    swell = 0.6 + 0.4 * np.sin(2 * np.pi * t / 8.0)
    return (0.08 * y * swell).astype(np.float32)


def rock_like(seconds: float, bpm: float = 140.0, sr: int = SR, seed: int = 3) -> np.ndarray:
    """Dense noise (distorted-guitar stand-in) plus kick and snare on a grid."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    noise = lfilter([1.0], [1.0, -0.6], rng.standard_normal(n))
    t = np.arange(n) / sr
    chord = np.tanh(4 * sum(np.sin(2 * np.pi * f * t) for f in (82.4, 123.5, 164.8)))
    y = 0.25 * noise / noise.std() + 0.35 * chord
    beat = 60.0 / bpm
    k = int(0.15 * sr)
    kick = np.sin(2 * np.pi * 55 * np.arange(k) / sr) * np.exp(-np.arange(k) / (0.04 * sr))
    snare = rng.standard_normal(k) * np.exp(-np.arange(k) / (0.03 * sr))
    for j, tb in enumerate(np.arange(0.0, seconds - 0.2, beat)):
        i = int(tb * sr)
        y[i : i + k] += 1.2 * (kick if j % 2 == 0 else snare)
    return (0.9 * y / np.abs(y).max()).astype(np.float32)


def noise(seconds: float, sr: int = SR, seed: int = 5) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(int(seconds * sr))).astype(np.float32)
