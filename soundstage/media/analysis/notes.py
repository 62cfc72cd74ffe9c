"""Note transcription: audio → note events → melody and bass voices → a MIDI file.

The model is Spotify's Basic Pitch (ICASSP 2022, Apache-2.0), the ONNX file
shipped inside the `basic-pitch` wheel, run with onnxruntime on the CPU. Only
the model file is used: basic-pitch is installed with `--no-deps` (its
declared dependencies pull TensorFlow) and never imported. The small
post-processing (posteriorgrams → notes) is reimplemented here after
basic-pitch's `note_creation.output_to_notes_polyphonic`. Nothing is
downloaded at run time; without the model or onnxruntime,
`NoteTranscriptionUnavailable` is raised so callers can say so.
"""

from __future__ import annotations

import contextlib
import functools
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from soundstage.media.analysis._models import shipped_file

# Basic Pitch's fixed framing (basic_pitch/constants.py)
MODEL_SR = 22050
FFT_HOP = 256
WINDOW_SAMPLES = MODEL_SR * 2 - FFT_HOP  # 43844 samples per model call
OVERLAP_FRAMES = 30  # frames shared by consecutive windows, half trimmed from each side
OVERLAP_SAMPLES = OVERLAP_FRAMES * FFT_HOP
HOP_SAMPLES = WINDOW_SAMPLES - OVERLAP_SAMPLES
MIDI_OFFSET = 21  # bin 0 is A0
N_PITCHES = 88
_INPUT = "serving_default_input_2:0"
_OUTPUTS = ("StatefulPartitionedCall:1", "StatefulPartitionedCall:2")  # note (frame), onset
_BATCH = 8  # windows per model call (~2 s each)

BASS_MAX_PITCH = 52  # E3: notes at or below it may be bass, notes above may be melody
# semitones from a fundamental to its 2nd..6th harmonics: where the model's ghost notes sit
_HARMONIC_INTERVALS = (12, 19, 24, 28, 31)


class NoteTranscriptionUnavailable(RuntimeError):
    """The transcription model or its runtime (onnxruntime) is not installed."""


@dataclass(frozen=True)
class NoteEvent:
    start: float  # seconds
    end: float  # seconds
    pitch: int  # MIDI note number
    velocity: int  # 1..127
    confidence: float  # 0..1, mean frame activation of the model over the note


def default_model_path() -> Path | None:
    """The ONNX model inside the installed basic-pitch wheel (found without importing it)."""
    return shipped_file("basic_pitch", "saved_models", "icassp_2022", "nmp.onnx")


@functools.lru_cache(maxsize=2)
def _session(path: str) -> Any:
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise NoteTranscriptionUnavailable(
            "note transcription needs onnxruntime, which is not installed"
        ) from exc
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = min(4, os.cpu_count() or 1)
    try:
        return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        raise NoteTranscriptionUnavailable(f"cannot load the note model {path}: {exc}") from exc


def load_model(model_path: Path | str | None = None) -> Any:
    """The onnxruntime session for the note model, loaded once per process and path."""
    path = Path(model_path) if model_path is not None else default_model_path()
    if path is None or not path.is_file():
        where = f" ({path})" if path is not None else ""
        raise NoteTranscriptionUnavailable(
            f"the note transcription model is not installed{where}: "
            "install basic-pitch with `pip install --no-deps basic-pitch` (scripts/setup.sh does)"
        )
    return _session(str(path.resolve()))


