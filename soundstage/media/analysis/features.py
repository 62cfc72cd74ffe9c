"""Frame features computed once and shared by every analysis step.

One STFT pass (blocks of `BLOCK_FRAMES`, so a long file never holds a full
complex spectrogram) yields compact per-frame features: a mel spectrogram,
chroma, RMS, zero-crossing rate, spectral centroid / roll-off / flatness.
Derived features (log-mel, MFCC, onset strength, a mel-domain
harmonic/percussive split) are computed from the mel spectrogram, which is
small (`N_MELS` rows).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.fft
from scipy.ndimage import median_filter

SR = 22050
N_FFT = 2048
HOP = 512
N_MELS = 96
BLOCK_FRAMES = 2048  # ~47 s of frames per STFT block
HPSS_BLOCK = 8192  # frames per block of the mel-domain HPSS
EPS = 1e-10


@dataclass
class Features:
    """Per-frame features of a mono signal at `sr` (frame t is centred at t * hop)."""

    sr: int
    hop: int
    n_fft: int
    n_samples: int
    mel: np.ndarray  # (N_MELS, T) power
    mel_freqs: np.ndarray  # (N_MELS,) centre frequencies in Hz
    chroma: np.ndarray  # (12, T) max-normalised per frame (0 where silent)
    rms: np.ndarray  # (T,) linear
    zcr: np.ndarray  # (T,) crossings per sample
    centroid: np.ndarray  # (T,) Hz
    rolloff: np.ndarray  # (T,) Hz, 85 % of the magnitude
    flatness: np.ndarray  # (T,) 0..1 (power spectrum)

    @property
    def n_frames(self) -> int:
        return int(self.rms.shape[0])

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.sr

    @property
    def frame_rate(self) -> float:
        return self.sr / self.hop

    def times(self) -> np.ndarray:
        return np.arange(self.n_frames) * self.hop / self.sr

    @cached_property
    def mel_db(self) -> np.ndarray:
        """Log-mel (dB re 1.0), floored 80 dB below the loudest bin (as librosa's top_db)."""
        db = 10.0 * np.log10(np.maximum(self.mel, EPS))
        return np.maximum(db, db.max() - 80.0).astype(np.float32)

    @cached_property
    def mfcc(self) -> np.ndarray:
        """13 MFCCs from the log-mel (DCT-II, orthonormal, as librosa)."""
        from scipy.fft import dct

        return dct(self.mel_db, axis=0, type=2, norm="ortho")[:13].astype(np.float32)

    @cached_property
    def onset_env(self) -> np.ndarray:
        """Spectral flux of the log-mel (positive differences, mean over bands)."""
        flux = np.maximum(0.0, np.diff(self.mel_db, axis=1)).mean(axis=0)
        return np.concatenate([[0.0], flux]).astype(np.float32)

    @cached_property
    def hpss(self) -> tuple[np.ndarray, np.ndarray]:
        """Mel-domain median-filter HPSS (Fitzgerald 2010) with soft masks: (H, P) power."""
        mel = self.mel
        h_out, p_out = np.empty_like(mel), np.empty_like(mel)
        for i0 in range(0, mel.shape[1], HPSS_BLOCK):  # blocks bound the temporaries
            i1 = min(mel.shape[1], i0 + HPSS_BLOCK)
            harm = _median_last_axis(mel, 17, i0, i1) ** 2
            perc = median_filter(mel[:, i0:i1], size=(7, 1), mode="nearest") ** 2
            total = harm + perc + EPS
            h_out[:, i0:i1] = mel[:, i0:i1] * (harm / total)
            p_out[:, i0:i1] = mel[:, i0:i1] * (perc / total)
        return h_out, p_out

    def band(self, lo_hz: float, hi_hz: float) -> np.ndarray:
        """Boolean mask of the mel bands whose centre lies in [lo_hz, hi_hz)."""
        return (self.mel_freqs >= lo_hz) & (self.mel_freqs < hi_hz)


def compute_features(
    y: np.ndarray, sr: int = SR, *, n_fft: int = N_FFT, hop: int = HOP
) -> Features:
    """Frame features of mono float `y` (any length, at least one frame)."""
    import librosa

    y = np.asarray(y, dtype=np.float32).reshape(-1)
    n_frames = 1 + len(y) // hop
    mel_fb = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=N_MELS, fmax=sr / 2).astype(np.float32)
    chroma_fb = librosa.filters.chroma(sr=sr, n_fft=n_fft).astype(np.float32)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr).astype(np.float32)
    window = librosa.filters.get_window("hann", n_fft, fftbins=True).astype(np.float32)
    mel_freqs = librosa.mel_frequencies(n_mels=N_MELS + 2, fmax=sr / 2)[1:-1]

    fields = ("rms", "zcr", "centroid", "rolloff", "flatness")
    out = {k: np.empty(n_frames, dtype=np.float32) for k in fields}
    mel_out = np.empty((N_MELS, n_frames), dtype=np.float32)
    chroma_out = np.empty((12, n_frames), dtype=np.float32)
    mel_fb_t, chroma_fb_t = np.ascontiguousarray(mel_fb.T), np.ascontiguousarray(chroma_fb.T)
    for t0 in range(0, n_frames, BLOCK_FRAMES):
        t1 = min(n_frames, t0 + BLOCK_FRAMES)
        seg = _segment(y, t0, t1, n_fft, hop)
        frames = np.lib.stride_tricks.sliding_window_view(seg, n_fft)[::hop]  # (B, n_fft)
        spec = scipy.fft.rfft(frames * window, axis=1)  # float32 in, complex64 out
        power = spec.real**2 + spec.imag**2  # (B, bins)
        del spec
        mag = np.sqrt(power)
        mel_out[:, t0:t1] = (power @ mel_fb_t).T
        chroma = (power @ chroma_fb_t).T
        chroma_out[:, t0:t1] = chroma / np.maximum(chroma.max(axis=0, keepdims=True), EPS)
        # RMS and zero crossings from running sums over the block's samples
        starts = np.arange(t1 - t0) * hop
        sq = np.concatenate([[0.0], np.cumsum(seg.astype(np.float64) ** 2)])
        out["rms"][t0:t1] = np.sqrt(np.maximum(sq[starts + n_fft] - sq[starts], 0.0) / n_fft)
        signs = np.signbit(seg)
        cross = np.concatenate([[0], np.cumsum(signs[1:] != signs[:-1])])
        out["zcr"][t0:t1] = (cross[starts + n_fft - 1] - cross[starts]) / n_fft
        mag_sum = mag.sum(axis=1)
        out["centroid"][t0:t1] = (mag @ freqs) / np.maximum(mag_sum, EPS)
        cum = np.cumsum(mag, axis=1)
        idx = np.argmax(cum >= 0.85 * cum[:, -1:], axis=1)
        out["rolloff"][t0:t1] = np.where(mag_sum > EPS, freqs[idx], 0.0)
        p = np.maximum(power, np.float32(EPS))
        out["flatness"][t0:t1] = np.exp(np.mean(np.log(p), axis=1)) / np.mean(p, axis=1)
        del p, power, mag, cum, sq, cross, signs
    silent = out["rms"] < 1e-5
    chroma_out[:, silent] = 0.0
    return Features(
        sr=sr, hop=hop, n_fft=n_fft, n_samples=len(y), mel=mel_out, chroma=chroma_out,
        mel_freqs=mel_freqs, **out,
    )  # fmt: skip


