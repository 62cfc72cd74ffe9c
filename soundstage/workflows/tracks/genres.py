"""Genres the embedded engine can play, and how a track request becomes engine parameters.

The music engine (soundstage.media.music) has no genre parameter: it knows moods,
instruments, textures, tempo and key. A genre here is a preset over exactly those
(a mood, a band of instruments, textures, a tempo range, and a target density and
brightness). The engine has no drum kit and does not sing, so genres built on
drums or vocals (rock, hip-hop, EDM, pop) are not offered.

`resolve_spec` turns a request (and an optional reference's features) into the
`TrackSpec` the job renders: every choice is made here, deterministically from
the seed, and stored on the track.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from soundstage.media.music.engine import MusicRequest
from soundstage.media.music.style import INSTRUMENTS, LEXICON, MAX_INSTRUMENTS, Style, find_words
from soundstage.media.music.theory import mode_quality, parse_mode


@dataclass(frozen=True)
class Genre:
    name: str
    description: str
    mood: str | None  # None: the prompt's words choose the mood
    instruments: tuple[str, ...]
    bpm: tuple[float, float]  # tempo range used when neither the request nor a reference sets it
    density: float  # 0..1: how many layers and notes play
    brightness: float  # 0..1: register and tone colour
    textures: tuple[str, ...] = ()


GENRES: dict[str, Genre] = {
    g.name: g
    for g in (
        Genre("ambient", "slow pads, soft melody and a gentle pulse; the prompt sets the mood",
              None, ("warm_pad", "piano", "celesta", "sub_bass"), (60, 76), 0.4, 0.5),
        Genre("lofi", "electric piano, guitar and sub bass over vinyl crackle",
              "nostalgic", ("epiano", "guitar", "warm_pad", "sub_bass"), (70, 90), 0.55, 0.4,
              ("vinyl",)),
        Genre("cinematic", "strings, choir and piano with wide dynamics",
              "uplifting", ("strings", "choir", "piano", "cello"), (60, 92), 0.6, 0.6),
        Genre("classical", "a chamber group: piano, strings, cello, flute and harp",
              "melancholic", ("piano", "strings", "cello", "flute", "harp"), (60, 110), 0.5, 0.5),
        Genre("piano", "solo piano over a soft string bed",
              "calm", ("piano", "strings"), (60, 96), 0.35, 0.5),
        Genre("electronic", "synth pads, arpeggios and sub bass (no drums)",
              "cold", ("synth_pad", "marimba", "glockenspiel", "sub_bass"), (96, 128), 0.65, 0.75),
        Genre("acoustic", "guitar, flute, harp and cello",
              "warm", ("guitar", "flute", "harp", "cello"), (78, 110), 0.5, 0.55),
        Genre("dreamy", "harp, music box and halo pads",
              "dreamy", ("halo_pad", "harp", "music_box", "epiano"), (60, 78), 0.4, 0.65),
        Genre("meditation", "drone, bells and flute, very slow",
              "meditative", ("drone", "warm_pad", "tubular_bells", "flute"), (48, 60), 0.2, 0.4),
        Genre("dark", "bowed pads, drone and low cello",
              "dark", ("bowed_pad", "drone", "cello", "piano"), (50, 66), 0.3, 0.2, ("wind",)),
    )
}  # fmt: skip
DEFAULT_GENRE = "ambient"

# Master loudness: the platform default, and the range a reference may steer it within.
DEFAULT_TARGET_LUFS = -14.0
REFERENCE_LUFS_RANGE = (-20.0, -9.0)


@dataclass(frozen=True)
class Reference:
    """What the analysis of a reference song says (unset values are None)."""

    song_id: str
    bpm: float | None
    key: str | None
    mode: str | None  # "major" | "minor"
    energy: float | None  # 0..1
    loudness_lufs: float | None


# Below these confidences the analysis itself warns ("no steady pulse", "no clear key"):
# such a tempo or key is left out rather than steering a track the wrong way.
PULSE_CONFIDENCE_MIN = 0.25  # = soundstage.media.analysis.analyze.PULSE_WARNING_CONFIDENCE
KEY_CONFIDENCE_MIN = 0.15


def reference_from_features(song_id: str, features: dict[str, Any]) -> Reference:
    """A Reference from an analysis (the song library's, or `reference_features` of a file)."""
    bpm_ok = (features.get("bpm_confidence") or 0) >= PULSE_CONFIDENCE_MIN
    key_ok = (features.get("key_confidence") or 0) >= KEY_CONFIDENCE_MIN
    return Reference(
        song_id=song_id,
        bpm=features.get("bpm") if bpm_ok else None,
        key=features.get("key") if key_ok else None,
        mode=features.get("mode") if key_ok else None,
        energy=features.get("energy"),
        loudness_lufs=features.get("loudness_lufs"),
    )


@dataclass(frozen=True)
class TrackSpec:
    """Everything the job renders, JSON-able (stored on the track as `spec`)."""

    prompt: str
    duration_s: float
    seed: int
    genre: str
    bpm: float
    key: str | None
    mode: str | None
    mood: str | None
    instruments: tuple[str, ...]
    textures: tuple[str, ...]
    density: float
    brightness: float
    style_strength: float
    target_lufs: float
    steered_by_reference: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for name in ("instruments", "textures", "steered_by_reference"):
            data[name] = list(data[name])
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrackSpec:
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        for name in ("instruments", "textures", "steered_by_reference"):
            fields[name] = tuple(fields.get(name) or ())
        return cls(**fields)

    def music_request(self) -> SteeredMusicRequest:
        return SteeredMusicRequest(
            self.prompt, self.duration_s, self.seed, self.key, self.mode, self.bpm, self.mood,
            self.instruments, self.textures, density_target=self.density,
            brightness_target=self.brightness, strength=self.style_strength,
        )  # fmt: skip


@dataclass(frozen=True)
class SteeredMusicRequest(MusicRequest):
    """A MusicRequest whose density and brightness lean toward a target by `strength`.

    The engine reads density and brightness from the prompt's words only; this
    blends them: strength 0 keeps the prompt's reading, 1 takes the target.
    """

    density_target: float = 0.5
    brightness_target: float = 0.5
    strength: float = 0.5

    def style(self) -> Style:
        base = super().style()
        s = min(1.0, max(0.0, self.strength))
        return replace(
            base,
            density=(1 - s) * base.density + s * self.density_target,
            brightness=(1 - s) * base.brightness + s * self.brightness_target,
        )


def prompt_mood_words(prompt: str) -> bool:
    """True when the prompt holds a word that votes for a mood."""
    return any(LEXICON[w].moods for w in find_words(prompt))


def _band(prompt: str, genre: Genre) -> tuple[str, ...]:
    """Instruments the prompt names first, then the genre's; one bass and one drone at most."""
    named = [name for word in find_words(prompt) for name in LEXICON[word].instruments]
    chosen: list[str] = []
    for name in dict.fromkeys([*named, *genre.instruments]):
        role = INSTRUMENTS[name].role
        if role in {"bass", "drone"} and any(INSTRUMENTS[c].role == role for c in chosen):
            continue
        chosen.append(name)
    return tuple(chosen[:MAX_INSTRUMENTS])


def _textures(prompt: str, genre: Genre) -> tuple[str, ...]:
    named = [t for word in find_words(prompt) for t in LEXICON[word].textures]
    return tuple(dict.fromkeys([*named, *genre.textures]))[:2]


def _mood(prompt: str, genre: Genre, strength: float) -> str | None:
    """The genre's mood, unless the strength is under 0.5 and the prompt names a mood."""
    if genre.mood is None or (strength < 0.5 and prompt_mood_words(prompt)):
        return None  # the engine reads the mood from the prompt
    return genre.mood


def default_bpm(genre: Genre, seed: int) -> float:
    """A tempo in the genre's range, the same for the same seed."""
    rng = np.random.default_rng([seed, 7])
    return float(round(rng.uniform(*genre.bpm)))


def resolve_spec(
    *,
    prompt: str,
    duration_s: float,
    seed: int,
    genre_name: str,
    style_strength: float,
    bpm: float | None,
    key: str | None,
    mode: str | None,
    reference: Reference | None,
) -> TrackSpec:
    """Choose every engine parameter; explicit values win, then the reference, then the genre."""
    genre = GENRES[genre_name]
    steered: list[str] = []
    if bpm is None and reference and reference.bpm:
        bpm, steered = float(round(reference.bpm, 1)), [*steered, "bpm"]
    if key is None and reference and reference.key:
        key, steered = reference.key, [*steered, "key"]
        if mode is None and reference.mode:  # a reference's mode goes with its key
            mode, steered = reference.mode, [*steered, "mode"]
    density = genre.density
    if reference and reference.energy is not None:
        density, steered = 0.15 + 0.7 * min(1.0, max(0.0, reference.energy)), [*steered, "energy"]
    target_lufs = DEFAULT_TARGET_LUFS
    if reference and reference.loudness_lufs is not None:
        low, high = REFERENCE_LUFS_RANGE
        target_lufs = min(high, max(low, reference.loudness_lufs))
        steered.append("loudness")
    return TrackSpec(
        prompt=prompt, duration_s=duration_s, seed=seed, genre=genre.name,
        bpm=float(min(220.0, max(40.0, bpm))) if bpm is not None else default_bpm(genre, seed),
        key=key, mode=parse_mode(mode) if mode else None,
        mood=_mood(prompt, genre, style_strength), instruments=_band(prompt, genre),
        textures=_textures(prompt, genre), density=round(density, 4),
        brightness=genre.brightness, style_strength=style_strength,
        target_lufs=round(target_lufs, 2), steered_by_reference=tuple(steered),
    )  # fmt: skip


def mode_family(mode: str | None) -> str | None:
    """'major' or 'minor': what a key detector can hear of a mode."""
    return mode_quality(parse_mode(mode)) if mode else None
