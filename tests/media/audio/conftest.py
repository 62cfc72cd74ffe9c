"""Fixtures for the audio engine tests: test signals and FFmpeg's R128 meter."""

from __future__ import annotations

import math
import re
import subprocess
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf
from scipy.ndimage import uniform_filter1d

FS = 44100


def _fade(x: np.ndarray, fs: int, seconds: float = 0.05) -> np.ndarray:
    """Raised-cosine fade in/out, so signal edges do not ring (real tracks fade)."""
    n = min(len(x) // 2, int(seconds * fs))
    ramp = 0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, n))
    out = x.copy()
    out[:n] *= ramp[:, None]
    out[len(x) - n :] *= ramp[::-1, None]
    return out


def sine(freq: float, seconds: float, amp: float = 0.5, fs: int = FS, phase: float = 0.0):
    t = np.arange(int(seconds * fs)) / fs
    mono = amp * np.sin(2 * np.pi * freq * t + phase)
    return np.stack([mono, mono], axis=1).astype(np.float32)


def pink(seconds: float, rms: float = 0.1, fs: int = FS, seed: int = 1):
    n = int(seconds * fs)
    white = np.random.default_rng(seed).standard_normal((n, 2))
    spec = np.fft.rfft(white, axis=0)
    freqs = np.fft.rfftfreq(n, 1 / fs)
    spec[1:] /= np.sqrt(freqs[1:, None])
    spec[0] = 0
    x = np.fft.irfft(spec, n=n, axis=0)
    return _fade(rms * x / x.std(), fs).astype(np.float32)


def music(seconds: float, fs: int = FS, seed: int = 2, gain: float = 1.0):
    """Chords, a bass line, band-limited drum hits and loud/quiet sections."""
    rng = np.random.default_rng(seed)
    n = int(seconds * fs)
    t = np.arange(n) / fs
    x = np.zeros((n, 2))
    cycle = np.linspace(0.0, 1.0, 2049)
    table = sum(0.04 / h * np.sin(2 * np.pi * h * cycle) for h in range(1, 8))  # 7 harmonics
    for i, f in enumerate([110.0, 220.0, 277.2, 329.6, 440.0, 659.3]):
        env = np.exp(-((t + 0.37 * i) % 1.6) * 2.5)
        x[:, 0] += np.interp((f * t + i / 7) % 1.0, cycle, table) * env
        x[:, 1] += np.interp((1.002 * f * t + 2 * i / 7) % 1.0, cycle, table) * env
    beat = (t % 0.5) / 0.5
    kick_freq = 50 + 120 * np.exp(-beat * 30)  # pitch drop, phase-continuous (no clicks)
    kick = np.sin(2 * np.pi * np.cumsum(kick_freq) / fs) * np.exp(-beat * 12)
    noise = np.convolve(rng.standard_normal(n), np.hanning(5) / 2.5, mode="same")  # ~< 16 kHz
    snare = noise * np.exp(-(((t + 0.25) % 0.5) / 0.5) * 25)
    x += (0.5 * kick + 0.25 * snare)[:, None]
    sections = np.where((t % 8.0) < 5.0, 1.0, 0.12)  # loud verse, quiet break
    x *= uniform_filter1d(sections, 2205)[:, None]  # 50 ms transitions
    return _fade(gain * x, fs).astype(np.float32)


def steps(levels_db: list[float], seconds_each: float, fs: int = FS):
    """1 kHz stereo sine at successive amplitudes (dBFS peak), EBU Tech 3342 style."""
    parts = [sine(1000.0, seconds_each, 10 ** (db / 20), fs) for db in levels_db]
    return _fade(np.concatenate(parts), fs)


@pytest.fixture(scope="session")
def sig() -> SimpleNamespace:
    """Signal generators (float32, (frames, 2), 44.1 kHz unless told)."""
    return SimpleNamespace(sine=sine, pink=pink, music=music, steps=steps, fade=_fade, fs=FS)


def _ebur128(path: Path) -> dict[str, float]:
    cmd = ["ffmpeg", "-nostdin", "-nostats", "-hide_banner", "-i", str(path), "-filter_complex",
           "ebur128=peak=true:metadata=1,ametadata=print:file=-", "-f", "null", "-"]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout

    def last(key: str) -> float:
        values = re.findall(rf"lavfi\.r128\.{key}=(\S+)", out)
        return float(values[-1])

    peak = last("true_peak")
    return {
        "I": last("I"),
        "LRA": last("LRA"),
        "TP": 20 * math.log10(peak) if peak > 0 else -math.inf,
    }


@pytest.fixture
def ebur128(tmp_path: Path):
    """FFmpeg's ebur128 filter (peak=true) on an array: {'I', 'LRA', 'TP' (dBTP)}."""

    def run(x: np.ndarray, fs: int = FS) -> dict[str, float]:
        path = tmp_path / "ebur128-input.wav"
        sf.write(path, x, fs, subtype="FLOAT")
        return _ebur128(path)

    return run
