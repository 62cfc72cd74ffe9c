"""Track descriptors in the spirit of the audio features Spotify no longer offers.

Each descriptor is a transparent, documented formula over signal statistics
(docs/analysis.md, "Descriptors, mood and genre"), clamped to 0..1. They are
heuristics calibrated on synthetic signals, not the output of a trained model.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from soundstage.media.analysis.features import EPS, Features, pulse_clarity
from soundstage.media.analysis.result import KeyEstimate, Rhythm

DESCRIPTOR_NAMES = (
    "energy",
    "danceability",
    "valence",
    "acousticness",
    "instrumentalness",
    "speechiness",
    "liveness",
)
SILENCE_DBFS = -60.0


def clamp01(x: float) -> float:
    return float(min(1.0, max(0.0, x))) if math.isfinite(x) else 0.0


def ramp(x: float, lo: float, hi: float) -> float:
    """0 at `lo`, 1 at `hi`, linear between (either direction)."""
    return clamp01((x - lo) / (hi - lo))


def signal_stats(
    feat: Features,
    rhythm: Rhythm,
    loudness_lufs: float | None,
    vocal_fraction: float,
) -> dict[str, float]:
    """The signal statistics the descriptor, mood and genre rules read (all floats)."""
    rms_db = 20.0 * np.log10(feat.rms + EPS)
    active = rms_db > SILENCE_DBFS
    frac_active = float(active.mean()) if len(active) else 0.0
    if not active.any():
        active = np.ones_like(active)
    sel = active
    harm, perc, _ = feat.hpss_frames
    h_e, p_e = float(harm[sel].sum(dtype=np.float64)), float(perc[sel].sum(dtype=np.float64))
    peak_db = float(np.percentile(rms_db, 95)) if len(rms_db) else SILENCE_DBFS
    loud_frames = rms_db > peak_db - 6.0
    vocal_band = feat.band(300, 3400)
    band_env = np.log10(feat.mel[vocal_band].sum(axis=0) + EPS)
    onset = feat.onset_env
    iv = np.diff(np.asarray(rhythm.beats, dtype=float))
    regularity = 1.0 - float(np.std(iv) / np.mean(iv)) * 4.0 if len(iv) >= 4 else 0.0
    lufs = loudness_lufs if loudness_lufs is not None and math.isfinite(loudness_lufs) else None
    if lufs is None:
        lufs = float(np.mean(rms_db[active])) - 3.0 if frac_active > 0 else -70.0
    return {
        "active_fraction": frac_active,
        "loudness_lufs": float(lufs),
        "rms_db_mean": float(np.mean(rms_db[sel])),
        "rms_db_p95": peak_db,
        "dynamic_range_db": float(np.percentile(rms_db[sel], 95) - np.percentile(rms_db[sel], 10)),
        "centroid_hz": float(np.median(feat.centroid[sel])),
        "rolloff_hz": float(np.median(feat.rolloff[sel])),
        "flatness": float(np.median(feat.flatness[sel])),
        "flatness_loud": float(np.median(feat.flatness[loud_frames])) if loud_frames.any() else 0.0,
        "zcr_mean": float(np.mean(feat.zcr[sel])),
        "zcr_cv": float(np.std(feat.zcr[sel]) / (np.mean(feat.zcr[sel]) + EPS)),
        "harmonic_ratio": float(h_e / (h_e + p_e + EPS)),
        "onset_mean": float(np.mean(onset[sel])),
        "onset_rate": _onset_rate(onset, feat.frame_rate),
        "pulse_clarity": pulse_clarity(onset, feat.frame_rate),
        "beat_regularity": clamp01(regularity),
        "bpm": float(rhythm.bpm),
        "bpm_confidence": clamp01(float(rhythm.bpm_confidence)),
        "pause_fraction": _pause_fraction(rms_db, active),
        "syllabic_modulation": _syllabic_modulation(band_env, feat.frame_rate),
        "crest_db": _crest_db(rms_db, sel),
        "floor_db": float(np.percentile(rms_db[sel], 5) - peak_db),
        "vocal_fraction": float(vocal_fraction),
        "chroma_entropy": _chroma_entropy(feat.chroma[:, sel]),
        "swing": _swing(onset, rhythm.beats, feat.frame_rate),
    }


def compute_descriptors(stats: dict[str, float], key: KeyEstimate) -> dict[str, float]:
    """The seven descriptors (0..1) from `signal_stats` and the key estimate."""
    s = stats
    if s["active_fraction"] < 0.02:  # silence: nothing to describe
        return {n: (1.0 if n == "instrumentalness" else 0.0) for n in DESCRIPTOR_NAMES}
    loud = ramp(s["loudness_lufs"], -35.0, -8.0)
    flux = ramp(s["onset_mean"], 0.5, 4.0)
    bright = ramp(s["centroid_hz"], 500.0, 3500.0)
    noisy = ramp(s["flatness"], 0.005, 0.2)
    energy = 0.4 * loud + 0.15 * flux + 0.2 * bright + 0.25 * noisy

    pulse = max(s["pulse_clarity"], 0.0)
    tempo_fit = math.exp(-0.5 * (math.log2(max(s["bpm"], 1.0) / 118.0) / 0.35) ** 2)
    percussive = ramp(1.0 - s["harmonic_ratio"], 0.1, 0.6)
    danceability = (
        0.35 * pulse + 0.2 * s["beat_regularity"] + 0.2 * tempo_fit + 0.25 * percussive
    ) * ramp(pulse, 0.05, 0.3)

    mode_sign = 1.0 if key.mode == "major" else -1.0
    mode_term = 0.5 + 0.5 * mode_sign * clamp01(key.confidence)
    tempo_term = ramp(s["bpm"], 70.0, 150.0) if s["bpm"] > 0 else 0.3
    valence = 0.4 * mode_term + 0.2 * tempo_term + 0.2 * bright + 0.2 * danceability

    acousticness = (
        0.35 * (1.0 - ramp(s["rolloff_hz"], 1500.0, 7000.0))
        + 0.25 * (1.0 - noisy)
        + 0.25 * ramp(s["harmonic_ratio"], 0.4, 0.85)
        + 0.15 * (1.0 - loud)
    )

    speech_raw = (
        0.35 * s["syllabic_modulation"]
        + 0.25 * ramp(s["pause_fraction"], 0.05, 0.35)
        + 0.2 * ramp(s["zcr_cv"], 0.4, 1.2)
        + 0.2 * ramp(s["vocal_fraction"], 0.2, 0.8)
    )
    speechiness = speech_raw * (1.0 - 0.6 * ramp(pulse, 0.2, 0.6))

    instrumentalness = 1.0 - ramp(s["vocal_fraction"], 0.05, 0.5)

    ambience = ramp(s["floor_db"], -40.0, -10.0)  # the signal never drops: crowd, room
    liveness = (
        0.1 + 0.5 * ambience * ramp(s["flatness"], 0.01, 0.2) + 0.2 * ramp(s["crest_db"], 12, 24)
    )
    values = {
        "energy": energy,
        "danceability": danceability,
        "valence": valence,
        "acousticness": acousticness,
        "instrumentalness": instrumentalness,
        "speechiness": speechiness,
        "liveness": liveness,
    }
    return {k: round(clamp01(v), 4) for k, v in values.items()}


def _onset_rate(onset: np.ndarray, frame_rate: float) -> float:
    """Local maxima of the onset envelope above mean + 1 std, per second."""
    if len(onset) < 3 or onset.std() < 1e-6:
        return 0.0
    thr = onset.mean() + onset.std()
    peaks = (onset[1:-1] > onset[:-2]) & (onset[1:-1] >= onset[2:]) & (onset[1:-1] > thr)
    return float(peaks.sum() / (len(onset) / frame_rate))


def _pause_fraction(rms_db: np.ndarray, active: np.ndarray) -> float:
    """Share of frames 25 dB or more below the loud level (speech has many short pauses)."""
    if not active.any():
        return 0.0
    ref = np.percentile(rms_db[active], 90)
    return float(np.mean(rms_db < ref - 25.0))


def _syllabic_modulation(env: np.ndarray, frame_rate: float) -> float:
    """Share of the 0.5–20 Hz modulation of the speech-band log envelope in 2.5–7 Hz."""
    if len(env) < int(frame_rate * 2) or env.std() < 1e-6:
        return 0.0
    x = env - env.mean()
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
    freqs = np.fft.rfftfreq(len(x), 1.0 / frame_rate)
    total = spec[(freqs >= 0.5) & (freqs < 20.0)].sum()
    syll = spec[(freqs >= 2.5) & (freqs < 7.0)].sum()
    # a steady beat also modulates at 2–7 Hz, but as a few sharp lines:
    peakiness = spec[(freqs >= 2.5) & (freqs < 7.0)].max() / (syll + EPS) if syll > 0 else 1.0
    return clamp01(syll / (total + EPS) * 1.6) * (1.0 - clamp01(peakiness * 8.0 - 0.4))


def _crest_db(rms_db: np.ndarray, sel: np.ndarray) -> float:
    return float(np.max(rms_db[sel]) - np.mean(rms_db[sel])) if sel.any() else 0.0


def _chroma_entropy(chroma: np.ndarray) -> float:
    """Normalised entropy of the average chroma (0 = one pitch class, 1 = all equal)."""
    if chroma.size == 0:
        return 0.0
    p = chroma.mean(axis=1)
    if p.sum() <= EPS:
        return 0.0
    p = p / p.sum()
    return float(-(p * np.log(p + EPS)).sum() / math.log(12))


def _swing(onset: np.ndarray, beats: list[float], frame_rate: float) -> float:
    """How much off-beat onset energy sits at 2/3 of the beat rather than 1/2 (0..1)."""
    b = np.asarray(beats, dtype=float)
    if len(b) < 8:
        return 0.0
    straight, swung = 0.0, 0.0
    for t0, t1 in itertools.pairwise(b):
        i_half = round((t0 + 0.5 * (t1 - t0)) * frame_rate)
        i_swing = round((t0 + 2.0 / 3.0 * (t1 - t0)) * frame_rate)
        if i_swing + 1 < len(onset):
            straight += float(onset[max(0, i_half - 1) : i_half + 2].max())
            swung += float(onset[max(0, i_swing - 1) : i_swing + 2].max())
    if straight + swung <= EPS:
        return 0.0
    return clamp01((swung - straight) / (swung + straight) * 3.0)
