"""analyze_file end to end: a generated track, odd inputs and failures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from analysis_signals import speech_like

pytest.importorskip("soundstage.media.analysis.rhythm")
pytest.importorskip("soundstage.media.analysis.key")

import itertools

from soundstage.config import Settings
from soundstage.media.analysis.analyze import (
    AnalysisError,
    analyze_file,
    reference_features,
)
from soundstage.media.analysis.result import LyricLine
from soundstage.media.audio.decode import ffmpeg_available
from soundstage.media.music.engine import MusicOutputs, MusicRequest, render_music

pytestmark = pytest.mark.skipif(not ffmpeg_available(), reason="needs ffmpeg")

CONTRACT_KEYS = {
    "duration_s", "sample_rate", "channels", "bpm", "bpm_confidence", "beats", "downbeats",
    "meter", "key", "mode", "key_confidence", "loudness_lufs", "true_peak_dbtp",
    "loudness_range_lu", "energy_curve", "energy_curve_hz", "energy", "danceability",
    "valence", "acousticness", "instrumentalness", "speechiness", "liveness", "genre",
    "genre_probabilities", "mood_primary", "mood_tags", "mood_vector", "mood_confidence",
    "sections", "suggested_sections", "vocal_regions", "lyrics", "lyrics_source", "warnings",
}  # fmt: skip


@pytest.fixture(scope="module")
def track(tmp_path_factory) -> Path:
    soundfont = Settings().resolved_soundfont()
    if soundfont is None:
        pytest.skip("no SoundFont")
    out = tmp_path_factory.mktemp("track")
    request = MusicRequest(
        "upbeat pop, drums, piano, bass", 30.0, seed=3, key="A", mode="minor", bpm=120
    )
    result = render_music(
        request, out, soundfont=soundfont, work_dir=out / "work",
        outputs=MusicOutputs(formats=("mp3",), stems=False, midi=False),
    )  # fmt: skip
    return result.files["mp3"]


@pytest.fixture(scope="module")
def analysed(track):
    stages: list[tuple[float, str]] = []
    result = analyze_file(track, on_progress=lambda f, s: stages.append((f, s)))
    return result, stages


def test_generated_track_gives_a_complete_result(analysed):
    result, stages = analysed
    data = result.to_dict()
    assert set(data) >= CONTRACT_KEYS
    json.dumps(data, allow_nan=False)  # JSON-ready, no NaN/inf
    assert data["duration_s"] == pytest.approx(30.0, abs=0.1)
    assert data["sample_rate"] == 44100 and data["channels"] == 2
    assert 100 <= data["bpm"] <= 140 or 50 <= data["bpm"] <= 70
    assert data["loudness_lufs"] == pytest.approx(-14.0, abs=1.0)
    assert data["lyrics"] == [] and data["lyrics_source"] is None
    assert stages[0] == (0.0, "decoding") and stages[-1] == (1.0, "done")
    assert [f for f, _ in stages] == sorted(f for f, _ in stages)


def test_energy_curve_and_sections(analysed):
    result, _ = analysed
    duration = result.duration_s
    assert len(result.energy_curve) == pytest.approx(duration * result.energy_curve_hz, abs=1)
    assert all(0.0 <= v <= 1.0 for v in result.energy_curve)
    assert max(result.energy_curve) > 0.5
    for sections in (result.sections, result.suggested_sections):
        assert sections[0].start == 0.0 and sections[-1].end == pytest.approx(duration)
        for a, b in itertools.pairwise(sections):
            assert a.end == b.start
    beats = result.rhythm.beats
    for s in result.suggested_sections:
        assert 10.0 <= s.end - s.start <= 60.0
    for s in result.suggested_sections[1:]:
        assert min(abs(s.start - b) for b in beats) < 1e-6
    covered = sum(b - a for a, b in result.vocal_regions)
    assert covered < 0.2 * duration  # instrumental


def test_lyrics_are_aligned(track):
    result = analyze_file(track, lyrics="one line here\nanother line there\n\nthird line")
    assert result.lyrics_source == "aligned"
    assert [ln.text for ln in result.lyrics] == [
        "one line here",
        "another line there",
        "third line",
    ]
    for a, b in zip(result.lyrics, result.lyrics[1:], strict=False):
        assert a.end <= b.start


class _Transcriber:
    def __init__(self, fail: bool = False) -> None:
        self.fail, self.calls = fail, 0

    def transcribe(self, audio_path: Path) -> list[LyricLine]:
        self.calls += 1
        if self.fail:
            raise RuntimeError("service unavailable")
        return [LyricLine(1.0, 3.0, "hello there"), LyricLine(2.5, 99.0, "general")]


@pytest.fixture(scope="module")
def speech_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("speech") / "speech.wav"
    sf.write(path, speech_like(12, seed=2), 22050)
    return path


def test_transcriber_is_used_when_vocals_are_heard(speech_file):
    t = _Transcriber()
    result = analyze_file(speech_file, transcriber=t)
    assert result.vocal_regions and t.calls == 1
    assert result.lyrics_source == "transcribed"
    assert result.lyrics[0] == LyricLine(1.0, 3.0, "hello there")
    assert result.lyrics[1].start == 3.0 and result.lyrics[1].end == pytest.approx(12.0)


def test_transcriber_failure_is_a_warning(speech_file):
    result = analyze_file(speech_file, transcriber=_Transcriber(fail=True))
    assert result.lyrics == [] and result.lyrics_source is None
    assert any("transcription failed" in w for w in result.warnings)


def test_silence_gives_a_valid_result_with_warnings(tmp_path):
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros((44100 * 5, 2), np.float32), 44100)
    result = analyze_file(path)
    data = result.to_dict()
    json.dumps(data, allow_nan=False)
    assert data["loudness_lufs"] is None
    assert data["bpm_confidence"] < 0.2 and data["key_confidence"] < 0.2
    assert any("silent" in w for w in data["warnings"])
    assert data["sections"] == [{"start": 0.0, "end": 5.0, "label": "A"}]


def test_noise_gives_low_confidence(tmp_path):
    path = tmp_path / "noise.wav"
    sf.write(path, 0.1 * np.random.default_rng(0).standard_normal(44100 * 6), 44100)
    result = analyze_file(path)
    assert result.rhythm.bpm_confidence < 0.5
    assert result.warnings


@pytest.mark.parametrize(
    "content", [b"", b"this is not audio at all" * 100, bytes(range(256)) * 40]
)
def test_undecodable_files_raise(tmp_path, content):
    path = tmp_path / "broken.mp3"
    path.write_bytes(content)
    with pytest.raises(AnalysisError):
        analyze_file(path)
    with pytest.raises(ValueError):
        reference_features(path)


def test_missing_file_raises(tmp_path):
    with pytest.raises(AnalysisError):
        analyze_file(tmp_path / "nope.wav")


@pytest.mark.parametrize("rate,channels", [(8000, 1), (44100, 1), (44100, 2), (96000, 2)])
def test_rates_and_channels(tmp_path, rate, channels):
    t = np.arange(int(rate * 6)) / rate
    clicks = (np.sin(2 * np.pi * 440 * t) * (np.mod(t, 0.5) < 0.05)).astype(np.float32)
    y = np.stack([clicks] * channels, axis=1) * 0.5
    path = tmp_path / f"in_{rate}_{channels}.wav"
    sf.write(path, y, rate)
    result = analyze_file(path)
    assert result.sample_rate == rate and result.channels == channels
    assert result.duration_s == pytest.approx(6.0, abs=0.05)
    assert result.loudness_lufs is not None
    assert len(result.energy_curve) == 120
    assert 100 <= result.rhythm.bpm <= 140 or 50 <= result.rhythm.bpm <= 70


def test_mono_and_stereo_agree(tmp_path):
    y = speech_like(8, sr=44100, seed=1)
    mono, stereo = tmp_path / "m.wav", tmp_path / "s.wav"
    sf.write(mono, y, 44100)
    sf.write(stereo, np.stack([y, y], axis=1), 44100)
    a, b = analyze_file(mono), analyze_file(stereo)
    assert a.energy_curve == pytest.approx(b.energy_curve, abs=0.02)
    # BS.1770 counts a duplicated channel: the stereo file is 3 LU louder, a bit more energetic
    assert b.loudness_lufs == pytest.approx(a.loudness_lufs + 3.0, abs=0.2)
    assert b.descriptors["energy"] >= a.descriptors["energy"]
    rest = {k: v for k, v in a.descriptors.items() if k != "energy"}
    assert rest == pytest.approx({k: b.descriptors[k] for k in rest}, abs=0.02)


def test_reference_features(track):
    ref = reference_features(track)
    assert set(ref) >= {"bpm", "key", "mode", "energy", "loudness_lufs"}
    assert ref["loudness_lufs"] == pytest.approx(-14.0, abs=1.0)
    assert 0.0 <= ref["energy"] <= 1.0
    json.dumps(ref)
