"""Shared media fixtures: a cover PNG and short audio tracks made with ffmpeg's lavfi sources."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from soundstage.media.art import CoverStyle, render_cover, save_png


def make_audio(path: Path, source: str, *codec: str) -> Path:
    """Write ``source`` (a lavfi audio graph) to ``path`` with the given codec arguments."""
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", source, "-ac", "2", *codec, str(path)],
        check=True,
    )
    return path


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("video-media")


@pytest.fixture(scope="session")
def cover_png(media_dir: Path) -> Path:
    path = media_dir / "cover.png"
    save_png(
        render_cover("calm ocean at dusk", 11, CoverStyle(mood="calm"), title="Test Tide"), path
    )
    return path


@pytest.fixture(scope="session")
def wav_7s(media_dir: Path) -> Path:
    return make_audio(media_dir / "sine.wav", "sine=frequency=440:duration=7.3:sample_rate=44100")


@pytest.fixture(scope="session")
def m4a_65s(media_dir: Path) -> Path:
    src = "anoisesrc=duration=65:color=pink:sample_rate=48000:amplitude=0.1,lowpass=f=3000"
    return make_audio(media_dir / "noise.m4a", src, "-c:a", "aac", "-b:a", "192k")
