"""The whole analysis of one audio file: `analyze_file(path) -> AnalysisResult`.

The file is decoded once to mono 22.05 kHz float32 for analysis (a 60-minute
file is about 317 MB); the loudness meter reads its own 44.1 kHz stream in
10 s chunks, in a thread, at the same time. Frame features are computed once
(features.py) and shared by descriptors, vocals and structure; rhythm and key
come from rhythm.py and key.py.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from soundstage.media.analysis._onset import all_finite
from soundstage.media.analysis.descriptors import compute_descriptors, signal_stats
from soundstage.media.analysis.features import SR, Features, compute_features, energy_curve
from soundstage.media.analysis.lyrics import Transcriber, align_lyrics, parse_lyrics
from soundstage.media.analysis.mood import (
    genre_probabilities,
    genre_scores,
    mood_scores,
    mood_summary,
)
from soundstage.media.analysis.result import AnalysisResult, KeyEstimate, LyricLine, Rhythm
from soundstage.media.analysis.structure import detect_sections, suggested_sections
from soundstage.media.analysis.vocals import detect_vocals
from soundstage.media.audio.decode import AudioInfo, probe_audio, read_chunks
from soundstage.media.audio.errors import AudioDecodeError
from soundstage.media.audio.loudness import LoudnessMeter, LoudnessReport

ENERGY_CURVE_HZ = 20.0
LOUDNESS_SR = 44100
PREALLOCATE_MAX_S = 6 * 3600.0  # probed durations beyond this are not trusted
SERIAL_ABOVE_S = 15 * 60.0  # longer signals: rhythm and key one after the other
ProgressFn = Callable[[float, str], None]

# Below this rhythm confidence the tempo is reported with a warning. Calibrated on the
# accuracy bench (docs/analysis.md, "Rhythm", step 6): pulseless input (noise, textures,
# beatless pads) stays below it, about 97 % of correctly found pulses are above it.
PULSE_WARNING_CONFIDENCE = 0.25


class AnalysisError(ValueError):
    """The file cannot be analysed: missing, not audio, corrupt or empty."""


def _decode(path: Path) -> tuple[AudioInfo, _LoudnessJob, np.ndarray]:
    """Probe, start the loudness measurement in the background, and decode mono for analysis."""
    info = _probe(path)
    loudness = _LoudnessJob(path, info)
    try:
        return info, loudness, decode_mono(path, info.channels, info.duration_s)
    except AnalysisError:
        loudness.cancel()
        raise


def analyze_file(
    path: Path,
    *,
    lyrics: str | None = None,
    transcriber: Transcriber | None = None,
    on_progress: ProgressFn | None = None,
) -> AnalysisResult:
    """Analyse an audio file (any format FFmpeg reads).

    `lyrics` (plain text or LRC) are aligned to the detected vocals; without
    them, `transcriber` (if given and vocals were found) supplies timed lines.
    Raises `AnalysisError` for files that cannot be decoded or hold no audio.
    """
    progress = on_progress or (lambda fraction, stage: None)
    path = Path(path)
    progress(0.0, "decoding")
    info, loudness, y = _decode(path)
    progress(0.15, "analysing")
    result = analyze_signal(
        y,
        SR,
        sample_rate=info.sample_rate,
        channels=info.channels,
        loudness=loudness,
        lyrics=lyrics,
        on_progress=progress,
    )
    del y
    if lyrics is None and transcriber is not None and result.vocal_regions:
        progress(0.92, "transcribing")
        try:
            lines = transcriber.transcribe(path)
            result.lyrics = _clean_lines(lines, result.duration_s)
            result.lyrics_source = "transcribed" if result.lyrics else None
        except Exception as exc:
            result.warnings.append(f"lyrics transcription failed: {exc}")
    progress(1.0, "done")
    return result


def analyze_signal(
    y: np.ndarray,
    sr: int = SR,
    *,
    sample_rate: int | None = None,
    channels: int = 1,
    loudness: LoudnessReport | _LoudnessJob | None = None,
    lyrics: str | None = None,
    on_progress: ProgressFn | None = None,
) -> AnalysisResult:
    """Analyse mono float samples `y` at `sr` (22.05 kHz preferred: others are resampled).

    `loudness` is a report measured elsewhere (on the original channels); when
    None it is measured on `y`.
    """
    progress = on_progress or (lambda fraction, stage: None)
    y = _prepare(y, sr)
    if y.size == 0:
        raise AnalysisError("no audio samples")
    duration = len(y) / SR
    warnings: list[str] = []
    progress(0.2, "rhythm, key and features")
    rhythm, key, feat, curve = _signal_steps(y, serial=duration > SERIAL_ABOVE_S)
    progress(0.7, "vocals")
    vocals = detect_vocals(feat)
    vocal_fraction = sum(b - a for a, b in vocals) / duration
    report = _loudness_report(loudness, y)
    lufs = _finite(report.integrated_lufs)
    stats = signal_stats(feat, rhythm, lufs, vocal_fraction)
    desc = compute_descriptors(stats, key)
    moods = mood_scores(desc, stats, key)
    primary, tags, mood_conf = mood_summary(moods)
    genres = genre_probabilities(genre_scores(desc, stats, key))
    genre = max(genres, key=lambda g: genres[g])
    progress(0.8, "structure")
    sections = detect_sections(feat, rhythm, duration)
    suggested = suggested_sections(sections, rhythm.beats, duration)

    silent = stats["active_fraction"] < 0.02
    if silent:
        warnings.append("the audio is silent")
        mood_conf, primary, tags = 0.0, "calm", ["calm"]
    if rhythm.bpm_confidence < PULSE_WARNING_CONFIDENCE:
        warnings.append("no steady pulse found: tempo and beats are unreliable")
    if key.confidence < 0.15:
        warnings.append("no clear key found")
    if not silent and stats["flatness"] > 0.3:
        warnings.append("the audio is mostly noise: descriptors are unreliable")

    result = AnalysisResult(
        duration_s=round(duration, 3),
        sample_rate=int(sample_rate or sr),
        channels=int(channels),
        rhythm=rhythm,
        key=key,
        loudness_lufs=_round(lufs),
        true_peak_dbtp=_round(_finite(report.true_peak_dbtp)),
        loudness_range_lu=_round(_finite(report.loudness_range_lu)) if lufs is not None else None,
        energy_curve=[round(float(v), 4) for v in curve],
        energy_curve_hz=ENERGY_CURVE_HZ,
        descriptors=desc,
        genre=genre,
        genre_probabilities=genres,
        mood_primary=primary,
        mood_tags=tags,
        mood_vector=moods,
        mood_confidence=mood_conf,
        sections=sections,
        suggested_sections=suggested,
        vocal_regions=vocals,
        warnings=warnings,
    )
    if lyrics is not None and lyrics.strip():
        progress(0.9, "lyrics")
        result.lyrics = align_lyrics(
            parse_lyrics(lyrics), vocals, duration, rhythm.beats, warnings=warnings
        )
        result.lyrics_source = "aligned" if result.lyrics else None
    return result


def _signal_steps(
    y: np.ndarray, *, serial: bool
) -> tuple[Rhythm, KeyEstimate, Features, np.ndarray]:
    """Rhythm, key, frame features (with the HPSS sums) and the energy curve of `y`.

    numpy/FFT work releases the GIL, so rhythm and key normally run beside the
    frame features. On long signals (`serial`) every step runs alone: each
    holds temporaries of the signal's size, and overlapping them would add up
    (bounded memory over speed).
    """
    from soundstage.media.analysis.key import estimate_key
    from soundstage.media.analysis.rhythm import estimate_rhythm

    def frame_features() -> tuple[Features, np.ndarray]:
        feat = compute_features(y, SR)
        _ = feat.hpss_frames
        return feat, energy_curve(y, SR, ENERGY_CURVE_HZ)

    if serial:
        rhythm, key = estimate_rhythm(y, SR), estimate_key(y, SR)
        return rhythm, key, *frame_features()
    with ThreadPoolExecutor(max_workers=2) as pool:
        rhythm_job = pool.submit(estimate_rhythm, y, SR)
        key_job = pool.submit(estimate_key, y, SR)
        feat, curve = frame_features()
        return rhythm_job.result(), key_job.result(), feat, curve


def reference_features(path: Path) -> dict:
    """BPM, key, mode, energy (0..1) and loudness (LUFS) of a reference track (fast path)."""
    from soundstage.media.analysis.key import estimate_key
    from soundstage.media.analysis.rhythm import estimate_rhythm

    path = Path(path)
    _info, loudness, y = _decode(path)
    with ThreadPoolExecutor(max_workers=2) as pool:
        rhythm_job = pool.submit(estimate_rhythm, y, SR)
        key_job = pool.submit(estimate_key, y, SR)
        feat = compute_features(y, SR)
        rhythm, key = rhythm_job.result(), key_job.result()
    report = _loudness_report(loudness, y)
    lufs = _finite(report.integrated_lufs)
    stats = signal_stats(feat, rhythm, lufs, vocal_fraction=0.0)
    energy = compute_descriptors(stats, key)["energy"]
    return {
        "bpm": rhythm.bpm,
        "bpm_confidence": rhythm.bpm_confidence,
        "key": key.key,
        "mode": key.mode,
        "key_confidence": key.confidence,
        "energy": energy,
        "loudness_lufs": _round(lufs),
        "duration_s": round(len(y) / SR, 3),
    }


def decode_mono(path: Path, channels: int = 2, duration_s: float | None = None) -> np.ndarray:
    """The whole file as mono float32 at 22.05 kHz: the mean of its channels.

    FFmpeg resamples (and folds more than two channels to stereo); the
    channels are averaged here, chunk by chunk, because FFmpeg's own stereo to
    mono fold adds 3 dB. With `duration_s` (the probed duration) the samples
    are written into one preallocated array, so the peak is the signal plus
    one chunk rather than twice the signal.
    """
    ch = 1 if channels == 1 else 2
    ok = duration_s is not None and 0 < duration_s < PREALLOCATE_MAX_S
    cap = int(duration_s * SR * 1.01) + 2 * SR if ok else 0
    y = np.empty(cap, dtype=np.float32)
    extra: list[np.ndarray] = []  # past the preallocated end (duration under-reported)
    n = 0
    try:
        for c in read_chunks(path, SR, ch, chunk_frames=SR * 60):
            m = len(c)
            c = np.nan_to_num(c, copy=False, nan=0.0, posinf=0.0, neginf=0.0)  # per chunk
            if extra or n + m > cap:
                extra.append(c.mean(axis=1))
            elif ch == 1:
                y[n : n + m] = c[:, 0]
            else:
                np.add(c[:, 0], c[:, 1], out=y[n : n + m])
                y[n : n + m] *= np.float32(0.5)
            n += 0 if extra else m
    except AudioDecodeError as exc:
        raise AnalysisError(f"cannot decode {path.name}: {exc}") from exc
    y = np.concatenate([y[:n], *extra]) if extra else y[:n]
    if y.size == 0:
        raise AnalysisError(f"{path.name}: no audio samples")
    return y


def _probe(path: Path) -> AudioInfo:
    if not path.is_file():
        raise AnalysisError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise AnalysisError(f"{path.name}: empty file")
    try:
        info = probe_audio(path)
    except AudioDecodeError as exc:
        raise AnalysisError(f"cannot read {path.name}: {exc}") from exc
    if info.channels <= 0 or info.sample_rate <= 0:
        raise AnalysisError(f"{path.name}: no audio stream")
    return info


class _LoudnessJob:
    """Streams the file at 44.1 kHz (its own channels, up to 2) through the meter in a thread."""

    def __init__(self, path: Path, info: AudioInfo) -> None:
        self.channels = 1 if info.channels == 1 else 2
        self.report: LoudnessReport | None = None
        self.error: Exception | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(path,), daemon=True)
        self._thread.start()

    def _run(self, path: Path) -> None:
        try:
            meter = LoudnessMeter(LOUDNESS_SR, self.channels)
            for chunk in read_chunks(
                path, LOUDNESS_SR, self.channels, chunk_frames=LOUDNESS_SR * 10
            ):
                if self._stop.is_set():
                    return
                meter.add(chunk)
            self.report = meter.report()
        except Exception as exc:
            self.error = exc

    def cancel(self) -> None:
        self._stop.set()
        self._thread.join()

    def result(self) -> LoudnessReport | None:
        self._thread.join()
        return self.report


def _loudness_report(
    loudness: LoudnessReport | _LoudnessJob | None, y: np.ndarray
) -> LoudnessReport:
    report = loudness.result() if isinstance(loudness, _LoudnessJob) else loudness
    if report is None:
        meter = LoudnessMeter(SR, 1)
        meter.add(y)
        report = meter.report()
    return report


def _prepare(y: np.ndarray, sr: int) -> np.ndarray:
    """Mono contiguous float32 at `SR`; non-finite samples become 0 (the caller's array is
    left alone). Checked block by block: a whole-signal nan_to_num builds several
    signal-sized masks."""
    y = np.asarray(y, dtype=np.float32)
    if y.ndim > 1:
        y = y.mean(axis=1) if y.shape[0] > y.shape[1] else y.mean(axis=0)
    if not all_finite(y):  # before resampling, which rejects non-finite input
        y = np.nan_to_num(y, nan=0.0, posinf=0.0, neginf=0.0)
    if sr != SR and y.size:
        import librosa

        y = librosa.resample(y, orig_sr=sr, target_sr=SR, res_type="soxr_hq")
    return np.ascontiguousarray(y, dtype=np.float32)


def _clean_lines(lines: list[LyricLine], duration: float) -> list[LyricLine]:
    out: list[LyricLine] = []
    for line in sorted(lines, key=lambda ln: ln.start):
        start = max(0.0, float(line.start), out[-1].end if out else 0.0)
        end = min(duration, float(line.end))
        if end > start and line.text.strip():
            out.append(LyricLine(round(start, 3), round(end, 3), line.text.strip()))
    return out


def _finite(x: float | None) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def _round(x: float | None, nd: int = 2) -> float | None:
    return round(x, nd) if x is not None else None
