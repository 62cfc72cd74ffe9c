"""Synthesized sounds in numpy: detuned pads, drones, sub bass, and noise textures.

Notes are rendered whole (like SoundFont notes, so they share the note cache);
textures stream chunk by chunk with filter state carried across chunks and
randomness keyed by absolute frame position, so output never depends on how a
render was split.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from functools import lru_cache

import numpy as np
from scipy import signal

TABLE_SIZE = 4096


def midi_hz(pitch: float) -> float:
    return 440.0 * 2.0 ** ((pitch - 69) / 12)


@lru_cache(maxsize=128)
def _saw_table(pitch: int, sample_rate: int) -> np.ndarray:
    """One cycle of a band-limited sawtooth with harmonics below ~0.45 × Nyquist."""
    harmonics = max(1, min(48, int(0.45 * sample_rate / 2 / midi_hz(pitch))))
    phase = np.arange(TABLE_SIZE) / TABLE_SIZE
    k = np.arange(1, harmonics + 1)[:, None]
    table = (np.sin(2 * np.pi * k * phase) / k).sum(axis=0)
    return (table / np.abs(table).max()).astype(np.float32)


def _envelope(total: int, hold: int, attack: int, release: int) -> np.ndarray:
    """Raised-cosine attack to full level, hold, raised-cosine release to zero."""
    env = np.ones(total, dtype=np.float32)
    attack = min(attack, max(1, hold))
    env[:attack] = 0.5 - 0.5 * np.cos(np.pi * np.arange(attack) / attack)
    tail = total - hold
    if tail > 0:
        start_level = env[hold - 1] if hold else 0.0
        env[hold:] = start_level * (0.5 + 0.5 * np.cos(np.pi * np.arange(tail) / tail))
    return env


def _oscillator(table: np.ndarray, hz: float, frames: int, sample_rate: int, phase0: float):
    phase = (hz * np.arange(frames) / sample_rate + phase0) % 1.0
    return table[(phase * TABLE_SIZE).astype(np.int32)]


class PadSynth:
    """Three detuned band-limited saws through a low-pass filter: a warm analog-style pad."""

    def __init__(self, sample_rate: int = 44100, brightness: float = 0.5) -> None:
        self.sample_rate = sample_rate
        cutoff = 600.0 + 3400.0 * brightness**1.5
        self._sos = signal.butter(2, cutoff, fs=sample_rate, output="sos")

    def render_note(self, pitch: int, velocity: int, hold_frames: int) -> np.ndarray:
        sr = self.sample_rate
        release = int(2.5 * sr)
        total = hold_frames + release
        table = _saw_table(pitch, sr)
        hz = midi_hz(pitch)
        voices = [
            _oscillator(table, hz * 2 ** (cents / 1200), total, sr, phase)
            for cents, phase in ((-9.0, 0.13), (0.0, 0.57), (8.0, 0.91))
        ]
        left = voices[0] + 0.7 * voices[1]
        right = voices[2] + 0.7 * voices[1]
        stereo = np.stack([left, right], axis=1)
        stereo = signal.sosfilt(self._sos, stereo, axis=0)
        env = _envelope(total, hold_frames, int(1.5 * sr), release)
        gain = 0.09 * (velocity / 127) ** 1.5
        return (stereo * (env * gain)[:, None]).astype(np.float32)


class DroneSynth:
    """A slowly breathing sine drone with gentle beating between detuned partials."""

    def __init__(self, sample_rate: int = 44100) -> None:
        self.sample_rate = sample_rate

    def render_note(self, pitch: int, velocity: int, hold_frames: int) -> np.ndarray:
        sr = self.sample_rate
        release = int(5.0 * sr)
        total = hold_frames + release
        t = np.arange(total, dtype=np.float64) / sr
        hz = midi_hz(pitch)
        breath = 0.75 + 0.25 * np.sin(2 * np.pi * 0.07 * t + pitch)
        left = np.sin(2 * np.pi * hz * t) + 0.3 * np.sin(2 * np.pi * 2 * hz * t + 0.4)
        right = np.sin(2 * np.pi * hz * 1.0025 * t + 1.1) + 0.12 * np.sin(2 * np.pi * 3 * hz * t)
        env = _envelope(total, hold_frames, int(4.0 * sr), release) * breath
        gain = 0.12 * (velocity / 127)
        return (np.stack([left, right], axis=1) * (env * gain)[:, None]).astype(np.float32)


class SubBassSynth:
    """A round sine sub bass with a touch of second harmonic."""

    def __init__(self, sample_rate: int = 44100) -> None:
        self.sample_rate = sample_rate

    def render_note(self, pitch: int, velocity: int, hold_frames: int) -> np.ndarray:
        sr = self.sample_rate
        release = int(1.2 * sr)
        total = hold_frames + release
        t = np.arange(total, dtype=np.float64) / sr
        hz = midi_hz(pitch)
        wave = np.sin(2 * np.pi * hz * t) + 0.2 * np.sin(4 * np.pi * hz * t)
        env = _envelope(total, hold_frames, int(0.4 * sr), release)
        mono = (wave * env * 0.2 * (velocity / 127)).astype(np.float32)
        return np.stack([mono, mono], axis=1)


SYNTHS = {"pad": PadSynth, "drone": DroneSynth, "sub": SubBassSynth}


# ----------------------------------------------------------------------- textures


def slow_curve(times: np.ndarray, seed: int, rate_hz: float = 0.08) -> np.ndarray:
    """A smooth 0..1 curve of absolute time: a few incommensurate slow sines."""
    rng = np.random.default_rng([seed, 99])
    freqs = rate_hz * rng.uniform(0.4, 1.6, 4)
    phases = rng.uniform(0, 2 * np.pi, 4)
    total = sum(np.sin(2 * np.pi * f * times + p) for f, p in zip(freqs, phases, strict=True))
    return 0.5 + 0.5 * total / 4


class NoiseTexture(ABC):
    """Base for streamed textures: seeded noise per chunk, filters with carried state."""

    def __init__(self, seed: int, sample_rate: int = 44100) -> None:
        self.seed = seed
        self.sample_rate = sample_rate
        self._states: dict[str, np.ndarray] = {}

    def rng(self, frame0: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, frame0])

    def filt(self, name: str, sos: np.ndarray, x: np.ndarray) -> np.ndarray:
        state = self._states.get(name)
        if state is None:
            state = np.zeros((sos.shape[0], 2, x.shape[1]))
        y, self._states[name] = signal.sosfilt(sos, x, axis=0, zi=state)
        return y

    def impulses(self, rng: np.random.Generator, frames: int, rate_hz: float, scale: float):
        """Sparse random clicks (Poisson in time, exponential amplitudes), stereo-placed."""
        count = rng.poisson(rate_hz * frames / self.sample_rate)
        out = np.zeros((frames, 2))
        positions = rng.integers(0, frames, count)
        amplitudes = rng.exponential(scale, count) * rng.choice([-1.0, 1.0], count)
        pans = rng.uniform(0.15, 0.85, count)
        np.add.at(out[:, 0], positions, amplitudes * np.sqrt(1 - pans))
        np.add.at(out[:, 1], positions, amplitudes * np.sqrt(pans))
        return out

    def times(self, frame0: int, frames: int) -> np.ndarray:
        return (frame0 + np.arange(frames)) / self.sample_rate

    @abstractmethod
    def render(self, frame0: int, frames: int, intensity: np.ndarray) -> np.ndarray:
        """Stereo audio for frames [frame0, frame0 + frames) at the given 0..1 intensity."""


class Rain(NoiseTexture):
    def __init__(self, seed: int, sample_rate: int = 44100) -> None:
        super().__init__(seed, sample_rate)
        self.bed = signal.butter(2, [500, 8000], btype="bandpass", fs=sample_rate, output="sos")
        self.drops = signal.butter(2, [2000, 7000], btype="bandpass", fs=sample_rate, output="sos")

    def render(self, frame0, frames, intensity):
        rng = self.rng(frame0)
        bed = self.filt("bed", self.bed, rng.standard_normal((frames, 2))) * 0.35
        drops = self.filt("drops", self.drops, self.impulses(rng, frames, 90.0, 0.9))
        return (bed + drops) * intensity[:, None]


class Wind(NoiseTexture):
    block = 4096

    def render(self, frame0, frames, intensity):
        rng = self.rng(frame0)
        noise = rng.standard_normal((frames, 2))
        out = np.empty_like(noise)
        gust = slow_curve(self.times(frame0, frames), self.seed, 0.05)
        for start in range(0, frames, self.block):
            stop = min(frames, start + self.block)
            centre = 250 + 700 * float(gust[start])
            sos = signal.butter(
                2, [centre * 0.6, centre * 1.6], "bandpass", fs=self.sample_rate, output="sos"
            )
            out[start:stop] = self.filt("band", sos, noise[start:stop])
        return out * (0.35 + 0.65 * gust)[:, None] * intensity[:, None] * 1.4


class Waves(NoiseTexture):
    def __init__(self, seed: int, sample_rate: int = 44100) -> None:
        super().__init__(seed, sample_rate)
        self.body = signal.butter(2, 900, fs=sample_rate, output="sos")
        self.foam = signal.butter(2, 3000, btype="highpass", fs=sample_rate, output="sos")

    def render(self, frame0, frames, intensity):
        rng = self.rng(frame0)
        noise = rng.standard_normal((frames, 2))
        t = self.times(frame0, frames)
        drift = slow_curve(t, self.seed, 0.01)
        swell = (0.5 - 0.5 * np.cos(2 * np.pi * t / 9.0 + 2.0 * drift)) ** 2
        body = self.filt("body", self.body, noise) * 1.2
        foam = self.filt("foam", self.foam, noise) * 0.25 * swell[:, None]
        return (body * (0.25 + 0.75 * swell)[:, None] + foam) * intensity[:, None]


class Vinyl(NoiseTexture):
    def __init__(self, seed: int, sample_rate: int = 44100) -> None:
        super().__init__(seed, sample_rate)
        self.crackle = signal.butter(2, 1200, btype="highpass", fs=sample_rate, output="sos")
        self.hiss = signal.butter(2, 5000, btype="highpass", fs=sample_rate, output="sos")

    def render(self, frame0, frames, intensity):
        rng = self.rng(frame0)
        crackle = self.filt("crackle", self.crackle, self.impulses(rng, frames, 12.0, 1.6))
        hiss = self.filt("hiss", self.hiss, rng.standard_normal((frames, 2))) * 0.06
        return (crackle + hiss) * intensity[:, None]


class Fire(NoiseTexture):
    def __init__(self, seed: int, sample_rate: int = 44100) -> None:
        super().__init__(seed, sample_rate)
        self.pops = signal.butter(2, [900, 5000], btype="bandpass", fs=sample_rate, output="sos")
        self.roar = signal.butter(2, 250, fs=sample_rate, output="sos")

    def render(self, frame0, frames, intensity):
        rng = self.rng(frame0)
        flicker = slow_curve(self.times(frame0, frames), self.seed, 0.3)
        pops = self.filt("pops", self.pops, self.impulses(rng, frames, 25.0, 1.2))
        roar = self.filt("roar", self.roar, rng.standard_normal((frames, 2))) * 0.8
        return (pops + roar * (0.5 + 0.5 * flicker)[:, None]) * intensity[:, None]


TEXTURE_CLASSES = {"rain": Rain, "wind": Wind, "waves": Waves, "vinyl": Vinyl, "fire": Fire}
