"""Audio files for the song library tests, made once per session with FFmpeg and our engine."""

from __future__ import annotations

import subprocess
import wave
from pathlib import Path

import pytest

from tests.helpers import generate_song


def lavfi(out: Path, seconds: float, *args: str, source: str = "sine=f=440") -> Path:
    """A short test file from an FFmpeg lavfi source; `args` are output options."""
    cmd = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"{source}:d={seconds}"]
    subprocess.run([*cmd, *args, str(out)], check=True)
    return out


@pytest.fixture(scope="session")
def audio(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Small files in every accepted format, plus broken ones."""
    d = tmp_path_factory.mktemp("audio")
    files = {
        "mp3": lavfi(d / "tone.mp3", 3, "-ac", "2", "-b:a", "128k"),
        "flac": lavfi(d / "tone.flac", 3, "-ac", "2"),
        "m4a": lavfi(d / "tone.m4a", 3, "-c:a", "aac", "-b:a", "96k"),
        "ogg": lavfi(d / "tone.ogg", 3, "-c:a", "libvorbis"),
        "wav": lavfi(d / "tone.wav", 3, "-ac", "2", "-ar", "44100"),
        "wav_mono_8k": lavfi(d / "mono8k.wav", 3, "-ac", "1", "-ar", "8000"),
        "wav_96k": lavfi(d / "hires96k.wav", 3, "-ac", "2", "-ar", "96000", "-c:a", "pcm_s24le"),
        "long": lavfi(d / "long.mp3", 10, "-ac", "1"),
    }
    files["noise"] = d / "noise.bin"
    files["noise"].write_bytes(bytes((i * 7919 + 13) % 251 for i in range(50_000)))
    files["text"] = d / "notes.txt"
    files["text"].write_text("these are not the sounds you are looking for\n" * 100)
    files["empty"] = d / "empty.bin"
    files["empty"].write_bytes(b"")
    files["zero"] = d / "zero.wav"
    with wave.open(str(files["zero"]), "wb") as w:  # a valid header and no samples
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"")
    return files


@pytest.fixture(scope="session")
def track(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 30 s piece rendered by our own engine: an MP3 with ID3 tags and an embedded cover."""
    return generate_song(tmp_path_factory.mktemp("track"), "calm piano", seed=1)
