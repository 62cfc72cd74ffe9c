"""Rendering single notes from a General-MIDI SoundFont, with a bounded cache.

Ambient music repeats the same notes at the same lengths many times, so each
distinct (program, pitch, velocity, length) is rendered once through
TinySoundFont and then mixed in numpy wherever it recurs. This keeps hour-long
renders fast, keeps memory bounded (one synthesizer, an LRU cache with a byte
budget) and makes the output independent of chunk boundaries.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

RELEASE_BLOCK = 4096
MAX_RELEASE_S = 6.0
SILENCE = 1e-4
VELOCITY_STEP = 8
HOLD_QUANTUM = 256  # frames


class SoundFontError(RuntimeError):
    """The SoundFont is missing or unreadable."""


NoteFn = Callable[[int, int, int], np.ndarray]


class NoteCache:
    """LRU cache of rendered notes with a byte budget."""

    def __init__(self, budget_bytes: int) -> None:
        self.budget = budget_bytes
        self.used = 0
        self.hits = 0
        self.misses = 0
        self._items: OrderedDict[tuple, np.ndarray] = OrderedDict()

    def get(self, key: tuple, render: Callable[[], np.ndarray]) -> np.ndarray:
        item = self._items.get(key)
        if item is not None:
            self.hits += 1
            self._items.move_to_end(key)
            return item
        self.misses += 1
        item = render()
        item.setflags(write=False)
        self._items[key] = item
        self.used += item.nbytes
        while self.used > self.budget and len(self._items) > 1:
            _, evicted = self._items.popitem(last=False)
            self.used -= evicted.nbytes
        return item


class SoundFontSampler:
    """Renders one note of a GM program to a stereo float32 array (hold + release tail)."""

    def __init__(self, soundfont: Path, sample_rate: int = 44100) -> None:
        try:
            import tinysoundfont
        except ImportError as error:  # pragma: no cover - setup installs it
            raise SoundFontError("tinysoundfont is not installed; run scripts/setup.sh") from error
        if not Path(soundfont).exists():
            raise SoundFontError(f"SoundFont not found: {soundfont}")
        self.sample_rate = sample_rate
        self._synth = tinysoundfont.Synth(samplerate=sample_rate)
        try:
            self._sfid = self._synth.sfload(str(soundfont))
        except Exception as error:
            raise SoundFontError(f"cannot load SoundFont {soundfont}: {error}") from error
        self._levels: dict[int, float] = {}

    def render_note(self, program: int, pitch: int, velocity: int, hold_frames: int) -> np.ndarray:
        synth = self._synth
        synth.program_select(0, self._sfid, 0, program)
        synth.noteon(0, pitch, velocity)
        parts = [self._generate(hold_frames)] if hold_frames else []
        synth.noteoff(0, pitch)
        for _ in range(int(MAX_RELEASE_S * self.sample_rate / RELEASE_BLOCK)):
            block = self._generate(RELEASE_BLOCK)
            parts.append(block)
            if np.abs(block).max() < SILENCE:
                break
        synth.sounds_off(0)
        self._generate(RELEASE_BLOCK)  # let the synth settle so the next note starts clean
        audio = np.concatenate(parts) if parts else np.zeros((0, 2), np.float32)
        return audio * self.level(program)

    def level(self, program: int) -> float:
        """Gain that brings a program to a common loudness (SoundFonts vary by 20 dB)."""
        if program not in self._levels:
            self._levels[program] = 1.0
            probe = self.render_note(program, 60, 96, self.sample_rate)
            rms = float(np.sqrt(np.mean(probe[: self.sample_rate] ** 2)) + 1e-9)
            self._levels[program] = float(np.clip(0.1 / rms, 0.05, 20.0))
        return self._levels[program]

    def _generate(self, frames: int) -> np.ndarray:
        data = self._synth.generate(frames)
        return np.frombuffer(data, dtype=np.float32).reshape(-1, 2).copy()


def quantize(velocity: int, hold_s: float, sample_rate: int) -> tuple[int, int, float]:
    """Cache-friendly velocity and hold, plus the residual gain for the exact velocity."""
    stepped = int(np.clip(round(velocity / VELOCITY_STEP) * VELOCITY_STEP, VELOCITY_STEP, 127))
    hold = round(hold_s * sample_rate / HOLD_QUANTUM) * HOLD_QUANTUM
    residual = (velocity / stepped) ** 2
    return stepped, max(hold, HOLD_QUANTUM), residual


_idle: dict[tuple[str, int], list[SoundFontSampler]] = {}
_idle_lock = threading.Lock()
MAX_IDLE_SAMPLERS = 2


@contextmanager
def borrowed_sampler(soundfont: Path, sample_rate: int) -> Iterator[SoundFontSampler]:
    """A loaded sampler for one render, reused by later renders in this process.

    Loading and level-calibrating a General-MIDI SoundFont takes about a second;
    a server making many tracks pays it once per concurrent render instead of once
    per track. A sampler is never shared by two renders at the same time.
    """
    key = (str(Path(soundfont).resolve()), sample_rate)
    with _idle_lock:
        idle = _idle.setdefault(key, [])
        sampler = idle.pop() if idle else None
    if sampler is None:
        sampler = SoundFontSampler(Path(soundfont), sample_rate)
    try:
        yield sampler
    finally:
        with _idle_lock:
            if len(_idle[key]) < MAX_IDLE_SAMPLERS:
                _idle[key].append(sampler)
