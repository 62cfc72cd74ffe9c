"""Global key and mode of a mono signal (see docs/analysis.md, "Key").

1. Resample to 11.025 kHz; estimate the tuning (deviation from A440, in
   fractions of a semitone) with librosa on up to the first 90 s.
2. Power spectrogram (4096-point FFT ≈ 2.7 Hz bins, so bass notes separate;
   hop 1024 ≈ 93 ms), block by block for bounded memory. A grey opening along
   time (minimum then maximum over 5 frames ≈ 0.46 s) keeps sustained partials
   and drops drum hits: a cheap harmonic/percussive separation.
3. Tuning-corrected chroma from 65 Hz to 2.1 kHz (magnitudes, so that loud
   frames count but do not swamp the rest), summed over the track.
4. The 12-bin profile is correlated (Pearson) with the 24 rotations of three
   key profiles — Krumhansl–Kessler (probe-tone ratings), Temperley
   (Kostka–Payne corpus) and Albrecht–Shanahan (classical corpus) — and the
   three correlations are averaged per key. The best key wins.
5. Tonic cue: a bass-register chroma (35–220 Hz) arbitrates between the best
   key and its relative major/minor when they score within 0.2: each gets
   0.5 × its tonic's share of bass energy.

Confidence: the margin between the best and the second-best key's average
correlation (0.1 or more is full confidence), times the best correlation.
"""

from __future__ import annotations

import librosa
import numpy as np
from scipy.ndimage import maximum_filter1d, minimum_filter1d

from soundstage.media.analysis._onset import KEY_SR, reduce_spectrogram, signal_rms, to_mono_rate
from soundstage.media.analysis.result import KeyEstimate

NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
N_FFT = 4096
HOP = 1024
FMIN_HZ = 65.0
FMAX_HZ = 2100.0
BASS_FMIN_HZ = 35.0
BASS_FMAX_HZ = 220.0
BASS_WEIGHT = 0.5  # tonic cue: score bonus per unit of the tonic's share of bass energy
RELATIVE_MARGIN = 0.2  # the relative key is considered when its score is this close
OPENING_FRAMES = 5
TUNING_SECONDS = 90.0
SILENCE_RMS = 1e-4

# (major, minor) profiles, tonic first.
PROFILES: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "krumhansl": (
        (6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88),
        (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17),
    ),
    "temperley": (
        (0.748, 0.060, 0.488, 0.082, 0.670, 0.460, 0.096, 0.715, 0.104, 0.366, 0.057, 0.400),
        (0.712, 0.084, 0.474, 0.618, 0.049, 0.460, 0.105, 0.747, 0.404, 0.067, 0.133, 0.330),
    ),
    "albrecht": (
        (0.238, 0.006, 0.111, 0.006, 0.137, 0.094, 0.016, 0.214, 0.009, 0.080, 0.008, 0.081),
        (0.220, 0.006, 0.104, 0.123, 0.019, 0.103, 0.012, 0.214, 0.062, 0.022, 0.061, 0.052),
    ),
}


def estimate_key(
    y: np.ndarray, sr: int, *, profiles: tuple[str, ...] = ("krumhansl", "temperley", "albrecht")
) -> KeyEstimate:
    """Key ("C".."B", sharps), mode ("major"/"minor") and a 0..1 confidence.

    `y` is mono (or channels × samples, mixed down) at any rate `sr`. Silence
    gives C major with confidence 0.
    """
    chroma, bass = key_chromas(y, sr)
    return key_from_chroma(chroma, profiles=profiles, bass=bass)


def key_chroma(y: np.ndarray, sr: int) -> np.ndarray:
    """The track's 12-bin harmonic pitch-class profile (C first), summed over time."""
    return key_chromas(y, sr)[0]