def _segment(y: np.ndarray, t0: int, t1: int, n_fft: int, hop: int) -> np.ndarray:
    """The zero-padded samples under centred frames t0..t1-1."""
    start = t0 * hop - n_fft // 2
    stop = start + (t1 - t0 - 1) * hop + n_fft
    seg = np.zeros(stop - start, dtype=np.float32)
    lo, hi = max(start, 0), min(stop, len(y))
    if hi > lo:
        seg[lo - start : hi - start] = y[lo:hi]
    return seg


def _median_last_axis(x: np.ndarray, k: int, i0: int = 0, i1: int | None = None) -> np.ndarray:
    """Running median of odd width `k` along the last axis (edges repeated), columns i0..i1."""
    n = x.shape[-1]
    i1 = n if i1 is None else i1
    h = k // 2
    lo, hi = max(0, i0 - h), min(n, i1 + h)
    p = np.pad(
        x[..., lo:hi], [(0, 0)] * (x.ndim - 1) + [(h - (i0 - lo), h - (hi - i1))], mode="edge"
    )
    view = np.lib.stride_tricks.sliding_window_view(p, k, axis=-1)
    return np.partition(view, h, axis=-1)[..., h]


def energy_curve(y: np.ndarray, sr: int, hz: float = 20.0) -> np.ndarray:
    """RMS per 1/hz window, in dBFS mapped linearly from [-60, -6] to [0, 1]."""
    n = len(y)
    points = max(1, round(n / sr * hz))
    edges = np.round(np.arange(points) * sr / hz).astype(np.int64)
    edges = edges[edges < n] if n else np.zeros(1, dtype=np.int64)
    sums = np.zeros(len(edges))
    for j0 in range(0, len(edges), 4096):  # float64 squares one block of windows at a time
        j1 = min(len(edges), j0 + 4096)
        stop = int(edges[j1]) if j1 < len(edges) else n
        if n:
            sq = np.asarray(y[edges[j0] : stop], dtype=np.float64) ** 2
            sums[j0:j1] = np.add.reduceat(sq, edges[j0:j1] - edges[j0])
    counts = np.diff(np.append(edges, n)).clip(min=1)
    db = 10.0 * np.log10(sums / counts + EPS)
    curve = np.clip((db + 60.0) / 54.0, 0.0, 1.0)
    if len(curve) < points:  # windows past the end (rounding): repeat the last
        curve = np.concatenate([curve, np.full(points - len(curve), curve[-1])])
    return curve


def pulse_clarity(onset_env: np.ndarray, frame_rate: float) -> float:
    """Height of the strongest onset-autocorrelation peak at 0.25–2 s lags (0..1)."""
    x = np.asarray(onset_env, dtype=np.float64)
    if len(x) < 8 or x.std() < 1e-6:
        return 0.0
    x = x - x.mean()
    n = len(x)
    spec = np.fft.rfft(x, 2 * n)
    ac = np.fft.irfft(spec * np.conj(spec))[:n]
    ac /= ac[0] + EPS
    lo, hi = int(0.25 * frame_rate), min(n - 1, int(2.0 * frame_rate))
    if hi <= lo:
        return 0.0
    return float(np.clip(ac[lo:hi].max(), 0.0, 1.0))
