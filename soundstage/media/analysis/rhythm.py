"""Tempo, beats, downbeats and meter of a mono signal (see docs/analysis.md, "Rhythm").

Pipeline, all at 22.05 kHz with a 512-sample hop (≈ 43 frames per second):

1. Onset envelope: log-compressed mel spectral flux (SuperFlux-style maximum
   filter across frequency, so vibrato does not count as onsets), computed in
   four bands (< 150 Hz, 150–600 Hz, 0.6–3 kHz, > 3 kHz); each band is
   high-passed, rectified and normalised, and the bands are averaged with a
   double weight on the lowest (kick drum, bass) band.
2. Tempogram: in 8.9 s windows every 0.75 s, a generalised autocorrelation
   (|FFT|^0.5) and a Fourier magnitude of the envelope. The autocorrelation
   peaks at the beat period and its multiples (half, third tempo), the Fourier
   transform at the beat frequency and its harmonics (double, triple tempo);
   their product keeps the metrical level both agree on (Peeters 2007). The
   product is averaged over windows.
3. Tempo: the maximum of that salience, weighted by a gentle log-normal prior
   (centre 115 BPM, one octave wide) and refined by parabolic interpolation.
   Metrical level: beats are tracked at the candidate tempo and an accent
   envelope (flux of mel amplitudes, so loud kicks, snares and chords count
   more than hats) is read on them, at the loudest of eight beat phases.
   Every second beat much weaker → too fast (halve), unless the soft beats
   carry the kick (a backbeat with a loud snare; halved only above ~141 BPM);
   a strong event halfway between beats → too slow (double); a
   strong-weak-weak pattern → a ternary pulse (divide by 3). A move is taken
   only when the new level passes the same tests. Then a tempo CNN trained on
   real recordings (tempo_cnn.py) may move the result by an octave when it is
   confident and the accents do not contradict it (`_model_level`).
4. Beats: dynamic programming (librosa's Ellis beat tracker) on our envelope,
   fed with our tempo, or with a smoothed local tempo curve when the tempo
   moves by more than a few percent; moved by k/8 of a beat when that series
   is clearly (1.5×) louder (the tracker locked onto off-beat bass and hats).
5. Meter and downbeats: beat-synchronous low-band onset strength, harmonic
   change (chroma novelty) and loudness are scored for every bar phase of a
   3- and a 4-beat bar; periodicity of the same features at 3 vs 4 beats picks
   the meter (4 unless 3 is clearly better).

Confidence (0..1) is the geometric mean of two scores: how many tracked beats land
on an onset (the hit rate, 0.55 in noise → 0.9 on a clear pulse) and the
tempogram's periodicity at the chosen period (up to 0.08); calibrated on the
accuracy bench (docs/analysis.md).
"""

from __future__ import annotations

import itertools
from typing import NamedTuple

import librosa
import numpy as np
from scipy.ndimage import maximum_filter1d, median_filter, uniform_filter1d

from soundstage.media.analysis._onset import (
    RHYTHM_SR,
    reduce_spectrogram,
    signal_rms,
    to_mono_rate,
)
from soundstage.media.analysis.result import Rhythm
from soundstage.media.analysis.tempo_cnn import class_bpms, tempo_distribution

HOP = 512
N_FFT = 2048
N_MELS = 64
FPS = RHYTHM_SR / HOP
BAND_EDGES_HZ = (150.0, 600.0, 3000.0)
BAND_WEIGHTS = (2.0, 1.0, 1.0, 1.0)
TEMPOGRAM_WIN = 384  # frames ≈ 8.9 s
TEMPOGRAM_STRIDE = 32  # frames ≈ 0.75 s
TEMPOGRAM_FFT = 2048
SILENCE_RMS = 1e-4  # ≈ -80 dBFS
# Confidence calibration (docs/analysis.md, "Rhythm", step 6): beat hit rate from 0.55 (what
# a beat tracker finds in noise) to 0.9, and tempogram periodicity up to 0.08.
CONF_HITS = (0.55, 0.9)
CONF_PERIODICITY = 0.08


