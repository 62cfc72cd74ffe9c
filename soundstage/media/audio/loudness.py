"""Streaming loudness meter: ITU-R BS.1770-4 / EBU R128 (Tech 3341, 3342).

The meter keeps one number per 100 ms segment (the K-weighted, channel-weighted
mean square), so memory stays tiny: a 3 h track is 108,000 floats. Every
gated quantity is derived from those segments when `report()` is called:

- integrated loudness: 400 ms blocks every 100 ms (75 % overlap), absolute
  gate -70 LUFS, relative gate -10 LU;
- loudness range (Tech 3342): 3 s short-term windows every 100 ms, absolute
  gate -70 LUFS, relative gate -20 LU, 95th minus 10th percentile;
- true peak: 4x oversampling (see `_oversample`), plus the sample peak.

The signal is taken to be preceded and followed by silence, so an abrupt
loud ending counts with the overshoot a DAC would produce there.

Silence reads as ``-inf`` (integrated, peaks) and 0.0 LU range;
`LoudnessReport.to_dict()` maps ``-inf`` to ``None`` so it is JSON-safe.
Results do not depend on how the signal is cut into blocks: the filters
carry their state, and partial segments are kept until complete.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy.signal import sosfilt

from soundstage.media.audio import _oversample as ovs

ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0
LRA_RELATIVE_GATE_LU = -20.0
LUFS_OFFSET = -0.691
_WORK_FRAMES = 32768  # filter in pieces of this size: cache-friendly, same result


@dataclass(frozen=True)
class LoudnessReport:
    """Loudness of a signal. ``-inf`` means silence (no block above the gate)."""

    integrated_lufs: float
    loudness_range_lu: float
    true_peak_dbtp: float
    sample_peak_dbfs: float
    duration_s: float

    def to_dict(self) -> dict[str, float | None]:
        """JSON-safe dict: non-finite values become ``None``."""
        return {k: (v if math.isfinite(v) else None) for k, v in asdict(self).items()}


def k_weighting_sos(sample_rate: int) -> np.ndarray:
    """BS.1770 K-weighting (shelf + RLB high-pass) as two biquads for any rate.

    Coefficients follow libebur128's analog prototypes; at 48 kHz they equal
    the tables of BS.1770-4.
    """
    fs = float(sample_rate)
    f0, gain_db, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / fs)
    vh = 10.0 ** (gain_db / 20.0)
    vb = vh**0.4996667741545416
    a0 = 1.0 + k / q + k * k
    shelf = [
        (vh + vb * k / q + k * k) / a0,
        2.0 * (k * k - vh) / a0,
        (vh - vb * k / q + k * k) / a0,
        1.0,
        2.0 * (k * k - 1.0) / a0,
        (1.0 - k / q + k * k) / a0,
    ]
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / fs)
    a0 = 1.0 + k / q + k * k
    highpass = [1.0, -2.0, 1.0, 1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0]
    return np.array([shelf, highpass], dtype=np.float64)


def channel_weights(channels: int) -> np.ndarray:
    """BS.1770 channel weights; 6 channels are read as 5.1 (L R C LFE Ls Rs)."""
    if channels == 6:
        return np.array([1.0, 1.0, 1.0, 0.0, 1.41, 1.41])
    return np.ones(channels)


def _lufs(energy: float) -> float:
    return LUFS_OFFSET + 10.0 * math.log10(energy) if energy > 0.0 else -math.inf


def _db(amplitude: float) -> float:
    return 20.0 * math.log10(amplitude) if amplitude > 0.0 else -math.inf


def _window_means(segments: np.ndarray, width: int) -> np.ndarray:
    """Mean of every run of `width` consecutive segments (complete windows only)."""
    if len(segments) < width:
        return np.zeros(0)
    return np.lib.stride_tricks.sliding_window_view(segments, width).sum(axis=1) / width


def _gated(energies: np.ndarray, relative_lu: float) -> np.ndarray:
    """Energies above the absolute gate and then above the relative gate."""
    absolute = 10.0 ** ((ABSOLUTE_GATE_LUFS - LUFS_OFFSET) / 10.0)
    kept = energies[energies > absolute]
    if kept.size == 0:
        return kept
    return kept[kept > kept.mean() * 10.0 ** (relative_lu / 10.0)]


def integrated_from_segments(segments: np.ndarray) -> float:
    """Gated integrated loudness (LUFS) from 100 ms segment energies."""
    kept = _gated(_window_means(segments, 4), RELATIVE_GATE_LU)
    return _lufs(float(kept.mean())) if kept.size else -math.inf


def range_from_segments(segments: np.ndarray) -> float:
    """EBU Tech 3342 loudness range (LU) from 100 ms segment energies."""
    kept = _gated(_window_means(segments, 30), LRA_RELATIVE_GATE_LU)
    if kept.size < 2:
        return 0.0
    loud = LUFS_OFFSET + 10.0 * np.log10(kept)
    low, high = np.percentile(loud, [10.0, 95.0])
    return float(high - low)


class LoudnessMeter:
    """Streaming BS.1770-4 meter: feed blocks with `add`, read with `report`.

    Blocks are float arrays shaped (frames, channels) of any length. Set
    ``true_peak=False`` to skip oversampling when only loudness is needed
    (``true_peak_dbtp`` is then NaN, ``None`` in `LoudnessReport.to_dict`).
    """

    def __init__(self, sample_rate: int, channels: int = 2, *, true_peak: bool = True) -> None:
        if sample_rate < 8000 or channels < 1:
            raise ValueError("sample_rate must be >= 8000 and channels >= 1")
        self.sample_rate = sample_rate
        self.channels = channels
        self._sos = k_weighting_sos(sample_rate)
        self._zi = np.zeros((2, channels, 2))
        self._weights = channel_weights(channels)
        self._seg_len = round(sample_rate / 10)
        self._pending = np.zeros(0)  # per-frame energies of the open segment
        self._segments = np.zeros(1024)
        self._count = 0
        self._frames = 0
        self._true_peak = true_peak
        self._tp_hist = np.zeros((channels, ovs.TAPS - 1), dtype=np.float32)
        self._peak = 0.0  # max |interpolated| so far (includes sample peaks)
        self._sample_peak = 0.0

    def add(self, block: np.ndarray) -> None:
        """Measure the next block of frames (carries all filter state)."""
        x = _as_frames(block, self.channels)
        for start in range(0, len(x), _WORK_FRAMES):
            self._add_piece(x[start : start + _WORK_FRAMES])

    def _add_piece(self, x: np.ndarray) -> None:
        xt = np.ascontiguousarray(x.T, dtype=np.float32)
        self._frames += xt.shape[1]
        peak = float(np.abs(xt).max(initial=0.0))
        self._sample_peak = max(self._sample_peak, peak)
        self._add_energy(xt)
        if self._true_peak:
            z = np.concatenate([self._tp_hist, xt], axis=1)
            self._tp_hist = z[:, -(ovs.TAPS - 1) :]
            self._peak = ovs.max_interval_peak(z, max(self._peak, peak))

    def _add_energy(self, xt: np.ndarray) -> None:
        y, self._zi = sosfilt(self._sos, xt.astype(np.float64), axis=-1, zi=self._zi)
        energy = np.zeros(y.shape[1])
        for ch, weight in enumerate(self._weights):
            if weight:
                sq = y[ch] * y[ch]
                energy += sq if weight == 1.0 else sq * weight
        energy = np.concatenate([self._pending, energy])
        full = len(energy) // self._seg_len * self._seg_len
        self._push_segments(energy[:full].reshape(-1, self._seg_len).sum(axis=1) / self._seg_len)
        self._pending = energy[full:]

    def _push_segments(self, values: np.ndarray) -> None:
        need = self._count + len(values)
        if need > len(self._segments):
            grown = np.zeros(max(need, 2 * len(self._segments)))
            grown[: self._count] = self._segments[: self._count]
            self._segments = grown
        self._segments[self._count : need] = values
        self._count = need

    @property
    def segments(self) -> np.ndarray:
        """Completed 100 ms segment energies (K-weighted, channel-weighted)."""
        return self._segments[: self._count]

    def report(self) -> LoudnessReport:
        """Current measurement; feeding may continue afterwards."""
        peak = self._sample_peak
        if self._true_peak:
            tail = np.concatenate(
                [self._tp_hist, np.zeros((self.channels, ovs.HALF), dtype=np.float32)], axis=1
            )
            peak = ovs.max_interval_peak(tail, max(self._peak, peak))
        return LoudnessReport(
            integrated_lufs=integrated_from_segments(self.segments),
            loudness_range_lu=range_from_segments(self.segments),
            true_peak_dbtp=_db(peak) if self._true_peak else math.nan,
            sample_peak_dbfs=_db(self._sample_peak),
            duration_s=self._frames / self.sample_rate,
        )


def _as_frames(block: np.ndarray, channels: int) -> np.ndarray:
    """Validate a (frames, channels) block; a 1-D block is mono."""
    x = np.asarray(block)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[1] != channels:
        raise ValueError(f"expected a (frames, {channels}) block, got shape {x.shape}")
    return x


def measure(samples: np.ndarray, sample_rate: int) -> LoudnessReport:
    """Loudness of a whole in-memory signal shaped (frames, channels) or (frames,)."""
    x = np.asarray(samples)
    meter = LoudnessMeter(sample_rate, 1 if x.ndim == 1 else x.shape[1])
    meter.add(x)
    return meter.report()


def measure_chunks(
    chunks: Iterator[np.ndarray], sample_rate: int, channels: int, *, true_peak: bool = True
) -> LoudnessReport:
    """Loudness of a stream of (frames, channels) chunks."""
    meter = LoudnessMeter(sample_rate, channels, true_peak=true_peak)
    for chunk in chunks:
        meter.add(chunk)
    return meter.report()


def measure_file(path: Path, chunk_s: float = 10.0, *, true_peak: bool = True) -> LoudnessReport:
    """Loudness of an audio file, decoded by FFmpeg in chunks at its own rate."""
    from soundstage.media.audio.decode import probe_audio, read_chunks

    info = probe_audio(path)
    rate, channels = info.sample_rate, info.channels
    chunks = read_chunks(
        path, sample_rate=rate, channels=channels, chunk_frames=max(1, int(chunk_s * rate))
    )
    return measure_chunks(chunks, rate, channels, true_peak=true_peak)