def key_chromas(y: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """Pitch-class profile (65 Hz–2.1 kHz) and bass profile (35–220 Hz), summed over time."""
    y = to_mono_rate(y, sr, KEY_SR)
    if y.size < N_FFT or signal_rms(y) < SILENCE_RMS:
        return np.zeros(12), np.zeros(12)
    head = y[: int(TUNING_SECONDS * KEY_SR)]
    tuning = float(librosa.estimate_tuning(y=head, sr=KEY_SR, n_fft=N_FFT, hop_length=HOP * 2))
    if not np.isfinite(tuning):
        tuning = 0.0
    fb = librosa.filters.chroma(
        sr=KEY_SR, n_fft=N_FFT, tuning=tuning, ctroct=5.0, octwidth=None, norm=None
    ).astype(np.float32)
    freqs = np.fft.rfftfreq(N_FFT, 1.0 / KEY_SR)
    bass_fb = fb.copy()
    fb[:, (freqs < FMIN_HZ) | (freqs > FMAX_HZ)] = 0.0
    bass_fb[:, (freqs < BASS_FMIN_HZ) | (freqs > BASS_FMAX_HZ)] = 0.0
    both = np.concatenate([fb, bass_fb])

    def reduce(power: np.ndarray) -> np.ndarray:
        mag = np.sqrt(power)
        harmonic = maximum_filter1d(
            minimum_filter1d(mag, OPENING_FRAMES, axis=1), OPENING_FRAMES, axis=1
        )
        return (both @ harmonic).sum(axis=1, keepdims=True)

    (sums,) = reduce_spectrogram(y, N_FFT, HOP, [reduce])
    total = sums.sum(axis=1).astype(np.float64)
    return total[:12], total[12:]


def key_from_chroma(
    chroma: np.ndarray,
    *,
    profiles: tuple[str, ...] = ("krumhansl", "temperley", "albrecht"),
    bass: np.ndarray | None = None,
) -> KeyEstimate:
    """Best of 24 keys for a pitch-class profile; `bass` (a 12-bin bass-register
    profile) arbitrates between the best key and its relative major/minor."""
    chroma = np.asarray(chroma, dtype=np.float64)
    if chroma.shape != (12,) or not np.any(chroma > 0) or np.ptp(chroma) < 1e-12:
        return KeyEstimate(key="C", mode="major", confidence=0.0)
    scores = key_scores(chroma, profiles)  # (2, 12): major, minor × tonic
    mode_i, tonic = divmod(int(np.argmax(scores)), 12)
    mode_i, tonic = _relative_by_bass(scores, mode_i, tonic, bass)
    best = float(scores[mode_i, tonic])
    second = float(np.max(np.delete(scores.ravel(), mode_i * 12 + tonic)))
    margin = float(np.clip((best - second) / 0.1, 0, 1))
    confidence = float(np.clip(margin**0.5 * max(0.0, best), 0, 1))
    return KeyEstimate(
        key=NOTE_NAMES[tonic], mode=("major", "minor")[mode_i], confidence=round(confidence, 3)
    )


def _relative_by_bass(
    scores: np.ndarray, mode_i: int, tonic: int, bass: np.ndarray | None
) -> tuple[int, int]:
    """Switch to the relative key when it scores nearly as well and its tonic
    dominates the bass register (the bass line lands on the tonic)."""
    if bass is None:
        return mode_i, tonic
    bass = np.asarray(bass, dtype=np.float64)
    if bass.shape != (12,) or float(bass.sum()) <= 1e-12:
        return mode_i, tonic
    share = bass / bass.sum()
    rel_mode = 1 - mode_i
    rel_tonic = (tonic + 9) % 12 if mode_i == 0 else (tonic + 3) % 12
    if scores[mode_i, tonic] - scores[rel_mode, rel_tonic] > RELATIVE_MARGIN:
        return mode_i, tonic
    own = scores[mode_i, tonic] + BASS_WEIGHT * share[tonic]
    rel = scores[rel_mode, rel_tonic] + BASS_WEIGHT * share[rel_tonic]
    return (rel_mode, rel_tonic) if rel > own else (mode_i, tonic)


def key_scores(chroma: np.ndarray, profiles: tuple[str, ...]) -> np.ndarray:
    """Mean Pearson correlation of `chroma` with each profile, per (mode, tonic)."""
    c = chroma - chroma.mean()
    c = c / max(float(np.linalg.norm(c)), 1e-12)
    scores = np.zeros((2, 12))
    for name in profiles:
        for mode_i, profile in enumerate(PROFILES[name]):
            p = np.asarray(profile) - np.mean(profile)
            p = p / np.linalg.norm(p)
            for tonic in range(12):
                scores[mode_i, tonic] += float(np.dot(c, np.roll(p, tonic)))
    return scores / len(profiles)