def posteriorgrams(
    y: np.ndarray, sr: int, *, model_path: Path | str | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(frames, onsets, times): model activations (n_frames, 88) and frame times in seconds."""
    session = load_model(model_path)
    y = np.asarray(y, dtype=np.float32)
    if y.ndim > 1:
        y = y.mean(axis=0 if y.shape[0] <= 8 else 1)
    if sr != MODEL_SR:
        import librosa

        y = librosa.resample(y, orig_sr=sr, target_sr=MODEL_SR).astype(np.float32)
    n = y.size
    padded = np.concatenate([np.zeros(OVERLAP_SAMPLES // 2, np.float32), y])
    starts = list(range(0, max(padded.size, 1), HOP_SAMPLES))
    half = OVERLAP_FRAMES // 2
    frame_chunks, onset_chunks, time_chunks = [], [], []
    for b in range(0, len(starts), _BATCH):
        batch = np.zeros((len(starts[b : b + _BATCH]), WINDOW_SAMPLES, 1), np.float32)
        for i, s in enumerate(starts[b : b + _BATCH]):
            piece = padded[s : s + WINDOW_SAMPLES]
            batch[i, : piece.size, 0] = piece
        note, onset = session.run(list(_OUTPUTS), {_INPUT: batch})
        for i, s in enumerate(starts[b : b + _BATCH]):
            kept_note, kept_onset = note[i, half:-half], onset[i, half:-half]
            frame_chunks.append(kept_note)
            onset_chunks.append(kept_onset)
            # trimmed frame j of the window at padded sample s is original sample s + j*hop
            time_chunks.append((s + FFT_HOP * np.arange(kept_note.shape[0])) / MODEL_SR)
    frames = np.concatenate(frame_chunks).astype(np.float64)
    onsets = np.concatenate(onset_chunks).astype(np.float64)
    times = np.concatenate(time_chunks)
    keep = times < n / MODEL_SR
    return frames[keep], onsets[keep], times[keep]


def transcribe_notes(
    y: np.ndarray,
    sr: int,
    *,
    onset_threshold: float = 0.5,
    frame_threshold: float = 0.3,
    min_note_s: float = 0.1277,
    model_path: Path | str | None = None,
) -> list[NoteEvent]:
    """Polyphonic notes of a mono signal, sorted by start then pitch.

    Raises `NoteTranscriptionUnavailable` when the model or onnxruntime is missing.
    """
    if np.asarray(y).size == 0:
        load_model(model_path)  # still report a missing model
        return []
    frames, onsets, times = posteriorgrams(y, sr, model_path=model_path)
    if frames.shape[0] < 2:
        return []
    min_len = round(min_note_s * MODEL_SR / FFT_HOP)
    events = notes_from_posteriorgrams(frames, onsets, onset_threshold, frame_threshold, min_len)
    end_time = times[-1] + FFT_HOP / MODEL_SR
    notes = []
    for start, end, bin_, amplitude in events:
        t_end = times[end] if end < times.size else end_time
        notes.append(
            NoteEvent(
                start=round(float(times[start]), 4),
                end=round(float(t_end), 4),
                pitch=int(bin_ + MIDI_OFFSET),
                velocity=int(np.clip(round(127 * amplitude), 1, 127)),
                confidence=round(float(np.clip(amplitude, 0.0, 1.0)), 3),
            )
        )
    notes.sort(key=lambda note: (note.start, note.pitch))
    return notes


def _inferred_onsets(onsets: np.ndarray, frames: np.ndarray, n_diff: int = 2) -> np.ndarray:
    """Onsets plus sharp rises of the frame activation, rescaled to the onsets' maximum."""
    diffs = []
    for n in range(1, n_diff + 1):
        shifted = np.concatenate([np.zeros((n, frames.shape[1])), frames])
        diffs.append(shifted[n:] - shifted[:-n])
    rise = np.clip(np.min(diffs, axis=0), 0.0, None)
    rise[:n_diff] = 0.0
    peak = rise.max()
    if peak > 0:
        rise *= onsets.max() / peak
    return np.maximum(onsets, rise)


def _clear(energy: np.ndarray, t0: int, t1: int, bin_: int) -> None:
    energy[t0:t1, max(0, bin_ - 1) : bin_ + 2] = 0.0


def notes_from_posteriorgrams(
    frames: np.ndarray,
    onsets: np.ndarray,
    onset_threshold: float = 0.5,
    frame_threshold: float = 0.3,
    min_len: int = 11,
    energy_tol: int = 11,
) -> list[tuple[int, int, int, float]]:
    """(start_frame, end_frame, pitch_bin, amplitude) notes, after Basic Pitch's decoder.

    1. Onset candidates: local maxima in time of the onset activation (plus
       inferred onsets from sharp frame-activation rises) ≥ `onset_threshold`.
    2. From each, latest first, a note lasts while the frame activation stays
       ≥ `frame_threshold` (gaps shorter than `energy_tol` frames bridged);
       notes of `min_len` frames or fewer are dropped; the used energy (and the
       neighbouring semitones) is cleared.
    3. "Melodia trick": remaining frame activation peaks above the frame
       threshold grow into notes both ways, without an onset.
    """
    from scipy.signal import argrelmax

    n_frames = frames.shape[0]
    onsets = _inferred_onsets(onsets, frames)
    peaks = np.zeros_like(onsets)
    t_idx, f_idx = argrelmax(onsets, axis=0)
    peaks[t_idx, f_idx] = onsets[t_idx, f_idx]
    starts_t, starts_f = np.nonzero(peaks >= onset_threshold)
    order = np.argsort(-starts_t, kind="stable")  # backwards in time
    energy = frames.copy()
    notes: list[tuple[int, int, int, float]] = []
    for t0, f in zip(starts_t[order], starts_f[order], strict=True):
        t0, f = int(t0), int(f)
        if t0 >= n_frames - 1:
            continue
        i, k = t0 + 1, 0
        while i < n_frames - 1 and k < energy_tol:
            k = k + 1 if energy[i, f] < frame_threshold else 0
            i += 1
        i -= k
        if i - t0 <= min_len:
            continue
        _clear(energy, t0, i, f)
        notes.append((t0, i, f, float(frames[t0:i, f].mean())))

    while energy.max() > frame_threshold:
        t_mid, f = (int(v) for v in np.unravel_index(np.argmax(energy), energy.shape))
        energy[t_mid, f] = 0.0
        i, k = t_mid + 1, 0
        while i < n_frames - 1 and k < energy_tol:
            k = k + 1 if energy[i, f] < frame_threshold else 0
            _clear(energy, i, i + 1, f)
            i += 1
        t_end = i - 1 - k
        i, k = t_mid - 1, 0
        while i > 0 and k < energy_tol:
            k = k + 1 if energy[i, f] < frame_threshold else 0
            _clear(energy, i, i + 1, f)
            i -= 1
        t_start = i + 1 + k
        if t_end - t_start <= min_len:
            continue
        notes.append((t_start, t_end, f, float(frames[t_start:t_end, f].mean())))
    return notes


def _skyline(notes: list[NoteEvent], highest: bool, step: float = 0.01) -> list[NoteEvent]:
    """The notes that are the highest (or lowest) sounding one for at least half their length,
    made monophonic: a note is cut where the next one starts."""
    if not notes:
        return []
    end = max(note.end for note in notes)
    n = int(np.ceil(end / step)) + 1
    best = np.full(n, -1, dtype=np.int64)
    best_pitch = np.full(n, -np.inf if highest else np.inf)
    for idx, note in enumerate(notes):
        a, b = round(note.start / step), max(round(note.end / step), 0)
        if b <= a:
            continue
        seg = best_pitch[a:b]
        better = seg < note.pitch if highest else seg > note.pitch
        seg[better] = note.pitch
        best[a:b][better] = idx
    counts = np.bincount(best[best >= 0], minlength=len(notes))
    kept = []
    for idx, note in enumerate(notes):
        length = max(round(note.end / step) - round(note.start / step), 1)
        if counts[idx] >= 0.5 * length:
            kept.append(note)
    kept.sort(key=lambda note: (note.start, -note.pitch if highest else note.pitch))
    voice: list[NoteEvent] = []
    for note in kept:
        if voice and note.start < voice[-1].start + 1e-3:
            continue  # same start: the first (most extreme) wins
        if voice and voice[-1].end > note.start:
            prev = voice[-1]
            voice[-1] = NoteEvent(
                prev.start, note.start, prev.pitch, prev.velocity, prev.confidence
            )
        voice.append(note)
    return voice


def drop_harmonic_ghosts(notes: list[NoteEvent], ratio: float = 0.75) -> list[NoteEvent]:
    """Without the notes that sit on a harmonic (2nd..6th) of a louder note sounding
    over at least half of their length: the model's overtone ghosts."""
    if not notes:
        return []
    starts = np.array([note.start for note in notes])
    ends = np.array([note.end for note in notes])
    pitches = np.array([note.pitch for note in notes])
    confidence = np.array([note.confidence for note in notes])
    kept = []
    for note in notes:
        overlap = np.minimum(note.end, ends) - np.maximum(note.start, starts)
        ghost = (
            np.isin(note.pitch - pitches, _HARMONIC_INTERVALS)
            & (note.confidence < ratio * confidence)
            & (overlap >= 0.5 * max(note.end - note.start, 1e-6))
        )
        if not ghost.any():
            kept.append(note)
    return kept


def split_melody_bass(
    notes: list[NoteEvent],
    *,
    bass_max_pitch: int = BASS_MAX_PITCH,
    min_melody_confidence: float = 0.0,
) -> tuple[list[NoteEvent], list[NoteEvent]]:
    """(melody, bass): two monophonic voices.

    Bass is the lowest sounding note at each moment among notes at or below
    `bass_max_pitch` (E3); melody is the highest sounding one above it (a
    skyline), from notes with at least `min_melody_confidence`. Overtone
    ghosts (`drop_harmonic_ghosts`) are removed first.
    """
    notes = drop_harmonic_ghosts(notes)
    low = [note for note in notes if note.pitch <= bass_max_pitch]
    high = [
        note
        for note in notes
        if note.pitch > bass_max_pitch and note.confidence >= min_melody_confidence
    ]
    return _skyline(high, highest=True), _skyline(low, highest=False)


def write_midi(
    path: Path | str,
    melody: list[NoteEvent],
    bass: list[NoteEvent],
    bpm: float = 120.0,
    *,
    ticks_per_beat: int = 480,
) -> Path:
    """A type-1 MIDI file with two tracks, "melody" (channel 1, piano) and "bass"
    (channel 2, fingered bass), at `bpm`; written to a temporary name and renamed."""
    import mido

    path = Path(path)
    bpm = bpm if bpm and np.isfinite(bpm) and bpm > 0 else 120.0
    ticks_per_s = bpm / 60.0 * ticks_per_beat
    midi = mido.MidiFile(type=1, ticks_per_beat=ticks_per_beat)
    for name, notes, channel, program in (("melody", melody, 0, 0), ("bass", bass, 1, 33)):
        track = mido.MidiTrack()
        track.append(mido.MetaMessage("track_name", name=name, time=0))
        if name == "melody":
            track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0))
        track.append(mido.Message("program_change", channel=channel, program=program, time=0))
        events = []  # (tick, order, message type, pitch, velocity); note-offs sort first
        for note in notes:
            on = round(note.start * ticks_per_s)
            off = max(round(note.end * ticks_per_s), on + 1)
            pitch = int(np.clip(note.pitch, 0, 127))
            events.append((on, 1, "note_on", pitch, int(np.clip(note.velocity, 1, 127))))
            events.append((off, 0, "note_off", pitch, 0))
        events.sort()
        last = 0
        for tick, _, kind, pitch, velocity in events:
            track.append(
                mido.Message(kind, channel=channel, note=pitch, velocity=velocity, time=tick - last)
            )
            last = tick
        track.append(mido.MetaMessage("end_of_track", time=0))
        midi.tracks.append(track)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            midi.save(file=fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path
