"""Shared low-level features for rhythm and key: resampling and chunked spectrograms.

Everything here works on bounded memory: spectrograms are computed block by
block (a few tens of seconds at a time, the FFT itself a few hundred frames
at a time) and only compact per-frame features (mel bands, chroma) are kept,
so a 60-minute file costs tens of megabytes beyond the signal itself. Checks
over the whole signal (finite samples, RMS) also run block by block: a
float64 or boolean copy of a 60-minute signal would cost 80–600 MB.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

RHYTHM_SR = 22050
KEY_SR = 11025
_BLOCK_FRAMES = 2048  # frames per STFT block
_FFT_ROWS = 256  # frames per FFT call inside a block (bounds the complex128 temporaries)
_SCAN_SAMPLES = 1 << 20  # samples per block of the whole-signal checks


def to_mono_rate(y: np.ndarray, sr: int, target_sr: int) -> np.ndarray:
    """Mono float32 at `target_sr`; non-finite samples become 0."""
    y = np.asarray(y, dtype=np.float32)
    if y.ndim > 1:
        # (channels, samples) as librosa, or (samples, channels) as soundfile.
        y = y.mean(axis=0) if y.shape[0] <= y.shape[-1] else y.mean(axis=-1)
    if not all_finite(y):  # copy only when something must be replaced
        y = np.nan_to_num(y, nan=0.0, posinf=0.0, neginf=0.0)
    if sr != target_sr and y.size:
        y = resample(y, sr, target_sr)
    return np.ascontiguousarray(y, dtype=np.float32)


def resample(y: np.ndarray, sr: int, target_sr: int) -> np.ndarray:
    """soxr "MQ" resampling of mono `y`, the same samples as `librosa.resample(...,
    res_type="soxr_mq")` without librosa's extra copy of the output."""
    import soxr

    out = soxr.resample(y, sr, target_sr, quality="soxr_mq")
    n = int(np.ceil(len(y) * float(target_sr) / sr))  # librosa's fix_length
    if len(out) < n:
        out = np.pad(out, (0, n - len(out)))
    return out[:n].astype(y.dtype, copy=False)


def all_finite(y: np.ndarray) -> bool:
    """True when every sample is finite (checked block by block, no full-size mask)."""
    flat = y.reshape(-1)
    return all(
        bool(np.isfinite(flat[i : i + _SCAN_SAMPLES]).all())
        for i in range(0, flat.size, _SCAN_SAMPLES)
    )


def signal_rms(y: np.ndarray) -> float:
    """Root mean square of `y`, accumulated in float64 block by block."""
    flat = y.reshape(-1)
    if flat.size == 0:
        return 0.0
    total = 0.0
    for i in range(0, flat.size, _SCAN_SAMPLES):
        block = flat[i : i + _SCAN_SAMPLES].astype(np.float64)
        total += float(np.dot(block, block))
    return float(np.sqrt(total / flat.size))


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
        power = np.empty((n_fft // 2 + 1, k1 - k0), dtype=np.float32)
        for j0 in range(0, k1 - k0, _FFT_ROWS):  # row-wise FFTs: same values, less memory
            spec = np.fft.rfft(frames[j0 : j0 + _FFT_ROWS] * window, axis=1)
            power[:, j0 : j0 + _FFT_ROWS] = (spec.real**2 + spec.imag**2).T
        yield power


def reduce_spectrogram(
    y: np.ndarray,
    n_fft: int,
    hop: int,
    reducers: list[Callable[[np.ndarray], np.ndarray]],
) -> list[np.ndarray]:
    """Apply each reducer (power block → small features × frames) block by block.

    A reducer that keeps one column per frame writes into one preallocated
    array (no list of blocks plus a concatenated copy); other shapes are
    concatenated.
    """
    n_frames = 1 + len(y) // hop
    outs: list[list[np.ndarray] | np.ndarray] = [[] for _ in reducers]
    t0 = 0
    for block in stft_blocks(y, n_fft, hop):
        width = block.shape[1]
        for i, reduce in enumerate(reducers):
            r = reduce(block)
            out = outs[i]
            if t0 == 0 and r.shape[1] == width:
                out = outs[i] = np.empty((r.shape[0], n_frames), dtype=r.dtype)
            if isinstance(out, np.ndarray) and r.shape[1] == width:
                out[:, t0 : t0 + width] = r
            elif isinstance(out, np.ndarray):  # a block of another width: fall back
                out = outs[i] = [out[:, :t0], r]
            else:
                out.append(r)
        t0 += width
    return [
        o
        if isinstance(o, np.ndarray)
        else (np.concatenate(o, axis=1) if o else np.zeros((0, 0), np.float32))
        for o in outs
    ]
