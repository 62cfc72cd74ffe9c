"""Shared low-level features for rhythm and key: resampling and chunked spectrograms.

Everything here works on bounded memory: spectrograms are computed block by
block (a few tens of seconds at a time) and only compact per-frame features
(mel bands, chroma) are kept, so a 60-minute file costs tens of megabytes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import librosa
import numpy as np

RHYTHM_SR = 22050
KEY_SR = 11025
_BLOCK_FRAMES = 2048  # frames per STFT block


def to_mono_rate(y: np.ndarray, sr: int, target_sr: int) -> np.ndarray:
    """Mono float32 at `target_sr`; non-finite samples become 0."""
    y = np.asarray(y, dtype=np.float32)
    if y.ndim > 1:
        # (channels, samples) as librosa, or (samples, channels) as soundfile.
        y = y.mean(axis=0) if y.shape[0] <= y.shape[-1] else y.mean(axis=-1)
    if not np.isfinite(y).all():  # copy only when something must be replaced
        y = np.nan_to_num(y, nan=0.0, posinf=0.0, neginf=0.0)
    if sr != target_sr and y.size:
        y = librosa.resample(y, orig_sr=sr, target_sr=target_sr, res_type="soxr_mq")
    return np.ascontiguousarray(y, dtype=np.float32)


def stft_blocks(
    y: np.ndarray, n_fft: int, hop: int, block_frames: int = _BLOCK_FRAMES
) -> Iterator[np.ndarray]:
    """Yield |STFT| power blocks (bins × frames); frames are centred at k·hop as librosa."""
    n_frames = 1 + len(y) // hop
    pad = n_fft // 2
    window = np.hanning(n_fft + 1)[:-1].astype(np.float32)  # periodic Hann
    for k0 in range(0, n_frames, block_frames):
        k1 = min(n_frames, k0 + block_frames)
        start, stop = k0 * hop - pad, (k1 - 1) * hop + n_fft - pad  # in y's samples
        seg = np.zeros(stop - start, dtype=np.float32)  # zero padding block by block
        lo, hi = max(start, 0), min(stop, len(y))
        if hi > lo:
            seg[lo - start : hi - start] = y[lo:hi]
        frames = np.lib.stride_tricks.sliding_window_view(seg, n_fft)[::hop]
        spec = np.fft.rfft(frames * window, axis=1)
        yield (spec.real**2 + spec.imag**2).T.astype(np.float32)


def reduce_spectrogram(
    y: np.ndarray,
    n_fft: int,
    hop: int,
    reducers: list[Callable[[np.ndarray], np.ndarray]],
) -> list[np.ndarray]:
    """Apply each reducer (power block → small features × frames) block by block."""
    outs: list[list[np.ndarray]] = [[] for _ in reducers]
    for block in stft_blocks(y, n_fft, hop):
        for out, reduce in zip(outs, reducers, strict=True):
            out.append(reduce(block))
    return [np.concatenate(o, axis=1) if o else np.zeros((0, 0), np.float32) for o in outs]
