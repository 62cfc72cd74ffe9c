"""Streaming look-ahead true-peak limiter.

The gain is computed from a 4x-oversampled peak envelope (channels linked),
so the output's true peak stays under the ceiling, not just its samples:

1. envelope ``env[i]``: the largest of ``|x[i]|`` and the interpolated points
   on both sides of sample ``i`` (see `_oversample`);
2. required gain ``r[i] = target / env[i]`` where ``env[i]`` exceeds the
   ceiling, else exactly 1.0;
3. a running minimum of ``r`` over the look-ahead window (``D`` samples);
4. release: the attenuation (in nepers) decays exponentially with time
   constant ``release_ms`` but never below what step 3 asks for;
5. a moving average over the same ``D`` samples, looking forward.

Every gain value averaged in step 5 for sample ``j`` is at most ``r[j]``
(their minimum windows all contain ``j``), so the gain never exceeds the
required one, while steps 4 and 5 make it smooth (a linear ramp over the
look-ahead on attack, an exponential release). Where no sample within reach
needs limiting, the gain is exactly 1.0 and the output is bit-identical to
the input. Work happens on a fixed internal grid of frames, so the output is
bit-identical whatever the block sizes fed in.

Latency is ``HALF + D - 1`` samples; `process` returns fewer samples at the
start and `flush` returns the rest, so the concatenated output has exactly
the input's length and alignment.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.ndimage import minimum_filter1d

from soundstage.media.audio import _oversample as ovs

FRAME = 16384  # internal processing grid, in samples
SAFETY_DB = 0.1  # aim this far under the ceiling (see the module docstring)
_RELEASE_SNAP = 1e-7  # attenuation (nepers) below which the gain snaps back to exactly 1.0


class TruePeakLimiter:
    """Look-ahead brick-wall limiter on 4x-oversampled peaks; see the module docstring."""

    def __init__(
        self,
        sample_rate: int,
        channels: int = 2,
        ceiling_dbtp: float = -1.5,
        lookahead_ms: float = 5.0,
        release_ms: float = 80.0,
    ) -> None:
        if sample_rate <= 0 or channels < 1 or lookahead_ms <= 0 or release_ms <= 0:
            raise ValueError("sample_rate, channels, lookahead_ms and release_ms must be > 0")
        self.sample_rate = sample_rate
        self.channels = channels
        self.ceiling = 10.0 ** (ceiling_dbtp / 20.0)
        self._target = 10.0 ** ((ceiling_dbtp - SAFETY_DB) / 20.0)
        self.window = max(1, round(lookahead_ms * sample_rate / 1000.0))
        self.latency = ovs.HALF + self.window - 1
        self._log_beta = -1.0 / (release_ms * sample_rate / 1000.0)
        self.min_gain = 1.0  # smallest gain applied so far (for reports)
        self._reset()

    def _reset(self) -> None:
        """Start a new stream (silence before it)."""
        channels = self.channels
        self._pending: list[np.ndarray] = []  # input not yet processed (< FRAME frames)
        self._pending_frames = 0
        self._z_hist = np.zeros((channels, ovs.TAPS - 1), dtype=np.float32)
        self._last_interval = np.float32(0.0)
        self._r_hist = np.ones(self.window - 1)
        self._h_hist = np.ones(self.window - 1)
        self._release = 0.0
        self._delay = np.zeros((self.latency, channels), dtype=np.float32)
        self._skip = self.latency  # outputs that belong before the stream start
        self._frames_in = 0
        self._frames_out = 0

    def process(self, block: np.ndarray) -> np.ndarray:
        """Limit the next block; returns the samples that are ready (float32)."""
        x = np.asarray(block, dtype=np.float32)
        if x.ndim == 1:
            x = x[:, None]
        if x.ndim != 2 or x.shape[1] != self.channels:
            raise ValueError(f"expected a (frames, {self.channels}) block, got {x.shape}")
        self._frames_in += len(x)
        self._pending.append(x)
        self._pending_frames += len(x)
        if self._pending_frames < FRAME:
            return self._emit([])
        pending = np.concatenate(self._pending)
        full = len(pending) // FRAME * FRAME
        outs = [self._frame(pending[i : i + FRAME]) for i in range(0, full, FRAME)]
        self._pending = [pending[full:]]
        self._pending_frames = len(pending) - full
        return self._emit(outs)

    def flush(self) -> np.ndarray:
        """Return the remaining samples; afterwards the limiter starts a new stream."""
        tail = np.concatenate([*self._pending, np.zeros((self.latency, self.channels), np.float32)])
        outs = [self._frame(tail[i : i + FRAME]) for i in range(0, len(tail), FRAME)]
        out = self._emit(outs)
        out = out[: max(0, self._frames_in - (self._frames_out - len(out)))]
        self._reset()
        return out

    def _emit(self, outs: list[np.ndarray]) -> np.ndarray:
        out = np.concatenate(outs) if outs else np.zeros((0, self.channels), np.float32)
        if self._skip:
            dropped = min(self._skip, len(out))
            out, self._skip = out[dropped:], self._skip - dropped
        self._frames_out += len(out)
        return out

    def _frame(self, x: np.ndarray) -> np.ndarray:
        """Process one grid frame of input; returns as many (delayed) output samples."""
        env = self._envelope(np.ascontiguousarray(x.T))
        need = np.where(env > self.ceiling, self._target / np.maximum(env, 1e-30), 1.0)
        gain = self._smooth(need)
        delayed = np.concatenate([self._delay, x])
        self._delay = delayed[len(x) :]
        y = delayed[: len(x)]
        if np.all(gain == 1.0):
            return y
        self.min_gain = min(self.min_gain, float(gain.min()))
        return y * gain.astype(np.float32)[:, None]

    def _envelope(self, xt: np.ndarray) -> np.ndarray:
        """Linked 4x-oversampled peak per sample, for indices lagging HALF behind the input."""
        z = np.concatenate([self._z_hist, xt], axis=1)
        self._z_hist = z[:, -(ovs.TAPS - 1) :]
        n = xt.shape[1]
        intervals = np.zeros(n, dtype=np.float32)
        starts, bounds = ovs.block_bounds(z)
        for start, bound in zip(starts.tolist(), bounds.tolist(), strict=True):
            if bound > self.ceiling:  # elsewhere nothing can exceed it: leave 0
                stop = min(start + ovs.SUB_BLOCK, n)
                intervals[start:stop] = ovs.interval_peaks(z[:, start : stop + ovs.TAPS - 1])
        before = np.concatenate([[self._last_interval], intervals[:-1]])
        self._last_interval = intervals[-1]
        samples = np.abs(z[:, ovs.HALF - 1 : ovs.HALF - 1 + n]).max(axis=0)
        return np.maximum(np.maximum(before, intervals), samples).astype(np.float64)

    def _smooth(self, need: np.ndarray) -> np.ndarray:
        """Running minimum, exponential release, forward moving average (see module doc)."""
        d = self.window
        cat = np.concatenate([self._r_hist, need])
        self._r_hist = cat[len(cat) - (d - 1) :] if d > 1 else cat[:0]
        if cat.min() >= 1.0:
            held = np.ones(len(need))
        else:  # window [k - d + 1, k] for each new k
            held = minimum_filter1d(cat, d, mode="nearest", origin=(d - 1) // 2)[d - 1 :]
        released = self._apply_release(held)
        cat = np.concatenate([self._h_hist, released])
        self._h_hist = cat[len(cat) - (d - 1) :] if d > 1 else cat[:0]
        loss = 1.0 - cat
        if not loss.any():
            return np.ones(len(need))
        csum = np.concatenate([[0.0], np.cumsum(loss)])
        return 1.0 - (csum[d:] - csum[:-d]) / d

    def _apply_release(self, held: np.ndarray) -> np.ndarray:
        """Gain whose attenuation decays exponentially but stays >= what `held` needs."""
        if self._release == 0.0 and held.min() >= 1.0:
            return held
        atten = -np.log(held)  # nepers, >= 0
        k = np.arange(len(held))
        with np.errstate(divide="ignore"):
            log_a = np.log(atten)
            prev = math.log(self._release) if self._release > 0.0 else -math.inf
        log_e = np.maximum.accumulate(log_a - k * self._log_beta) + k * self._log_beta
        log_e = np.maximum(log_e, prev + (k + 1) * self._log_beta)
        e = np.exp(log_e)
        e[(atten == 0.0) & (e < _RELEASE_SNAP)] = 0.0
        self._release = float(e[-1])
        return np.exp(-e)
