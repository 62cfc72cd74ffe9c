"""Frame features computed once and shared by every analysis step.

One STFT pass (blocks of `BLOCK_FRAMES`, so a long file never holds a full
complex spectrogram) yields compact per-frame features: a mel spectrogram,
chroma, RMS, zero-crossing rate, spectral centroid / roll-off / flatness.
Derived features (log-mel, MFCC, onset strength, a mel-domain
harmonic/percussive split) are computed from the mel spectrogram, which is
small (`N_MELS` rows), also block by block: the analysis keeps only the mel
spectrogram and per-frame rows, so an hour of audio holds ~100 MB of features
and no full-size log-mel or H/P copies (those stay available on demand).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.fft
from scipy.ndimage import median_filter, uniform_filter1d

SR = 22050
N_FFT = 2048
HOP = 512
N_MELS = 96
BLOCK_FRAMES = 2048  # ~47 s of frames per STFT block
HPSS_BLOCK = 1024  # frames per block of the mel-domain HPSS (~24 s; 17 × its size in temporaries)
MEL_BLOCK = 8192  # frames per block of the log-mel derived features
VOICE_BAND_HZ = (200.0, 4000.0)  # harmonic energy summed for the vocal detector
# pitch_motion: a 20-cent log-frequency grid over 600 Hz–4.8 kHz (voice partials, fine
# enough in an FFT of 10.8 Hz bins), shifts up to ±120 cents over 2 frames (46 ms).
PITCH_LO_HZ = 600.0
PITCH_OCTAVES = 3
PITCH_BINS_PER_OCTAVE = 60
PITCH_MAX_SHIFT = 6
PITCH_LAG = 2
PITCH_MIN_CORR = 0.5
PITCH_MIN_SHARE = 10**-3.5  # an octave below -35 dB of the frame's power is ignored
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
    pitch_motion: np.ndarray  # (T,) cents of pitch shift over PITCH_LAG frames (0 = steady)

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
        return self._mel_db_cols(0, self.n_frames)

    @cached_property
    def _db_top(self) -> float:
        """The loudest mel bin in dB (two passes over blocks: no full-size log-mel needed)."""
        top = -np.inf
        for i0 in range(0, self.n_frames, MEL_BLOCK):
            block = self.mel[:, i0 : i0 + MEL_BLOCK]
            top = max(top, float((10.0 * np.log10(np.maximum(block, EPS))).max()))
        return top

    def _mel_db_cols(self, i0: int, i1: int) -> np.ndarray:
        """Columns i0..i1 of `mel_db` (from the cache when it exists)."""
        if "mel_db" in self.__dict__:
            return self.__dict__["mel_db"][:, i0:i1]
        db = 10.0 * np.log10(np.maximum(self.mel[:, i0:i1], EPS))
        return np.maximum(db, np.float32(self._db_top - 80.0)).astype(np.float32)

    @cached_property
    def mfcc(self) -> np.ndarray:
        """13 MFCCs from the log-mel (DCT-II, orthonormal, as librosa), block by block."""
        from scipy.fft import dct

        out = np.empty((13, self.n_frames), dtype=np.float32)
        for i0 in range(0, self.n_frames, MEL_BLOCK):
            i1 = min(self.n_frames, i0 + MEL_BLOCK)
            out[:, i0:i1] = dct(self._mel_db_cols(i0, i1), axis=0, type=2, norm="ortho")[:13]
        return out

    @cached_property
    def onset_env(self) -> np.ndarray:
        """Spectral flux of the log-mel (positive differences, mean over bands)."""
        out = np.zeros(self.n_frames, dtype=np.float32)
        for i0 in range(1, self.n_frames, MEL_BLOCK):
            i1 = min(self.n_frames, i0 + MEL_BLOCK)
            db = self._mel_db_cols(i0 - 1, i1)  # one frame of context on the left
            out[i0:i1] = np.maximum(0.0, np.diff(db, axis=1)).mean(axis=0)
        return out

    @cached_property
    def hpss(self) -> tuple[np.ndarray, np.ndarray]:
        """Mel-domain median-filter HPSS (Fitzgerald 2010) with soft masks: (H, P) power.

        Full-size: the analysis itself only needs `hpss_frames`.
        """
        h_out, p_out = np.empty_like(self.mel), np.empty_like(self.mel)
        for i0, i1, harm, perc in self._hpss_blocks():
            h_out[:, i0:i1], p_out[:, i0:i1] = harm, perc
        return h_out, p_out

    @cached_property
    def hpss_frames(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-frame sums of the HPSS power: (harmonic, percussive, harmonic in
        `VOICE_BAND_HZ`), computed block by block without keeping H and P."""
        voice = self.band(*VOICE_BAND_HZ)
        sums = np.empty((3, self.n_frames), dtype=np.float32)
        for i0, i1, harm, perc in self._hpss_blocks():
            sums[0, i0:i1] = harm.sum(axis=0)
            sums[1, i0:i1] = perc.sum(axis=0)
            sums[2, i0:i1] = harm[voice].sum(axis=0)
        return sums[0], sums[1], sums[2]

    def _hpss_blocks(self) -> Iterator[tuple[int, int, np.ndarray, np.ndarray]]:
        """(i0, i1, H, P) for blocks of `HPSS_BLOCK` frames (the cached `hpss` if present)."""
        mel = self.mel
        cached = self.__dict__.get("hpss")
        for i0 in range(0, mel.shape[1], HPSS_BLOCK):
            i1 = min(mel.shape[1], i0 + HPSS_BLOCK)
            if cached is not None:
                yield i0, i1, cached[0][:, i0:i1], cached[1][:, i0:i1]
                continue
            harm = _median_last_axis(mel, 17, i0, i1) ** 2  # time median: sustained partials
            perc = median_filter(mel[:, i0:i1], size=(7, 1), mode="nearest") ** 2
            total = harm + perc + EPS
            yield i0, i1, mel[:, i0:i1] * (harm / total), mel[:, i0:i1] * (perc / total)

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

    fields = ("rms", "zcr", "centroid", "rolloff", "flatness", "pitch_motion")
    log_fb = _log_freq_filters(sr, n_fft)
    log_prev = np.zeros((0, log_fb.shape[0]), dtype=np.float32)  # last frames of the previous block
    power_prev = np.zeros(0, dtype=np.float32)
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
        log_power = np.concatenate([log_prev, power @ log_fb.T])
        frame_power = np.concatenate([power_prev, power.sum(axis=1)])
        out["pitch_motion"][t0:t1] = pitch_motion(log_power, frame_power)[len(log_prev) :]
        log_prev, power_prev = log_power[-PITCH_LAG:], frame_power[-PITCH_LAG:]
        del p, power, mag, cum, sq, cross, signs
    silent = out["rms"] < 1e-5
    chroma_out[:, silent] = 0.0
    return Features(
        sr=sr, hop=hop, n_fft=n_fft, n_samples=len(y), mel=mel_out, chroma=chroma_out,
        mel_freqs=mel_freqs, **out,
    )  # fmt: skip


