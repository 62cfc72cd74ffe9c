"""4x polyphase interpolation for true-peak (inter-sample peak) detection.

BS.1770-4 Annex 2 measures true peak by oversampling 4x and taking the
largest absolute value. The interpolator here is a Kaiser-windowed sinc with
`TAPS` taps per phase (flat within 0.15 dB to 19 kHz at 44.1 kHz, then
rolling off towards Nyquist like the BS.1770 reference filter). Phase 0 is
the input itself, so only the three fractional phases are computed, and their
symmetry saves a third of the work. The arithmetic is plain element-wise
numpy (multiply, add, in a fixed order), so every interpolated value depends
only on its input window: results are bit-identical whatever the block sizes.

Cost: about 25 ns per stereo frame (~900x realtime) on one 2020s core when
every interval is computed; quieter passages are skipped (see below).

`PEAK_BOUND` is the largest sum of absolute coefficients of any phase: no
interpolated value can exceed `PEAK_BOUND * max|input window|`. Callers use it
to skip regions that provably cannot raise the peak they care about.
"""

from __future__ import annotations

import numpy as np

OVERSAMPLE = 4
TAPS = 24  # per phase
HALF = TAPS // 2
KAISER_BETA = 6.0
SUB_BLOCK = 16384  # windows per unit of work: amortizes numpy call overhead


def _design() -> np.ndarray:
    """Coefficients (3, TAPS), float64, oldest input sample first."""
    j = np.arange(-HALF, HALF, dtype=np.float64)
    rows = []
    for p in range(1, OVERSAMPLE):
        t = j + p / OVERSAMPLE  # distance from the output point to x[i - j]
        window = np.i0(KAISER_BETA * np.sqrt(1.0 - (t / HALF) ** 2)) / np.i0(KAISER_BETA)
        rows.append((np.sinc(t) * window)[::-1])  # coefficient for z[w + k]: h(j = HALF-1-k)
    h = np.asarray(rows)
    h[1] = 0.5 * (h[1] + h[1][::-1])  # the half-sample phase is symmetric...
    h[2] = h[0][::-1]  # ...and the 3/4 phase mirrors the 1/4 phase: make both exact
    return h


PHASES = _design()
PEAK_BOUND = float(np.abs(PHASES).sum(axis=1).max()) * (1.0 + 1e-5)
# Folded coefficients (see `interval_peaks`), for k < HALF.
_HALF_PHASE = PHASES[1, :HALF].astype(np.float32)
_QUARTER_SUM = (PHASES[0, :HALF] + PHASES[0, ::-1][:HALF]).astype(np.float32)
_QUARTER_DIFF = (PHASES[0, :HALF] - PHASES[0, ::-1][:HALF]).astype(np.float32)


def interval_peaks(z: np.ndarray) -> np.ndarray:
    """Largest |interpolated value| per input interval, over channels and phases.

    `z` is (channels, n + TAPS - 1) float32. Output element `w` is the peak of
    the three points between `z[:, w + HALF - 1]` and `z[:, w + HALF]`.
    The symmetry of the phases is folded in: with ``s_k = z[k] + z[-1-k]`` and
    ``d_k = z[k] - z[-1-k]``, the half-sample point is ``sum(a_k s_k)`` and the
    1/4 and 3/4 points are ``(S +- D) / 2`` with ``S = sum(b_k s_k)``,
    ``D = sum(c_k d_k)``, so ``max(|y1|, |y3|) = (|S| + |D|) / 2``: 8 array
    operations per tap pair instead of 12.
    """
    n = z.shape[1] - TAPS + 1
    if n <= 0:
        return np.zeros(0, dtype=np.float32)
    shape = (z.shape[0], n)
    half, quarter_sum, quarter_diff = (np.zeros(shape, np.float32) for _ in range(3))
    pair_sum, pair_diff, tmp = (np.empty(shape, np.float32) for _ in range(3))
    for k in range(HALF):
        lo, hi = z[:, k : k + n], z[:, TAPS - 1 - k : TAPS - 1 - k + n]
        np.add(lo, hi, out=pair_sum)
        np.subtract(lo, hi, out=pair_diff)
        half += np.multiply(pair_sum, _HALF_PHASE[k], out=tmp)
        quarter_sum += np.multiply(pair_sum, _QUARTER_SUM[k], out=tmp)
        quarter_diff += np.multiply(pair_diff, _QUARTER_DIFF[k], out=tmp)
    np.abs(half, out=half)
    np.abs(quarter_sum, out=quarter_sum)
    np.abs(quarter_diff, out=quarter_diff)
    quarter_sum += quarter_diff
    quarter_sum *= np.float32(0.5)
    np.maximum(half, quarter_sum, out=half)
    return half.max(axis=0)


def block_bounds(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Window-range starts (every SUB_BLOCK) and an upper bound of their interpolation."""
    n = z.shape[1] - TAPS + 1
    if n <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    frame_max = np.abs(z).max(axis=0)
    starts = np.arange(0, n, SUB_BLOCK)
    block_max = np.maximum.reduceat(frame_max, starts)
    span_max = block_max.copy()  # a window range reads TAPS - 1 frames into the next block
    span_max[:-1] = np.maximum(block_max[:-1], block_max[1:])
    return starts, span_max.astype(np.float64) * PEAK_BOUND


def max_interval_peak(z: np.ndarray, floor: float) -> float:
    """Largest interpolated |value| in `z` if it exceeds `floor`, else `floor`.

    Ranges whose bound cannot beat the running peak are skipped, which keeps
    the result exact while sparing most of the work on quieter passages.
    """
    n = z.shape[1] - TAPS + 1
    peak = floor
    starts, bounds = block_bounds(z)
    for start, bound in zip(starts.tolist(), bounds.tolist(), strict=True):
        if bound <= peak:
            continue
        seg = z[:, start : min(start + SUB_BLOCK, n) + TAPS - 1]
        peak = max(peak, float(interval_peaks(seg).max(initial=0.0)))
    return peak
