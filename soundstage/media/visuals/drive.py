"""Per-frame control signals every template reads: motion time, energy, beat pulses, entry.

All signals are plain float32 arrays with one value per frame, computed once per clip,
so a template's per-frame work is only pixels.

Beat pulse (``pulse``): on the frame nearest each beat the pulse jumps to the beat's
amplitude (1.0 on a downbeat, 0.6 on other beats, a little more when the music is
energetic) and decays exponentially to 10 % after a third of the local beat period
(the gap to the next beat), so every beat reads as a distinct hit even at 180 BPM.
When beats come faster than three a second, every other non-downbeat hit is halved:
photosensitivity guidelines (WCAG 2.3.1) advise against more than three flashes a
second.

Entry (``entry``): clips start on beats, and a cut should land like one. The first
frame of a clip jumps to 0.55 (0.9 when the clip opens a section) and decays over
~0.25 s; templates turn it into a flash and a zoom punch.

Motion time (``phase``): seconds of motion, advancing faster when the energy is high
(0.3x at silence up to 1.6x at full energy), so calm passages drift and loud ones rush.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from soundstage.media.visuals.spec import ClipSpec

DEFAULT_ENERGY = 0.5
DEFAULT_BEAT_S = 0.5  # assumed beat period when a clip has a single beat
BEAT_AMP = 0.6
DOWNBEAT_AMP = 1.0
ENTRY_AMP = 0.55
ENTRY_AMP_SECTION = 0.9
ENTRY_DECAY_S = 0.25
MIN_FLASH_PERIOD_S = 1 / 3
# Section labels that read as louder or quieter than their energy alone says.
SECTION_GAIN = {"chorus": 1.15, "drop": 1.2, "hook": 1.1, "intro": 0.85, "outro": 0.85}


@dataclass(frozen=True)
class Drive:
    """The per-frame signals of one clip (all arrays have ``n_frames`` entries)."""

    fps: int
    t: np.ndarray  # clip-relative seconds of each frame
    energy: np.ndarray  # 0..1, smoothed a little
    phase: np.ndarray  # accumulated motion time in seconds (energy-weighted)
    pulse: np.ndarray  # beat envelope, 0 between beats, up to ~1.2 on a loud downbeat
    down: np.ndarray  # the part of ``pulse`` that comes from downbeats
    beat_count: np.ndarray  # int32: beats started at or before each frame
    entry: np.ndarray  # entry-transition envelope, 0..0.9
    gain: float  # section intensity hint

    @property
    def n_frames(self) -> int:
        return len(self.t)

    def hit(self, i: int) -> float:
        """Beat pulse plus entry transition at frame ``i``, 0..~1.5."""
        return float(self.pulse[i] + self.entry[i])


def beat_frames(times: tuple[float, ...] | list[float], fps: int, n_frames: int) -> np.ndarray:
    """Frame index of each beat (nearest frame), dropping beats outside the clip."""
    frames = np.round(np.asarray(times, dtype=np.float64) * fps).astype(np.int64)
    return frames[(frames >= 0) & (frames < n_frames)]


def make_drive(spec: ClipSpec) -> Drive:
    """Compute the control signals of ``spec``."""
    n, fps = spec.n_frames, spec.fps
    t = np.arange(n, dtype=np.float32) / fps
    gain = SECTION_GAIN.get(spec.section_label.strip().lower(), 1.0)
    energy = _energy(spec)
    speed = (0.3 + 1.3 * energy) * gain
    phase = np.concatenate([[0.0], np.cumsum(speed[:-1] / fps)]).astype(np.float32)

    pulse = np.zeros(n, dtype=np.float32)
    down = np.zeros(n, dtype=np.float32)
    count = np.zeros(n, dtype=np.int32)
    beats = sorted(set(float(b) for b in spec.beats) | set(float(b) for b in spec.downbeats))
    downs = {int(f) for f in beat_frames(spec.downbeats, fps, n)}
    frames = np.unique(beat_frames(beats, fps, n))
    for k, f in enumerate(frames):
        nxt = frames[k + 1] if k + 1 < len(frames) else None
        prv = frames[k - 1] if k > 0 else None
        gap = (nxt - f) if nxt is not None else (f - prv) if prv is not None else None
        period = gap / fps if gap else DEFAULT_BEAT_S
        is_down = int(f) in downs
        amp = (DOWNBEAT_AMP if is_down else BEAT_AMP) * (0.8 + 0.4 * float(energy[f])) * gain
        if period < MIN_FLASH_PERIOD_S and not is_down and k % 2:
            amp *= 0.5  # photosensitivity: no more than ~3 full flashes a second
        # exp(-d / tau) reaches 10 % a third of a beat after the hit.
        tau = max(0.5, period * fps / 3.0 / np.log(10.0))
        d = np.arange(n - f, dtype=np.float32)
        env = amp * np.exp(-d / tau)
        env[d > 4.0 * tau] = 0.0
        np.maximum(pulse[f:], env, out=pulse[f:])
        if is_down:
            np.maximum(down[f:], env, out=down[f:])
        count[f:] += 1

    entry_amp = ENTRY_AMP_SECTION if spec.first_in_section else ENTRY_AMP
    entry = (entry_amp * np.exp(-t / (ENTRY_DECAY_S / np.log(10.0)))).astype(np.float32)
    entry[t > 2.0 * ENTRY_DECAY_S] = 0.0
    return Drive(fps, t, energy, phase, pulse, down, count, entry, gain)


def _energy(spec: ClipSpec) -> np.ndarray:
    if not spec.energy:
        return np.full(spec.n_frames, DEFAULT_ENERGY, dtype=np.float32)
    e = np.clip(np.asarray(spec.energy, dtype=np.float32), 0.0, 1.0)
    if len(e) >= 5:  # a light smoothing: per-frame analysis values can jitter
        k = np.array([1, 2, 3, 2, 1], dtype=np.float32) / 9.0
        e = np.convolve(np.pad(e, 2, mode="edge"), k, mode="valid").astype(np.float32)
    return e