def _log_freq_filters(sr: int, n_fft: int) -> np.ndarray:
    """Linear interpolation of FFT bins onto the log-frequency grid of `pitch_motion`."""
    n = PITCH_OCTAVES * PITCH_BINS_PER_OCTAVE
    pos = PITCH_LO_HZ * 2.0 ** (np.arange(n) / PITCH_BINS_PER_OCTAVE) / (sr / n_fft)
    pos = np.minimum(pos, n_fft // 2 - 1)  # low sample rates: the top of the grid is flat
    i, w = np.floor(pos).astype(int), pos - np.floor(pos)
    fb = np.zeros((n, n_fft // 2 + 1), dtype=np.float32)
    fb[np.arange(n), i], fb[np.arange(n), i + 1] = 1.0 - w, w
    return fb


def pitch_motion(log_power: np.ndarray, frame_power: np.ndarray | None = None) -> np.ndarray:
    """Per-frame pitch movement in cents (a simplified fluctogram, Lehner et al. 2014).

    `log_power` is (frames, log-frequency bins) power on the `_log_freq_filters`
    grid (20 cents per bin from 600 Hz over 3 octaves). In each octave, the
    dB spectrum of frame t is correlated with frame t - `PITCH_LAG` shifted by
    up to ±`PITCH_MAX_SHIFT` bins; the best shift is how far the partials
    moved. Octaves whose best correlation is below `PITCH_MIN_CORR` (a new
    note, noise, silence) count as no movement, as do octaves holding less
    than `PITCH_MIN_SHARE` of the frame's power (`frame_power`, all
    frequencies; default: the grid's). The dB spectrum is first flattened (a
    1/3-octave moving average subtracted) so that partials, not the spectral
    envelope, are matched. The octaves are averaged weighted by their energy. Voices glide and wobble (vibrato, intonation:
    20–40 cents per 46 ms); plucked, struck and keyboard notes hold their
    pitch (0 between note changes).
    """
    n, k, lag = len(log_power), PITCH_MAX_SHIFT, PITCH_LAG
    out = np.zeros(n, dtype=np.float32)
    if n <= lag:
        return out
    db = 10.0 * np.log10(log_power + EPS)
    db = np.maximum(db, db.max(axis=1, keepdims=True) - 60.0)  # a 60 dB range per frame
    # partials, not the spectral envelope: a smooth slope (window leakage, formants)
    # correlates best with itself shifted as far as possible
    db = db - uniform_filter1d(db, PITCH_BINS_PER_OCTAVE // 3, axis=1, mode="nearest")
    floor = PITCH_MIN_SHARE * (frame_power if frame_power is not None else log_power.sum(axis=1))
    moved, weight = np.zeros(n - lag), np.zeros(n - lag)
    for a in range(0, db.shape[1], PITCH_BINS_PER_OCTAVE):
        b = a + PITCH_BINS_PER_OCTAVE
        cur = _centred(db[lag:, a + k : b - k])  # (frames, L), rows sum to 0
        width = cur.shape[1]
        prev = np.lib.stride_tricks.sliding_window_view(db[:-lag, a:b], width, axis=1)
        # cur is centred, so cur · (prev − mean) = cur · prev; norms from the window sums
        dots = np.einsum("tl,tsl->ts", cur, prev)  # (frames, 2k + 1 shifts)
        sums, squares = prev.sum(axis=2), np.einsum("tsl,tsl->ts", prev, prev)
        norms = np.sqrt(np.maximum(squares - sums**2 / width, 0.0)) + EPS
        corr = dots / norms
        best = corr.argmax(axis=1)
        steady = corr[np.arange(len(best)), best] >= PITCH_MIN_CORR
        energy = log_power[lag:, a:b].sum(axis=1)
        energy = energy * (steady & (energy >= floor[lag:]))  # weak bands hold no partials
        moved += energy * np.abs(best - k) * (1200.0 / PITCH_BINS_PER_OCTAVE)
        weight += energy
    out[lag:] = moved / np.maximum(weight, EPS)
    return out


def _centred(x: np.ndarray) -> np.ndarray:
    """Rows minus their mean, scaled to unit norm (so row dot products are correlations)."""
    x = x - x.mean(axis=1, keepdims=True)
    return x / (np.linalg.norm(x, axis=1, keepdims=True) + EPS)


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
    for j0 in range(0, len(edges), 1024):  # float64 squares one block of windows at a time
        j1 = min(len(edges), j0 + 1024)
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
