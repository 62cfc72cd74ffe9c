"""The transcription capability: audio file → timed lyric lines."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from soundstage.media.analysis.result import LyricLine
from soundstage.providers.base import CostRecord

CAPABILITY = "transcription"


@dataclass(frozen=True)
class Transcription:
    """A transcription with what came with it."""

    lines: list[LyricLine]
    duration_s: float | None = None
    language: str | None = None
    text: str = ""
    costs: list[CostRecord] = field(default_factory=list)


@runtime_checkable
class Transcriber(Protocol):
    name: str

    def transcribe(self, audio_path: Path) -> list[LyricLine]:
        """Timed lines (seconds from the file's start, stripped, none empty)."""
        ...
