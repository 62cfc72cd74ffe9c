"""Prompt → musical style, through a small documented lexicon.

A prompt is read word by word. Each known word votes for a mood and may add an
instrument or a texture and nudge tempo, brightness, density and space. The mood
with most votes picks the defaults (modes, tempo range, instruments); explicit
parameters (key, mode, bpm, mood, instruments) always win. The full lexicon is
`LEXICON` below and is rendered into docs/music-engine.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from soundstage.media.music.theory import TheoryError, parse_key, parse_mode

ROLES = ("pad", "melody", "arp", "sparkle", "bass", "drone")
TEXTURES = ("rain", "wind", "waves", "vinyl", "fire")


@dataclass(frozen=True)
class Instrument:
    """A playable instrument: a General-MIDI program or one of our synthesizers."""

    name: str
    role: str
    program: int | None = None  # GM program (0-based) when rendered from the SoundFont
    synth: str | None = None  # synthesizer kind when rendered in numpy


INSTRUMENTS: dict[str, Instrument] = {
    i.name: i
    for i in (
        Instrument("piano", "melody", program=0),
        Instrument("epiano", "melody", program=4),
        Instrument("vibraphone", "melody", program=11),
        Instrument("flute", "melody", program=73),
        Instrument("harp", "arp", program=46),
        Instrument("guitar", "arp", program=24),
        Instrument("marimba", "arp", program=12),
        Instrument("celesta", "sparkle", program=8),
        Instrument("glockenspiel", "sparkle", program=9),
        Instrument("music_box", "sparkle", program=10),
        Instrument("tubular_bells", "sparkle", program=14),
        Instrument("strings", "pad", program=49),
        Instrument("choir", "pad", program=52),
        Instrument("voices", "pad", program=53),
        Instrument("warm_pad", "pad", program=89),
        Instrument("new_age_pad", "pad", program=88),
        Instrument("bowed_pad", "pad", program=92),
        Instrument("halo_pad", "pad", program=94),
        Instrument("sweep_pad", "pad", program=95),
        Instrument("cello", "bass", program=42),
        Instrument("synth_pad", "pad", synth="pad"),
        Instrument("drone", "drone", synth="drone"),
        Instrument("sub_bass", "bass", synth="sub"),
    )
}

INSTRUMENT_ALIASES = {
    "rhodes": "epiano",
    "electric_piano": "epiano",
    "bells": "tubular_bells",
    "chimes": "celesta",
    "pad": "warm_pad",
    "bass": "sub_bass",
    "voice": "voices",
    "string": "strings",
}


@dataclass(frozen=True)
class MoodPreset:
    modes: tuple[str, ...]
    bpm: tuple[float, float]
    brightness: float
    density: float
    space: float
    instruments: tuple[str, ...]
    textures: tuple[str, ...] = ()


MOODS: dict[str, MoodPreset] = {
    "calm": MoodPreset(("ionian", "lydian", "mixolydian"), (64, 76), 0.5, 0.4, 0.7,
                       ("warm_pad", "piano", "celesta", "synth_pad", "sub_bass")),
    "dreamy": MoodPreset(("lydian", "ionian"), (60, 72), 0.6, 0.4, 0.85,
                         ("halo_pad", "epiano", "music_box", "synth_pad", "harp")),
    "melancholic": MoodPreset(("aeolian", "dorian"), (56, 68), 0.35, 0.35, 0.75,
                              ("strings", "piano", "warm_pad", "cello")),
    "dark": MoodPreset(("phrygian", "aeolian"), (50, 62), 0.2, 0.3, 0.8,
                       ("bowed_pad", "drone", "cello", "piano"), ("wind",)),
    "uplifting": MoodPreset(("ionian", "lydian", "mixolydian"), (72, 88), 0.75, 0.55, 0.6,
                            ("strings", "piano", "harp", "celesta", "synth_pad", "sub_bass")),
    "mysterious": MoodPreset(("dorian", "phrygian"), (56, 70), 0.35, 0.35, 0.8,
                             ("sweep_pad", "vibraphone", "drone", "flute")),
    "warm": MoodPreset(("ionian", "mixolydian"), (62, 76), 0.45, 0.45, 0.6,
                       ("warm_pad", "epiano", "guitar", "sub_bass")),
    "ethereal": MoodPreset(("lydian",), (56, 70), 0.8, 0.3, 0.95,
                           ("choir", "halo_pad", "celesta", "synth_pad")),
    "cold": MoodPreset(("lydian", "aeolian"), (56, 68), 0.85, 0.3, 0.9,
                       ("synth_pad", "glockenspiel", "strings", "drone"), ("wind",)),
    "nostalgic": MoodPreset(("ionian", "dorian"), (66, 78), 0.4, 0.45, 0.6,
                            ("epiano", "warm_pad", "guitar", "sub_bass"), ("vinyl",)),
    "meditative": MoodPreset(("ionian", "mixolydian", "dorian"), (50, 60), 0.4, 0.2, 0.9,
                             ("drone", "warm_pad", "tubular_bells", "flute")),
}  # fmt: skip


@dataclass(frozen=True)
class Word:
    """What one lexicon word contributes to a style."""

    moods: tuple[str, ...] = ()
    instruments: tuple[str, ...] = ()
    textures: tuple[str, ...] = ()
    tempo: float = 0.0  # beats per minute added
    brightness: float = 0.0
    density: float = 0.0
    space: float = 0.0


LEXICON: dict[str, Word] = {
    # weather and places
    "rain": Word(("melancholic", "calm"), textures=("rain",), brightness=-0.05),
    "rainy": Word(("melancholic",), textures=("rain",)),
    "storm": Word(("dark",), textures=("rain", "wind"), density=0.1),
    "thunder": Word(("dark",), textures=("rain",)),
    "wind": Word(("cold", "mysterious"), textures=("wind",)),
    "ocean": Word(("calm",), textures=("waves",), space=0.1),
    "sea": Word(("calm",), textures=("waves",)),
    "waves": Word(("calm",), textures=("waves",)),
    "beach": Word(("warm", "calm"), textures=("waves",)),
    "shore": Word(("calm",), textures=("waves",)),
    "forest": Word(("warm", "mysterious"), instruments=("flute",), textures=("wind",)),
    "mountain": Word(("ethereal", "cold"), textures=("wind",), space=0.1),
    "snow": Word(("cold",), instruments=("glockenspiel",), brightness=0.1),
    "winter": Word(("cold", "melancholic"), textures=("wind",)),
    "ice": Word(("cold",), instruments=("celesta",), brightness=0.1),
    "fire": Word(("warm",), textures=("fire",)),
    "fireplace": Word(("warm", "nostalgic"), textures=("fire",)),
    "cabin": Word(("warm",), textures=("fire",)),
    "city": Word(("nostalgic",), instruments=("epiano",), density=0.1),
    "cafe": Word(("warm", "nostalgic"), instruments=("epiano",), textures=("vinyl",)),
    "space": Word(("ethereal", "mysterious"), instruments=("sweep_pad",), space=0.15),
    "cosmic": Word(("ethereal",), instruments=("halo_pad",), space=0.15),
    "stars": Word(("ethereal", "dreamy"), instruments=("celesta",), brightness=0.1),
    "night": Word(("dark", "mysterious"), brightness=-0.1),
    "midnight": Word(("dark", "mysterious"), brightness=-0.1),
    "dawn": Word(("uplifting", "calm"), brightness=0.1),
    "sunrise": Word(("uplifting",), brightness=0.15),
    "morning": Word(("uplifting", "calm"), brightness=0.1),
    "sunset": Word(("warm", "nostalgic")),
    "underwater": Word(("mysterious", "dreamy"), brightness=-0.2, space=0.1),
    # moods and feelings
    "calm": Word(("calm",)),
    "peaceful": Word(("calm",), density=-0.05),
    "relaxing": Word(("calm",), tempo=-4),
    "gentle": Word(("calm",), density=-0.05),
    "serene": Word(("calm", "ethereal")),
    "dream": Word(("dreamy",)),
    "dreamy": Word(("dreamy",)),
    "sad": Word(("melancholic",)),
    "melancholy": Word(("melancholic",)),
    "melancholic": Word(("melancholic",)),
    "lonely": Word(("melancholic",), density=-0.1),
    "dark": Word(("dark",), brightness=-0.15),
    "ominous": Word(("dark",), instruments=("drone",)),
    "eerie": Word(("mysterious", "dark")),
    "mysterious": Word(("mysterious",)),
    "mystery": Word(("mysterious",)),
    "hope": Word(("uplifting",)),
    "hopeful": Word(("uplifting",)),
    "uplifting": Word(("uplifting",)),
    "happy": Word(("uplifting",), tempo=4),
    "bright": Word(("uplifting",), brightness=0.15),
    "warm": Word(("warm",)),
    "cozy": Word(("warm",), textures=("fire",)),
    "ethereal": Word(("ethereal",)),
    "heavenly": Word(("ethereal",), instruments=("choir",)),
    "cold": Word(("cold",)),
    "nostalgic": Word(("nostalgic",)),
    "nostalgia": Word(("nostalgic",)),
    "memories": Word(("nostalgic",)),
    "vintage": Word(("nostalgic",), textures=("vinyl",)),
    "meditation": Word(("meditative",), tempo=-4, density=-0.1),
    "meditative": Word(("meditative",)),
    "zen": Word(("meditative",), instruments=("tubular_bells",)),
    "yoga": Word(("meditative",)),
    "sleep": Word(("calm", "meditative"), tempo=-6, density=-0.15, brightness=-0.1),
    "focus": Word(("calm",), density=0.05),
    "study": Word(("calm", "nostalgic"), density=0.05),
    "epic": Word(("uplifting",), instruments=("strings", "choir"), density=0.15),
    "cinematic": Word(("uplifting", "mysterious"), instruments=("strings",), density=0.1),
    # tempo and texture words
    "slow": Word(tempo=-8, density=-0.1),
    "fast": Word(tempo=10, density=0.1),
    "sparse": Word(density=-0.15),
    "minimal": Word(density=-0.15),
    "lush": Word(density=0.15, space=0.1),
    "deep": Word(instruments=("sub_bass",), brightness=-0.1),
    "airy": Word(brightness=0.1, space=0.1),
    "lofi": Word(("nostalgic",), instruments=("epiano",), textures=("vinyl",)),
    "lo-fi": Word(("nostalgic",), instruments=("epiano",), textures=("vinyl",)),
    "vinyl": Word(("nostalgic",), textures=("vinyl",)),
    # instruments named directly
    "piano": Word(instruments=("piano",)),
    "keys": Word(instruments=("epiano",)),
    "rhodes": Word(instruments=("epiano",)),
    "strings": Word(instruments=("strings",)),
    "violin": Word(instruments=("strings",)),
    "cello": Word(("melancholic",), instruments=("cello",)),
    "choir": Word(("ethereal",), instruments=("choir",)),
    "voices": Word(("ethereal",), instruments=("voices",)),
    "bells": Word(instruments=("tubular_bells",)),
    "chimes": Word(instruments=("celesta",)),
    "music box": Word(("dreamy", "nostalgic"), instruments=("music_box",)),
    "harp": Word(("dreamy",), instruments=("harp",)),
    "guitar": Word(("warm",), instruments=("guitar",)),
    "flute": Word(instruments=("flute",)),
    "synth": Word(instruments=("synth_pad",)),
    "pads": Word(instruments=("warm_pad",)),
    "drone": Word(("meditative", "dark"), instruments=("drone",)),
    "vibraphone": Word(instruments=("vibraphone",)),
    "marimba": Word(instruments=("marimba",)),
}

MAX_INSTRUMENTS = 6


class StyleError(ValueError):
    """A request that names an unknown mood, instrument, key or mode."""


@dataclass(frozen=True)
class Style:
    """Everything the composer needs to know about how a track should sound."""

    mood: str
    tonic: int
    mode: str
    bpm: float
    brightness: float
    density: float
    space: float
    instruments: tuple[str, ...]
    textures: tuple[str, ...]
    matched_words: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict:
        from soundstage.media.music.theory import key_name, mode_quality

        return {
            "mood": self.mood,
            "key": key_name(self.tonic),
            "mode": self.mode,
            "scale": mode_quality(self.mode),
            "bpm": round(self.bpm, 2),
            "brightness": round(self.brightness, 3),
            "density": round(self.density, 3),
            "space": round(self.space, 3),
            "instruments": list(self.instruments),
            "textures": list(self.textures),
            "matched_words": list(self.matched_words),
        }


def find_words(prompt: str) -> list[str]:
    """Lexicon entries present in a prompt, in order, multi-word entries first."""
    text = prompt.lower()
    found: list[str] = []
    for phrase in (w for w in LEXICON if " " in w):
        if phrase in text:
            found.append(phrase)
            text = text.replace(phrase, " ")
    for token in re.findall(r"[a-z][a-z\-]*", text):
        if token in LEXICON:
            found.append(token)
        elif token.endswith("s") and token[:-1] in LEXICON:
            found.append(token[:-1])
    return found


def resolve_instrument(name: str) -> str:
    key = name.strip().lower().replace(" ", "_").replace("-", "_")
    key = INSTRUMENT_ALIASES.get(key, key)
    if key not in INSTRUMENTS:
        raise StyleError(f"unknown instrument {name!r}; known: {', '.join(sorted(INSTRUMENTS))}")
    return key


def style_from_prompt(
    prompt: str,
    seed: int,
    *,
    key: str | None = None,
    mode: str | None = None,
    bpm: float | None = None,
    mood: str | None = None,
    instruments: list[str] | None = None,
    textures: list[str] | None = None,
) -> Style:
    """Read a prompt through the lexicon; explicit parameters override what it says."""
    words = find_words(prompt)
    entries = [LEXICON[w] for w in words]
    chosen_mood = _pick_mood(entries, mood)
    preset = MOODS[chosen_mood]
    rng = np.random.default_rng([seed, 1])

    try:
        tonic = parse_key(key) if key else int(rng.integers(0, 12))
        chosen_mode = parse_mode(mode) if mode else str(rng.choice(preset.modes))
    except TheoryError as error:
        raise StyleError(str(error)) from error

    tempo = float(rng.uniform(*preset.bpm)) + sum(e.tempo for e in entries)
    chosen_bpm = float(bpm) if bpm is not None else float(np.clip(round(tempo), 40, 120))

    return Style(
        mood=chosen_mood,
        tonic=tonic,
        mode=chosen_mode,
        bpm=chosen_bpm,
        brightness=_clip01(preset.brightness + sum(e.brightness for e in entries)),
        density=_clip01(preset.density + sum(e.density for e in entries)),
        space=_clip01(preset.space + sum(e.space for e in entries)),
        instruments=_pick_instruments(preset, entries, instruments),
        textures=_pick_textures(preset, entries, textures),
        matched_words=tuple(words),
    )


def _pick_mood(entries: list[Word], explicit: str | None) -> str:
    if explicit:
        name = explicit.strip().lower()
        if name not in MOODS:
            raise StyleError(f"unknown mood {explicit!r}; known: {', '.join(MOODS)}")
        return name
    votes: dict[str, float] = {}
    for entry in entries:
        for rank, name in enumerate(entry.moods):
            votes[name] = votes.get(name, 0.0) + (1.0 if rank == 0 else 0.5)
    if not votes:
        return "calm"
    return max(votes, key=lambda name: (votes[name], -list(MOODS).index(name)))


def _pick_instruments(
    preset: MoodPreset, entries: list[Word], explicit: list[str] | None
) -> tuple[str, ...]:
    if explicit:
        names = [resolve_instrument(n) for n in explicit]
        return tuple(dict.fromkeys(names))[:MAX_INSTRUMENTS]
    asked = [name for entry in entries for name in entry.instruments]
    merged = list(dict.fromkeys([*asked, *preset.instruments]))
    # Named instruments come first; keep at most one bass and one drone.
    chosen: list[str] = []
    for name in merged:
        role = INSTRUMENTS[name].role
        if role in {"bass", "drone"} and any(INSTRUMENTS[c].role == role for c in chosen):
            continue
        chosen.append(name)
    return tuple(chosen[:MAX_INSTRUMENTS])


def _pick_textures(
    preset: MoodPreset, entries: list[Word], explicit: list[str] | None
) -> tuple[str, ...]:
    if explicit is not None:
        unknown = [t for t in explicit if t not in TEXTURES]
        if unknown:
            raise StyleError(f"unknown texture {unknown[0]!r}; known: {', '.join(TEXTURES)}")
        return tuple(dict.fromkeys(explicit))
    asked = [t for entry in entries for t in entry.textures]
    return tuple(dict.fromkeys([*asked, *preset.textures]))[:2]


def _clip01(value: float) -> float:
    return float(min(1.0, max(0.0, value)))
