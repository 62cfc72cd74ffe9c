"""probe(): stream details from ffprobe, clear errors for anything that is not media."""

from __future__ import annotations

from pathlib import Path

import pytest

from soundstage.media.video import MediaError, probe


def test_probe_wav(wav_7s: Path) -> None:
    info = probe(wav_7s)
    assert info.video is None
    assert info.audio is not None
    assert info.audio.codec.startswith("pcm_")
    assert (info.audio.sample_rate, info.audio.channels) == (44100, 2)
    assert info.duration_s == pytest.approx(7.3, abs=1e-3)
    assert info.format_name == "wav"
    assert info.size_bytes == wav_7s.stat().st_size


def test_probe_m4a(m4a_65s: Path) -> None:
    info = probe(m4a_65s)
    assert info.audio is not None and info.audio.codec == "aac"
    assert info.audio.duration_s == pytest.approx(65.0, abs=0.03)
    assert info.audio.bitrate and 150_000 < info.audio.bitrate < 230_000
    assert "mp4" in info.format_name


def test_probe_png_is_a_picture(cover_png: Path) -> None:
    info = probe(cover_png)
    assert info.audio is None
    assert info.video is not None and info.video.codec == "png"
    assert (info.video.width, info.video.height) == (1920, 1080)


def test_probe_text_file_is_refused(tmp_path: Path) -> None:
    note = tmp_path / "notes.mp3"
    note.write_text("definitely not audio\n" * 20)
    with pytest.raises(MediaError, match=r"notes\.mp3 is not a media file"):
        probe(note)


def test_probe_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        probe(tmp_path / "missing.m4a")
