"""Vocal activity regions from a transparent frame-level detector.

Per frame (docs/analysis.md, "Vocal activity"):
- `band`: share of the harmonic (HPSS) energy in the 200–4000 Hz voice band;
- `tonal`: 1 − spectral flatness ramp (voiced sounds are peaky, noise is flat);
- `moving`: pitch motion of the partials (`Features.pitch_motion`, cents per 46 ms,
  averaged over 0.3 s) ramped from 8 to 20 cents: voices glide and wobble (vibrato,
  intonation) inside a note, plucked, struck and keyboard notes hold their pitch;
- `instability`: chroma change (1 − cosine) over ~90 ms;
- `timbre`: MFCC change over ~50 ms (formants move as vowels change).
score = band · tonal · moving · (0.5 + 0.25 · instability + 0.25 · timbre),
median-filtered over 0.5 s, thresholded, regions shorter than `min_duration`
dropped and gaps shorter than `max_gap` closed. Heuristic: lead instruments
with vibrato (violin, flute, theremin) can pass for a voice, and a voice
with no pitch movement (a straight synthetic tone) or buried under an equally
loud sustained accompaniment is missed.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import median_filter, uniform_filter1d

from soundstage.media.analysis.descriptors import SILENCE_DBFS
from soundstage.media.analysis.features import EPS, Features

THRESHOLD = 0.2
MOTION_CENTS = (8.0, 20.0)  # smoothed pitch motion per 46 ms: steady notes ~0, voices 20–40


def vocal_score(feat: Features) -> np.ndarray:
    """Per-frame vocal likelihood, 0..1 (before smoothing)."""
    if feat.n_frames < 3:
        return np.zeros(feat.n_frames, dtype=np.float32)
    band = feat.hpss_frames[2] / (feat.mel.sum(axis=0) + EPS)  # harmonic, 200–4000 Hz
    tonal = 1.0 - np.clip((feat.flatness - 0.02) / 0.2, 0.0, 1.0)
    lag = max(1, round(0.09 * feat.frame_rate))
    c = feat.chroma
    prev = np.concatenate([c[:, :lag], c[:, :-lag]], axis=1)
    cos = (c * prev).sum(axis=0) / (np.linalg.norm(c, axis=0) * np.linalg.norm(prev, axis=0) + EPS)
    instability = np.clip((1.0 - cos - 0.15) / 0.35, 0.0, 1.0)
    mf = feat.mfcc[1:]
    lag2 = max(1, round(0.05 * feat.frame_rate))
    delta = np.abs(mf - np.concatenate([mf[:, :lag2], mf[:, :-lag2]], axis=1)).mean(axis=0)
    timbre = np.clip((delta - 4.0) / 6.0, 0.0, 1.0)
    # the variation cues are averaged over ~0.3 s: a glide is sustained, a note change is not
    win = max(1, round(0.3 * feat.frame_rate))
    instability = uniform_filter1d(instability, win)
    timbre = uniform_filter1d(timbre, win)
    rms_db = 20.0 * np.log10(feat.rms + EPS)
    loud = rms_db > max(SILENCE_DBFS + 15.0, float(np.percentile(rms_db, 95)) - 30.0)
    # pitch that keeps moving inside a note (vibrato, glides) separates a voice from
    # plucked, struck and keyboard notes, whose note changes alone fire the cues above
    motion = uniform_filter1d(feat.pitch_motion.astype(np.float64), win)
    moving = np.clip((motion - MOTION_CENTS[0]) / (MOTION_CENTS[1] - MOTION_CENTS[0]), 0.0, 1.0)
    variation = 0.5 + 0.25 * instability + 0.25 * timbre
    score = np.clip(band * 1.3, 0, 1) * tonal * moving * variation * loud
    return score.astype(np.float32)


def detect_vocals(
    feat: Features,
    *,
    threshold: float = THRESHOLD,
    smooth_s: float = 0.5,
    min_duration: float = 0.6,
    max_gap: float = 0.8,
) -> list[tuple[float, float]]:
    """Vocal regions [(start, end), ...] in seconds, sorted, non-overlapping."""
    score = vocal_score(feat)
    if score.size == 0:
        return []
    k = max(1, round(smooth_s * feat.frame_rate)) | 1
    active = median_filter(score, size=k, mode="nearest") >= threshold
    return mask_to_regions(active, feat.frame_rate, feat.duration_s, min_duration, max_gap)


def mask_to_regions(
    active: np.ndarray, frame_rate: float, duration: float, min_duration: float, max_gap: float
) -> list[tuple[float, float]]:
    """Runs of True frames as (start, end) seconds, gaps closed, short runs dropped."""
    edges = np.diff(np.concatenate([[0], active.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    regions: list[list[float]] = []
    for s, e in zip(starts, ends, strict=True):
        t0, t1 = s / frame_rate, min(duration, e / frame_rate)
        if regions and t0 - regions[-1][1] < max_gap:
            regions[-1][1] = t1
        else:
            regions.append([t0, t1])
    return [(round(a, 3), round(b, 3)) for a, b in regions if b - a >= min_duration]