def estimate_rhythm(
    y: np.ndarray,
    sr: int,
    *,
    min_bpm: float = 30.0,
    max_bpm: float = 300.0,
    prior_bpm: float = 115.0,
    prior_octaves: float = 1.0,
    tightness: float = 400.0,
    tempo_model: bool = True,
) -> Rhythm:
    """Tempo (BPM), beat and downbeat times (s), meter and a 0..1 confidence.

    `y` is mono (or channels × samples, mixed down) at any rate `sr`; it is
    analysed at 22.05 kHz. Silence, noise without a pulse and very short input
    give a valid `Rhythm` with a confidence near 0 (bpm 0 and no beats for
    digital silence). `tempo_model=False` leaves the tempo CNN out (step 3).
    """
    y = to_mono_rate(y, sr, RHYTHM_SR)
    empty = Rhythm(bpm=0.0, bpm_confidence=0.0, beats=[], downbeats=[], meter=4)
    if y.size < RHYTHM_SR // 4 or signal_rms(y) < SILENCE_RMS:
        return empty
    feats = _features(y)
    env, low_env = feats["env"], feats["low"]
    if not np.any(env > 0):
        return empty

    bpm_grid, salience, local, acf_mean = _tempo_salience(env, min_bpm, max_bpm)
    prior = np.exp(-0.5 * (np.log2(bpm_grid / prior_bpm) / prior_octaves) ** 2)
    weighted = salience * prior
    i = int(np.argmax(weighted))
    bpm = _refine_peak(bpm_grid, weighted, i)
    bpm = _metrical_level(feats, bpm, min_bpm, max_bpm, tightness)
    distribution = tempo_distribution(y, RHYTHM_SR) if tempo_model else None
    if distribution is not None:
        bpm = _model_level(feats, bpm, distribution, min_bpm, max_bpm, tightness)
    periodicity = _acf_at(acf_mean, FPS * 60.0 / bpm)

    tempo_curve = _local_tempo(local, bpm_grid, bpm, len(env))
    beats = _on_beat_phase(
        _track_beats(env, tempo_curve, bpm, tightness), feats["accent"], PHASE_SHIFT
    )
    if len(beats) >= 4 and tempo_curve is None:
        # The beats' mean period is finer than the tempogram grid (frame-quantised beats).
        slope = float(np.polyfit(np.arange(len(beats)), beats, 1)[0])
        bpm_beats = 60.0 * FPS / slope
        if abs(bpm_beats / bpm - 1) < 0.04:
            bpm = bpm_beats

    hits = _hit_rate(env, beats)
    confidence = float(
        np.sqrt(
            np.clip((hits - CONF_HITS[0]) / (CONF_HITS[1] - CONF_HITS[0]), 0, 1)
            * np.clip(periodicity / CONF_PERIODICITY, 0, 1)
        )
    )
    meter, downbeat_idx = _meter_and_downbeats(beats, low_env, env, feats["chroma"])
    times = beats / FPS
    return Rhythm(
        bpm=round(float(bpm), 2),
        bpm_confidence=round(confidence, 3),
        beats=[round(float(t), 3) for t in times],
        downbeats=[round(float(times[j]), 3) for j in downbeat_idx],
        meter=meter,
    )


# --- onset features ---------------------------------------------------------


def _features(y: np.ndarray) -> dict[str, np.ndarray]:
    mel_fb = librosa.filters.mel(
        sr=RHYTHM_SR, n_fft=N_FFT, n_mels=N_MELS, fmin=27.5, fmax=RHYTHM_SR / 2
    ).astype(np.float32)
    chroma_fb = librosa.filters.chroma(sr=RHYTHM_SR, n_fft=N_FFT).astype(np.float32)
    chroma_fb[:, : int(80 * N_FFT / RHYTHM_SR)] = 0.0  # ignore sub-bass and DC
    mel, chroma = reduce_spectrogram(y, N_FFT, HOP, [lambda p: mel_fb @ p, lambda p: chroma_fb @ p])
    ref = float(mel.max()) or 1.0
    mel /= ref
    # Arrays are released as soon as they are used: on an hour-long file each is ~40 MB.
    flux = _rising(np.log10(np.maximum(mel, 1e-8)))  # log over an 80 dB range
    centres_hz = librosa.mel_frequencies(n_mels=N_MELS + 2, fmin=27.5, fmax=RHYTHM_SR / 2)[1:-1]
    edges = np.searchsorted(centres_hz, BAND_EDGES_HZ)
    bounds = [0, *edges.tolist(), N_MELS]
    bands = []
    for lo, hi in itertools.pairwise(bounds):
        bands.append(_normalise(flux[lo:hi].mean(axis=0)) if hi > lo else np.zeros(flux.shape[1]))
    del flux
    weights = np.asarray(BAND_WEIGHTS)
    env = np.tensordot(weights / weights.sum(), np.stack(bands), axes=1)
    # Accent: flux of mel amplitudes (not logs), so loud events (kick, snare, strummed
    # chords) outweigh quiet ones (hats, shakers, soft arpeggio notes).
    amp_flux = _rising(np.sqrt(mel, out=mel))
    accent = _normalise(amp_flux.sum(axis=0))
    low_accent = _normalise(amp_flux[: bounds[1]].sum(axis=0))  # kick and bass loudness
    del amp_flux
    return {
        "env": env.astype(np.float32),
        "low": bands[0].astype(np.float32),
        "accent": accent.astype(np.float32),
        "low_accent": low_accent.astype(np.float32),
        "chroma": chroma,
    }


