"""What an analysis returns: one dataclass tree, JSON-ready through `to_dict()`.

The field names are the public contract of `soundstage analyze --json` and of
GET /api/songs/{id}/analysis (issue 3); add fields, never rename them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Rhythm:
    bpm: float
    bpm_confidence: float  # 0..1
    beats: list[float]  # seconds
    downbeats: list[float]  # seconds, a subset of beats
    meter: int  # beats per bar guess (3 or 4, sometimes 2 or 6)


@dataclass(frozen=True)
class KeyEstimate:
    key: str  # "C", "F#"... (sharps)
    mode: str  # "major" | "minor"
    confidence: float  # 0..1


@dataclass(frozen=True)
class Section:
    start: float
    end: float
    label: str  # intro / verse / chorus / bridge / outro, or A/B/C


@dataclass(frozen=True)
class LyricLine:
    start: float
    end: float
    text: str


@dataclass
class AnalysisResult:
    duration_s: float
    sample_rate: int
    channels: int
    rhythm: Rhythm
    key: KeyEstimate
    loudness_lufs: float | None
    true_peak_dbtp: float | None
    loudness_range_lu: float | None
    energy_curve: list[float]  # 0..1, `energy_curve_hz` points per second
    energy_curve_hz: float
    descriptors: dict[
        str, float
    ]  # energy, danceability, valence, acousticness, instrumentalness, speechiness, liveness
    genre: str
    genre_probabilities: dict[str, float]
    mood_primary: str
    mood_tags: list[str]
    mood_vector: dict[str, float]
    mood_confidence: float
    sections: list[Section]
    suggested_sections: list[Section]  # beat-aligned, for the music video
    vocal_regions: list[tuple[float, float]]
    lyrics: list[LyricLine] = field(default_factory=list)
    lyrics_source: str | None = None  # "aligned" | "transcribed" | None
    warnings: list[str] = field(default_factory=list)  # e.g. "no steady pulse found"

    def to_dict(self) -> dict[str, Any]:
        """The flat JSON shape documented in issue 3 (plus a few extras)."""
        rhythm, key = self.rhythm, self.key
        data = {
            "duration_s": self.duration_s,
            "sample_rate": self.sample_rate,
            "channels": self.channels,
            "bpm": rhythm.bpm,
            "bpm_confidence": rhythm.bpm_confidence,
            "beats": rhythm.beats,
            "downbeats": rhythm.downbeats,
            "meter": rhythm.meter,
            "key": key.key,
            "mode": key.mode,
            "key_confidence": key.confidence,
            "loudness_lufs": self.loudness_lufs,
            "true_peak_dbtp": self.true_peak_dbtp,
            "loudness_range_lu": self.loudness_range_lu,
            "energy_curve": self.energy_curve,
            "energy_curve_hz": self.energy_curve_hz,
            **self.descriptors,
            "genre": self.genre,
            "genre_probabilities": self.genre_probabilities,
            "mood_primary": self.mood_primary,
            "mood_tags": self.mood_tags,
            "mood_vector": self.mood_vector,
            "mood_confidence": self.mood_confidence,
            "sections": [asdict(s) for s in self.sections],
            "suggested_sections": [asdict(s) for s in self.suggested_sections],
            "vocal_regions": [list(r) for r in self.vocal_regions],
            "lyrics": [asdict(line) for line in self.lyrics],
            "lyrics_source": self.lyrics_source,
            "warnings": self.warnings,
        }
        return data
