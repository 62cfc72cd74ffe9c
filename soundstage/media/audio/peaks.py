"""Waveform peaks: a fixed number of max-amplitude points for drawing any length of audio.

A browser cannot decode a 60-minute file just to draw it; the server streams the
file once at a low sample rate and keeps one peak per drawn bar.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from soundstage.media.audio.decode import read_chunks

PEAKS_SAMPLE_RATE = 4000  # enough to see the envelope; 11x less data than 44.1 kHz


def waveform_peaks(
    path: Path | str,
    duration_s: float,
    points: int = 2000,
    *,
    sample_rate: int = PEAKS_SAMPLE_RATE,
) -> np.ndarray:
    """`points` peak amplitudes (0..1, float32) evenly spread over `duration_s` of the file.

    Memory stays at one decode chunk whatever the length: each chunk's samples
    are folded into their buckets (a running maximum per bucket). Audio past
    `duration_s` lands in the last bucket; buckets never reached stay 0.
    """
    if points < 1:
        raise ValueError("points must be at least 1")
    if duration_s <= 0:
        raise ValueError("duration_s must be positive")
    per_bucket = max(duration_s * sample_rate / points, 1.0)
    peaks = np.zeros(points, dtype=np.float32)
    start = 0
    for chunk in read_chunks(path, sample_rate, channels=1, chunk_frames=sample_rate * 30):
        amplitude = np.abs(chunk[:, 0])
        index = ((start + np.arange(len(amplitude))) / per_bucket).astype(np.int64)
        np.minimum(index, points - 1, out=index)
        firsts = np.concatenate(([0], np.flatnonzero(np.diff(index)) + 1))
        buckets = index[firsts]  # ascending and distinct: the reduceat runs are whole buckets
        peaks[buckets] = np.maximum(peaks[buckets], np.maximum.reduceat(amplitude, firsts))
        start += len(amplitude)
    return np.minimum(peaks, 1.0)
