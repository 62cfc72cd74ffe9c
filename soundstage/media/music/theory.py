"""Pitch, scale and chord helpers: the small amount of music theory the composer needs."""

from __future__ import annotations

from dataclasses import dataclass

NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
FLAT_ALIASES = {"DB": 1, "EB": 3, "GB": 6, "AB": 8, "BB": 10, "CB": 11, "FB": 4, "E#": 5, "B#": 0}

# Interval patterns of the seven diatonic modes, in semitones from the tonic.
MODES: dict[str, tuple[int, ...]] = {
    "ionian": (0, 2, 4, 5, 7, 9, 11),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "lydian": (0, 2, 4, 6, 7, 9, 11),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "aeolian": (0, 2, 3, 5, 7, 8, 10),
}
MODE_ALIASES = {"major": "ionian", "minor": "aeolian"}
MAJOR_MODES = frozenset({"ionian", "lydian", "mixolydian"})


class TheoryError(ValueError):
    """An unknown key or mode name."""


def parse_key(name: str) -> int:
    """Pitch class (0 = C) of a key name such as "F#", "Bb" or "c"."""
    text = name.strip().upper().replace("♯", "#").replace("♭", "B")
    if text in NOTE_NAMES:
        return NOTE_NAMES.index(text)
    if text in FLAT_ALIASES:
        return FLAT_ALIASES[text]
    raise TheoryError(f"unknown key {name!r}; use a note name such as C, F#, Bb")


def parse_mode(name: str) -> str:
    """Canonical mode name for "major", "minor" or one of the seven modes."""
    text = name.strip().lower()
    text = MODE_ALIASES.get(text, text)
    if text not in MODES:
        allowed = ", ".join([*MODE_ALIASES, *MODES])
        raise TheoryError(f"unknown mode {name!r}; use one of {allowed}")
    return text


def mode_quality(mode: str) -> str:
    """ "major" or "minor": how a key detector would name this mode's tonic triad."""
    return "major" if mode in MAJOR_MODES else "minor"


def key_name(tonic: int) -> str:
    return NOTE_NAMES[tonic % 12]


@dataclass(frozen=True)
class Scale:
    """A diatonic scale: tonic pitch class plus a mode."""

    tonic: int
    mode: str

    @property
    def steps(self) -> tuple[int, ...]:
        return MODES[self.mode]

    def pitch(self, degree: int, octave: int = 4) -> int:
        """MIDI pitch of a scale degree (0-based, may exceed 6 or go negative)."""
        octave_shift, index = divmod(degree, 7)
        return 12 * (octave + 1 + octave_shift) + self.tonic + self.steps[index]

    def contains(self, midi_pitch: int) -> bool:
        return (midi_pitch - self.tonic) % 12 in self.steps

    def degree_of(self, midi_pitch: int) -> int | None:
        """Degree (0..6) of a pitch in this scale, or None for a chromatic note."""
        interval = (midi_pitch - self.tonic) % 12
        return self.steps.index(interval) if interval in self.steps else None

    def chord(self, root_degree: int, size: int = 4, octave: int = 3) -> list[int]:
        """Stacked thirds on a degree: size 3 a triad, 4 a seventh, 5 a ninth."""
        return [self.pitch(root_degree + 2 * i, octave) for i in range(size)]


def voice_lead(previous: list[int], target_classes: list[int], low: int, high: int) -> list[int]:
    """Place each target pitch class as close as possible to the previous voicing.

    Keeps pads and strings moving smoothly from chord to chord instead of jumping,
    which is what makes slow ambient harmony sound composed rather than stacked.
    """
    if not previous:
        centre = (low + high) // 2
        previous = [centre - 7, centre - 3, centre, centre + 4][: len(target_classes)]
    voices: list[int] = []
    for index, pitch_class in enumerate(target_classes):
        anchor = previous[min(index, len(previous) - 1)]
        candidates = [p for p in range(low, high + 1) if p % 12 == pitch_class % 12]
        if not candidates:
            continue
        choice = min(candidates, key=lambda p: (abs(p - anchor), p in voices))
        voices.append(choice)
    return sorted(set(voices))
