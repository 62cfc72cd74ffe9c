"""Note transcription: Basic Pitch's shipped ONNX model, melody/bass split, MIDI writing."""

from __future__ import annotations

import mido
import numpy as np
import pytest
from mir_eval.transcription import precision_recall_f1_overlap

from soundstage.media.analysis import _models
from soundstage.media.analysis import notes as notes_mod
from soundstage.media.analysis.notes import (
    NoteEvent,
    NoteTranscriptionUnavailable,
    split_melody_bass,
    transcribe_notes,
    write_midi,
)

SR = 22050
# (start s, duration s, MIDI pitch)
MELODY = [
    (0.5, 0.4, 72), (1.0, 0.4, 74), (1.5, 0.4, 76), (2.0, 0.9, 79),
    (3.0, 0.4, 77), (3.5, 0.4, 76), (4.0, 0.4, 74), (4.5, 0.9, 72),
]  # fmt: skip
BASS = [(0.5, 0.95, 40), (1.5, 0.95, 43), (2.5, 0.95, 36), (3.5, 0.95, 41), (4.5, 0.9, 36)]

pytestmark = pytest.mark.skipif(
    notes_mod.default_model_path() is None, reason="basic-pitch (the note model) not installed"
)


def _hz(pitch):
    return 440.0 * 2.0 ** ((np.asarray(pitch, dtype=float) - 69) / 12)


def _tone(pitch: int, dur: float, amp: float) -> np.ndarray:
    """A plucked harmonic tone: five partials, fast attack, exponential decay."""
    t = np.arange(int(dur * SR)) / SR
    f = float(_hz(pitch))
    x = sum(0.6 ** (h - 1) * np.sin(2 * np.pi * f * h * t) for h in range(1, 6))
    env = np.minimum(1, t / 0.01) * np.exp(-1.5 * t) * np.minimum(1, (dur - t) / 0.02)
    return amp * x * env


def _render(seconds: float = 6.0) -> np.ndarray:
    y = np.zeros(int(seconds * SR))
    for part, amp in ((MELODY, 0.2), (BASS, 0.3)):
        for start, dur, pitch in part:
            tone = _tone(pitch, dur, amp)
            i = int(start * SR)
            y[i : i + tone.size] += tone
    return y.astype(np.float32)


def _score(reference, estimated: list[NoteEvent]) -> tuple[float, float]:
    ref_iv = np.array([[s, s + d] for s, d, _ in reference])
    est_iv = np.array([[n.start, n.end] for n in estimated]).reshape(-1, 2)
    p, r, _, _ = precision_recall_f1_overlap(
        ref_iv,
        _hz([p for *_, p in reference]),
        est_iv,
        _hz([n.pitch for n in estimated]),
        onset_tolerance=0.05,
        offset_ratio=None,
    )
    return p, r


@pytest.fixture(scope="module")
def transcribed() -> list[NoteEvent]:
    return transcribe_notes(_render(), SR)


def test_melody_and_bass_are_transcribed(transcribed):
    melody, bass = split_melody_bass(transcribed)
    mel_p, mel_r = _score(MELODY, melody)
    bass_p, bass_r = _score(BASS, bass)
    assert mel_r >= 0.8 and bass_r >= 0.8, (melody, bass)
    assert mel_p >= 0.8 and bass_p >= 0.8, (melody, bass)
    for note in transcribed:
        assert 0 <= note.start < note.end and 1 <= note.velocity <= 127
        assert 0.0 <= note.confidence <= 1.0


def test_other_sample_rates_are_resampled():
    y = _render()
    import librosa

    y44 = librosa.resample(y, orig_sr=SR, target_sr=44100)
    melody, bass = split_melody_bass(transcribe_notes(y44, 44100))
    assert _score(MELODY, melody)[1] >= 0.8
    assert _score(BASS, bass)[1] >= 0.8


def test_silence_gives_no_notes():
    assert transcribe_notes(np.zeros(3 * SR, np.float32), SR) == []
    assert transcribe_notes(np.zeros(0, np.float32), SR) == []


def test_missing_model_is_reported(tmp_path):
    with pytest.raises(NoteTranscriptionUnavailable, match="not installed"):
        transcribe_notes(_render()[:SR], SR, model_path=tmp_path / "missing.onnx")
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(NoteTranscriptionUnavailable, match="cannot load"):
        transcribe_notes(_render()[:SR], SR, model_path=bad)


def test_no_basic_pitch_is_reported(monkeypatch):
    monkeypatch.setattr(_models.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(NoteTranscriptionUnavailable):
        transcribe_notes(_render()[:SR], SR)


def test_split_is_a_skyline_without_overtone_ghosts():
    notes = [
        NoteEvent(0.0, 1.0, 40, 100, 0.8),  # bass
        NoteEvent(0.0, 1.0, 45, 60, 0.5),  # higher low note: not the bass voice
        NoteEvent(0.0, 0.5, 72, 90, 0.7),  # melody
        NoteEvent(0.0, 0.5, 64, 60, 0.6),  # inner voice
        NoteEvent(0.0, 0.5, 100, 40, 0.3),  # 5th harmonic ghost of 72
        NoteEvent(0.4, 1.0, 76, 90, 0.7),  # melody, overlaps the previous note
    ]
    melody, bass = split_melody_bass(notes)
    assert [n.pitch for n in bass] == [40]
    assert [n.pitch for n in melody] == [72, 76]
    assert melody[0].end == pytest.approx(0.4)  # cut where the next note starts


def test_midi_has_two_named_tracks_with_the_notes(tmp_path):
    melody = [NoteEvent(0.5, 0.9, 72, 90, 0.7), NoteEvent(1.0, 1.4, 74, 80, 0.7)]
    bass = [NoteEvent(0.5, 1.45, 40, 100, 0.8)]
    path = write_midi(tmp_path / "sub" / "song.mid", melody, bass, bpm=100)
    assert path.is_file()
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    midi = mido.MidiFile(path)
    assert [t.name for t in midi.tracks] == ["melody", "bass"]
    tempos = [m.tempo for m in midi.tracks[0] if m.type == "set_tempo"]
    assert tempos == [mido.bpm2tempo(100)]
    for track, expected in zip(midi.tracks, (melody, bass), strict=True):
        ons, now = [], 0
        for msg in track:
            now += msg.time
            if msg.type == "note_on" and msg.velocity > 0:
                ons.append((mido.tick2second(now, 480, mido.bpm2tempo(100)), msg.note))
        assert [p for _, p in ons] == [n.pitch for n in expected]
        assert [t for t, _ in ons] == pytest.approx([n.start for n in expected], abs=0.01)


def test_transcribed_song_round_trips_through_midi(transcribed, tmp_path):
    melody, bass = split_melody_bass(transcribed)
    midi = mido.MidiFile(write_midi(tmp_path / "out.mid", melody, bass, bpm=120))
    counts = [sum(m.type == "note_on" for m in t) for t in midi.tracks]
    assert counts == [len(melody), len(bass)]


def test_cli_analyze_writes_midi(tmp_path):
    import json

    import soundfile as sf
    from typer.testing import CliRunner

    from soundstage.cli import app

    wav = tmp_path / "tune.wav"
    sf.write(wav, _render(), SR)
    out = tmp_path / "tune.mid"
    done = CliRunner().invoke(app, ["analyze", str(wav), "--json", "--midi", str(out)])
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)
    assert data["midi_path"] == str(out)
    assert data["melody_notes"] >= 7 and data["bass_notes"] >= 4
    assert [t.name for t in mido.MidiFile(out).tracks] == ["melody", "bass"]