def _rising(x: np.ndarray) -> np.ndarray:
    """Positive change of each band against the previous frame's 3-band maximum (SuperFlux)."""
    prev = maximum_filter1d(x, size=3, axis=0)
    flux = np.zeros_like(x)
    np.subtract(x[:, 1:], prev[:, :-1], out=flux[:, 1:])
    del prev
    return np.maximum(flux, 0.0, out=flux)


def _normalise(x: np.ndarray) -> np.ndarray:
    """High-pass (subtract a 1 s moving average), rectify, scale to unit std."""
    x = x - uniform_filter1d(x, size=int(FPS), mode="nearest")
    x = np.maximum(x, 0.0)
    std = float(x.std())
    return x / std if std > 1e-9 else np.zeros_like(x)


# --- tempo ----------------------------------------------------------------------


def _tempo_salience(
    env: np.ndarray, min_bpm: float, max_bpm: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """BPM grid, global salience, per-window salience (tempo tracking), mean ACF."""
    win = min(TEMPOGRAM_WIN, max(64, len(env)))
    padded = np.pad(env, (win // 2, win // 2))
    frames = np.lib.stride_tricks.sliding_window_view(padded, win)[::TEMPOGRAM_STRIDE]
    frames = frames - frames.mean(axis=1, keepdims=True)
    frames = frames * np.hanning(win)
    spec = np.abs(np.fft.rfft(frames, n=TEMPOGRAM_FFT, axis=1))
    acf = np.fft.irfft(np.sqrt(spec), n=TEMPOGRAM_FFT, axis=1)[:, :win]  # generalised ACF
    acf = acf / np.maximum(acf[:, :1], 1e-9)
    bpm_grid = min_bpm * 2.0 ** np.arange(0, np.log2(max_bpm / min_bpm), 1 / 96)
    lags = FPS * 60.0 / bpm_grid
    valid = lags < win - 1
    acf_g = np.zeros((len(frames), len(bpm_grid)))
    li = np.floor(lags[valid]).astype(int)
    frac = lags[valid] - li
    acf_g[:, valid] = acf[:, li] * (1 - frac) + acf[:, li + 1] * frac
    bins = bpm_grid / 60.0 * TEMPOGRAM_FFT / FPS
    bi = np.floor(bins).astype(int)
    bfrac = bins - bi
    dft_g = spec[:, bi] * (1 - bfrac) + spec[:, bi + 1] * bfrac
    dft_g = dft_g / np.maximum(dft_g.max(axis=1, keepdims=True), 1e-9)
    local = np.clip(acf_g, 0, None) * dft_g
    energy = frames.std(axis=1)
    weights = energy / max(float(energy.sum()), 1e-9)
    salience = (local * weights[:, None]).sum(axis=0)
    acf_mean = (acf * weights[:, None]).sum(axis=0)
    return bpm_grid, salience, local, acf_mean


LEVEL_MIN_BPM = 40.0  # never halve below this (a 30 BPM "beat" is a bar)
LEVEL_MAX_BPM = 240.0  # never double above this
TOO_FAST = 0.42  # accent contrast of even vs odd beats: every second "beat" is an off-beat
TOO_SLOW = 0.45  # accent halfway between beats relative to the beats: a beat falls there
TERNARY = 0.55  # strong-weak-weak contrast of a 6/8 or swing-triplet pulse (3/4 beats: < 0.25)
LEGATO_SPLIT_BPM = 100.0  # without a clean subdivision, the octave nearer this wins
KICK_ON_WEAK = 0.8  # soft beats with this share of the loud beats' kick/bass are beats
PHASES = 8  # beat phases tried by `_on_beat_phase` (eighths of a beat)
PHASE_SHIFT = 1.5  # a shifted beat series this much louder replaces the tracked beats
MODEL_CONFIDENT = 0.5  # probability the tempo CNN must give a level (±4 %) to propose it
MODEL_MARGIN = 3.0  # ... and this many times what it gives the level the rules chose


class _Pattern(NamedTuple):
    """Accent pattern of beats tracked at one tempo (see `_accent_pattern`)."""

    parity: float  # |even − odd| / (even + odd) of the accent on beats
    ternary: float  # strongest of three beat phases vs the other two
    mid: float  # accent halfway between beats / on beats
    backbeat: bool  # the soft beats carry (nearly) as much kick/bass as the loud ones


def _metrical_level(
    feats: dict[str, np.ndarray],
    bpm: float,
    min_bpm: float,
    max_bpm: float,
    tightness: float,
) -> float:
    """Move the tempo by octaves (or a factor 3) until the beats look like beats.

    Beats are tracked at a candidate tempo and the accent envelope (loud events)
    is read on them. At twice the tactus every second "beat" is an off-beat, so
    the beats alternate strong/weak (too fast); at half the tactus a strong event
    (a snare, the next kick, a chord) sits halfway between beats (too slow). At
    the tactus, every beat carries an event and the halfway points are weaker.
    A backbeat (loud snares or claps, the kick on the soft beats) alternates too
    but is the tactus (Goto & Muraoka's drum-pattern cue): it is halved only
    above ~141 BPM, where the slower octave is nearer 100 BPM. A ternary pulse (6/8 eighths, swing triplets) shows a
    strong-weak-weak pattern instead. A double level whose own halfway points are
    strong too (a legato texture with no clear subdivision) is taken only when it
    is nearer 100 BPM (below ~71 BPM). When no test fires, the prior-weighted
    salience stays.
    """
    lo, hi = max(min_bpm, LEVEL_MIN_BPM), min(max_bpm, LEVEL_MAX_BPM)
    cache: dict[float, _Pattern] = {}

    def stats(tempo: float) -> _Pattern:
        key = round(tempo, 3)
        if key not in cache:
            cache[key] = _accent_pattern(feats, tempo, tightness)
        return cache[key]

    def fast(tempo: float) -> bool:  # every second beat an off-beat
        s = stats(tempo)
        split = LEGATO_SPLIT_BPM * np.sqrt(2)
        return s.parity > TOO_FAST and (not s.backbeat or tempo > split)

    def slow(tempo: float) -> bool:  # a strong event halfway between beats
        return stats(tempo).mid > TOO_SLOW

    def clean(tempo: float) -> bool:
        return not fast(tempo) and not slow(tempo)

    def legato(tempo: float) -> bool:  # even beats, but strong events halfway too
        return not fast(tempo)

    seen = {round(bpm, 3)}
    for _ in range(3):
        s = stats(bpm)
        nxt = bpm
        if fast(bpm) and bpm / 2 >= lo and clean(bpm / 2):
            nxt = bpm / 2
        elif s.ternary > TERNARY and not fast(bpm) and bpm / 3 >= lo and clean(bpm / 3):
            nxt = bpm / 3
        elif (
            not fast(bpm)
            and slow(bpm)
            and bpm * 2 <= hi
            and (clean(bpm * 2) or (legato(bpm * 2) and bpm * 2 < LEGATO_SPLIT_BPM * np.sqrt(2)))
        ):
            nxt = bpm * 2
        if round(nxt, 3) in seen:
            break
        seen.add(round(nxt, 3))
        bpm = nxt
    return bpm


def _model_level(
    feats: dict[str, np.ndarray],
    bpm: float,
    distribution: np.ndarray,
    min_bpm: float,
    max_bpm: float,
    tightness: float,
) -> float:
    """The octave of `bpm` the tempo CNN prefers, unless the accents contradict it.

    The CNN (tempo_cnn.py) learnt from annotated real recordings which level
    listeners tap; the rules above only see this signal. The CNN's choice is
    taken when it is confident (≥ `MODEL_CONFIDENT` of its probability within
    ±4 %, ≥ `MODEL_MARGIN` × what it gives the rules' level) and the signal
    does not rule it out: an octave up is refused when every second beat of it
    is an off-beat and not a backbeat (the CNN doubles slow clicks and grooves),
    an octave down when strong events sit halfway between its beats (it halves
    fast ones). Only octaves are proposed; ternary levels stay with the rules.
    """
    grid = class_bpms()

    def mass(tempo: float) -> float:
        return float(distribution[np.abs(grid / tempo - 1) <= 0.04].sum())

    current = mass(bpm)
    candidates = [
        t
        for t in (bpm / 2, bpm * 2)
        if max(min_bpm, LEVEL_MIN_BPM) <= t <= min(max_bpm, LEVEL_MAX_BPM)
    ]
    if not candidates:
        return bpm
    best = max(candidates, key=mass)
    if mass(best) < MODEL_CONFIDENT or mass(best) < MODEL_MARGIN * current:
        return bpm
    pattern = _accent_pattern(feats, best, tightness)
    if best > bpm and pattern.parity > TOO_FAST and not pattern.backbeat:
        return bpm
    if best < bpm and pattern.mid > TOO_SLOW:
        return bpm
    return best


def _accent_pattern(feats: dict[str, np.ndarray], bpm: float, tightness: float) -> _Pattern:
    """Accent (and kick/bass) pattern of beats tracked at `bpm`.

    When the tracker locked onto off-beats or a syncopation (off-beat bass and
    hats in house, the "and" of 3 in drum and bass), the loudest shifted series
    is read as the beats, so a phase error is not mistaken for a too-slow level.
    `backbeat`: the soft beats carry ≥ 80 % of the loud beats' low-band (< 150 Hz)
    loudness, so they hold the kick or bass, not an off-beat hat.
    """
    beats = _on_beat_phase(_track_beats(feats["env"], None, bpm, tightness), feats["accent"], 1.0)
    if len(beats) < 6:
        return _Pattern(0.0, 0.0, 0.0, False)
    peak = maximum_filter1d(feats["accent"], size=3)
    low = maximum_filter1d(feats["low_accent"], size=5)
    idx = beats.astype(int)
    on = peak[idx]
    step = np.diff(beats)
    halfway = peak[(beats[:-1] + step / 2).astype(int)]
    even, odd = float(on[0::2].mean()), float(on[1::2].mean())
    parity = abs(even - odd) / max(even + odd, 1e-9)
    strong, weak = (0, 1) if even >= odd else (1, 0)
    backbeat = float(low[idx[weak::2]].mean()) >= KICK_ON_WEAK * float(low[idx[strong::2]].mean())
    thirds = [float(on[k::3].mean()) for k in range(3)]
    top = int(np.argmax(thirds))
    rest = (sum(thirds) - thirds[top]) / 2
    ternary = (thirds[top] - rest) / max(thirds[top] + rest, 1e-9)
    scale = max(float(on.mean()), 1e-9)
    return _Pattern(parity, ternary, float(halfway.mean()) / scale, backbeat)


def _on_beat_phase(beats: np.ndarray, accent: np.ndarray, ratio: float) -> np.ndarray:
    """`beats`, or the series shifted by k/8 of a beat when it is `ratio` × louder.

    The tracker follows the strongest onsets, which can be a syncopated kick or
    off-beat bass and hats; the loudest series (accent: kicks, snares, chords)
    is where a listener puts the beat.
    """
    if len(beats) < 6:
        return beats
    peak = maximum_filter1d(accent, size=3)
    step = np.diff(beats)
    shifted = [beats[:-1] + k / PHASES * step for k in range(PHASES)]
    loudness = [float(peak[np.round(x).astype(int)].mean()) for x in shifted]
    best = int(np.argmax(loudness))
    if best == 0 or loudness[best] <= ratio * loudness[0]:
        return beats
    out = np.append(shifted[best], beats[-1] + best / PHASES * step[-1])
    return out[out <= len(accent) - 1]


def _acf_at(acf: np.ndarray, lag: float) -> float:
    if lag >= len(acf) - 1:
        return 0.0
    i = int(lag)
    f = lag - i
    return float(max(0.0, acf[i] * (1 - f) + acf[i + 1] * f))


def _refine_peak(grid: np.ndarray, values: np.ndarray, i: int) -> float:
    if 0 < i < len(values) - 1:
        a, b, c = values[i - 1], values[i], values[i + 1]
        denom = a - 2 * b + c
        if denom < 0:
            shift = float(np.clip(0.5 * (a - c) / denom, -0.5, 0.5))
            step = np.log2(grid[i + 1] / grid[i])
            return float(grid[i] * 2.0 ** (shift * step))
    return float(grid[i])


def _local_tempo(
    local: np.ndarray, grid: np.ndarray, bpm: float, n_frames: int
) -> np.ndarray | None:
    """A smoothed per-frame tempo near `bpm`, or None when the tempo is steady."""
    if len(local) < 8:
        return None
    near = np.abs(np.log2(grid / bpm)) < np.log2(1.25)
    sub = local[:, near]
    idx = np.argmax(sub, axis=1)
    curve = grid[near][idx]
    strong = sub.max(axis=1) > 0.25 * float(sub.max())
    if strong.sum() < 8:
        return None
    curve = np.where(strong, curve, np.nan)
    valid = np.flatnonzero(~np.isnan(curve))
    curve = np.interp(np.arange(len(curve)), valid, curve[valid])
    curve = median_filter(curve, size=9, mode="nearest")
    if np.percentile(np.abs(curve / bpm - 1), 80) < 0.04:
        return None
    centres = np.arange(len(curve)) * TEMPOGRAM_STRIDE
    return np.interp(np.arange(n_frames), centres, curve)


# --- beats --------------------------------------------------------------------


def _track_beats(
    env: np.ndarray, tempo_curve: np.ndarray | None, bpm: float, tightness: float
) -> np.ndarray:
    bpm_arg: float | np.ndarray = bpm if tempo_curve is None else tempo_curve
    _, beats = librosa.beat.beat_track(
        onset_envelope=env,
        sr=RHYTHM_SR,
        hop_length=HOP,
        bpm=bpm_arg,
        tightness=tightness,
        trim=True,
        units="frames",
    )
    return np.asarray(beats, dtype=float)


def _hit_rate(env: np.ndarray, beats: np.ndarray) -> float:
    """Fraction of beats that land on an onset (envelope above its 75th percentile)."""
    if len(beats) < 4:
        return 0.0
    peak = maximum_filter1d(env, size=3)
    return float(np.mean(peak[beats.astype(int)] > np.percentile(peak, 75)))


# --- meter and downbeats ---------------------------------------------------------


def _meter_and_downbeats(
    beats: np.ndarray, low_env: np.ndarray, env: np.ndarray, chroma: np.ndarray
) -> tuple[int, list[int]]:
    n = len(beats)
    if n < 6:
        return 4, list(range(0, n, 4))
    idx = beats.astype(int)
    low = maximum_filter1d(low_env, size=5)[idx]
    acc = maximum_filter1d(env, size=3)[idx]
    # Harmonic change: chroma of the beat's span vs the previous span.
    bounds = np.concatenate([[0], idx, [chroma.shape[1]]])
    sync = np.stack(
        [
            chroma[:, a:b].mean(axis=1) if b > a else np.zeros(12)
            for a, b in itertools.pairwise(bounds)
        ],
        axis=1,
    )[:, 1:]  # span starting at each beat
    sync = sync / np.maximum(np.linalg.norm(sync, axis=0, keepdims=True), 1e-9)
    change = np.zeros(n)
    change[1:] = 1.0 - np.sum(sync[:, 1:] * sync[:, :-1], axis=0)
    feats = [_z(low), _z(acc), _z(change)]
    weights = [1.0, 0.5, 1.0]

    def periodicity(lag: int) -> float:
        total = 0.0
        for f, w in zip(feats, weights, strict=True):
            if len(f) > lag + 2:
                total += w * float(np.mean(f[lag:] * f[:-lag]))
        return total

    score3 = periodicity(3) + 0.5 * periodicity(6)
    score4 = periodicity(4) + 0.5 * periodicity(8)
    meter = 3 if score3 > score4 + 0.1 else 4
    combined = sum(w * f for f, w in zip(feats, weights, strict=True))
    phase_scores = [float(np.mean(combined[p::meter])) for p in range(meter)]
    phase = int(np.argmax(phase_scores))
    return meter, list(range(phase, n, meter))


def _z(x: np.ndarray) -> np.ndarray:
    std = float(x.std())
    return (x - x.mean()) / std if std > 1e-9 else np.zeros_like(x)
