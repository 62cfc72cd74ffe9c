"""Shared helpers for the visual-engine tests: small clip specs and ffprobe facts."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from soundstage.media.visuals import ClipSpec


def make_spec(
    template: str,
    *,
    width: int = 160,
    height: int = 90,
    fps: int = 30,
    n_frames: int = 45,
    bpm: float = 128.0,
    first_beat: float = 0.1,
    mood: str = "calm",
    seed: int = 7,
    **extra: Any,
) -> ClipSpec:
    """A short clip with beats every 60/bpm s (every 4th a downbeat) and a wavy energy curve."""
    beats = tuple(float(b) for b in np.arange(first_beat, n_frames / fps, 60.0 / bpm))
    energy = tuple(float(0.55 + 0.4 * np.sin(i / 9.0)) for i in range(n_frames))
    fields: dict[str, Any] = dict(
        width=width,
        height=height,
        fps=fps,
        n_frames=n_frames,
        start_s=12.0,
        template=template,
        prompt="test clip",
        seed=seed,
        mood=mood,
        energy=energy,
        beats=beats,
        downbeats=beats[::4],
    )
    fields.update(extra)
    return ClipSpec(**fields)


def video_facts(path: Path) -> dict[str, Any]:
    """ffprobe facts of the first video stream, with an exact frame count."""
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-count_frames",
            "-show_entries",
            "stream=codec_name,profile,pix_fmt,width,height,r_frame_rate,nb_read_frames",
            "-show_entries",
            "format=nb_streams",
            "-of",
            "json",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(out.stdout)
    return {**data["streams"][0], "nb_streams": data["format"]["nb_streams"]}


@pytest.fixture
def spec_factory() -> Callable[..., ClipSpec]:
    return make_spec


@pytest.fixture
def probe_video() -> Callable[[Path], dict[str, Any]]:
    return video_facts
