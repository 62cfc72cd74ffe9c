"""Style + duration + seed → a composition: form, harmony and the notes of every layer.

The form is a chain of sections (8–16 bars) whose energy follows slow arcs; energy
decides which layers play, how dense and how loud. Harmony is a chain of
progressions drawn from a Markov table of diatonic root motions, refreshed every
few sections so hours of music never settle into an audible loop. Melodies are
short motifs varied from phrase to phrase and snapped to chord tones on strong
beats; the arpeggio layer carries the pulse that lets a listener (or an analyzer)
hear the tempo; a drone and bass anchor the key.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from soundstage.media.music.style import INSTRUMENTS, Instrument, Style
from soundstage.media.music.theory import Scale, voice_lead

BEATS_PER_BAR = 4

# Root motion preferences between scale degrees (0 = tonic), shared by all modes.
DEGREE_MOVES: dict[int, dict[int, float]] = {
    0: {3: 3.0, 5: 3.0, 4: 1.5, 1: 1.0, 2: 1.0},
    1: {4: 3.0, 0: 1.0, 5: 1.5, 3: 1.0},
    2: {5: 3.0, 3: 2.0, 0: 1.0},
    3: {0: 3.0, 4: 2.0, 1: 1.5, 5: 1.0},
    4: {0: 3.0, 5: 2.0, 3: 1.0},
    5: {3: 3.0, 1: 2.0, 4: 1.5, 0: 1.5},
    6: {0: 2.0, 2: 1.0},
}
SECTION_LABELS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass(frozen=True)
class Note:
    start: float  # seconds
    duration: float  # held seconds (release tail comes after)
    pitch: int
    velocity: int


@dataclass(frozen=True)
class Chord:
    start: float
    end: float
    degree: int
    pitches: tuple[int, ...]  # a voicing in the pad register

    @property
    def pitch_classes(self) -> set[int]:
        return {p % 12 for p in self.pitches}


@dataclass(frozen=True)
class Section:
    start: float
    end: float
    label: str
    energy: float  # 0..1


@dataclass
class Layer:
    """One instrument part: its notes plus how it sits in the mix."""

    name: str
    instrument: Instrument
    notes: list[Note]
    gain_db: float
    pan: float  # -1 left .. 1 right
    reverb_send: float  # 0..1


@dataclass
class TextureLayer:
    """A continuous noise texture (rain, wind...) with a slow intensity curve."""

    name: str
    kind: str
    gain_db: float
    reverb_send: float
    intensity: list[tuple[float, float]]  # (seconds, 0..1) breakpoints


@dataclass
class Composition:
    style: Style
    duration_s: float
    seed: int
    sections: list[Section]
    chords: list[Chord]
    layers: list[Layer]
    textures: list[TextureLayer]
    fade_in_s: float
    fade_out_s: float
    beats: list[float] = field(default_factory=list)

    @property
    def bpm(self) -> float:
        return self.style.bpm

    @property
    def downbeats(self) -> list[float]:
        return self.beats[::BEATS_PER_BAR]


ROLE_MIX = {  # role: (gain dB, pan, reverb send)
    "pad": (-3.0, 0.0, 0.55),
    "melody": (-2.0, -0.15, 0.45),
    "arp": (-7.0, 0.25, 0.4),
    "sparkle": (-9.0, 0.0, 0.7),
    "bass": (-5.0, 0.0, 0.1),
    "drone": (-9.0, 0.0, 0.35),
}
TEXTURE_GAIN_DB = {"rain": -16.0, "wind": -18.0, "waves": -15.0, "vinyl": -24.0, "fire": -18.0}


def compose(style: Style, duration_s: float, seed: int) -> Composition:
    """Write the whole piece. Deterministic in (style, duration, seed)."""
    rng = np.random.default_rng([seed, 2])
    beat = 60.0 / style.bpm
    bar = beat * BEATS_PER_BAR
    scale = Scale(style.tonic, style.mode)
    sections = _plan_sections(duration_s, bar, style, rng)
    chords = _plan_harmony(sections, bar, scale, style, rng)
    instruments = _ensure_bed(_ensure_pulse(style))
    bed = next(n for n in instruments if INSTRUMENTS[n].role in {"pad", "drone"})
    layers = [
        _write_layer(INSTRUMENTS[name], name == bed, sections, chords, scale, style, beat, rng)
        for name in instruments
    ]
    textures = [_texture_layer(kind, sections, rng) for kind in style.textures]
    fade_in = min(6.0, duration_s * 0.05)
    fade_out = min(20.0, max(4.0, duration_s * 0.08))
    beats = list(np.arange(0.0, duration_s - 1e-9, beat))
    return Composition(
        style, duration_s, seed, sections, chords, layers, textures, fade_in, fade_out, beats
    )


def _ensure_pulse(style: Style) -> tuple[str, ...]:
    """Add a gentle arpeggio instrument when none was chosen, so the tempo is audible."""
    names = list(style.instruments)
    if any(INSTRUMENTS[n].role == "arp" for n in names) or style.mood in {"meditative", "dark"}:
        return tuple(names)
    pulse = {"nostalgic": "epiano", "warm": "guitar", "cold": "celesta"}.get(style.mood, "harp")
    if pulse in names:  # already playing another role: use a harp for the pulse instead
        pulse = "harp" if pulse != "harp" else "marimba"
    return (*names, pulse)


def _ensure_bed(names: tuple[str, ...]) -> tuple[str, ...]:
    """Every track sits on a sustained harmonic bed; add a soft synth pad when none was chosen."""
    if any(INSTRUMENTS[n].role in {"pad", "drone"} for n in names):
        return names
    return (*names, "synth_pad")


def _plan_sections(duration_s: float, bar: float, style: Style, rng: np.random.Generator):
    total_bars = max(2, math.ceil(duration_s / bar))
    sections: list[Section] = []
    start_bar = 0
    index = 0
    phase = rng.uniform(0, 2 * math.pi)
    arc_period = rng.uniform(5.0, 8.0)  # sections per energy arc
    while start_bar < total_bars:
        length = int(rng.choice([8, 8, 12, 16])) if index else int(rng.choice([4, 8]))
        length = min(length, total_bars - start_bar)
        if total_bars - (start_bar + length) < 4:
            length = total_bars - start_bar
        arc = 0.5 + 0.5 * math.sin(phase + 2 * math.pi * index / arc_period)
        energy = 0.2 + 0.55 * arc * (0.6 + 0.8 * style.density) + rng.uniform(-0.08, 0.08)
        if index == 0:
            energy = min(energy, 0.3)
        start = start_bar * bar
        end = min(duration_s, (start_bar + length) * bar)
        sections.append(Section(start, end, "", float(np.clip(energy, 0.1, 1.0))))
        start_bar += length
        index += 1
    last = sections[-1]
    sections[-1] = Section(last.start, last.end, "", min(last.energy, 0.35))
    return sections


def _progression(scale: Scale, rng: np.random.Generator, length: int) -> list[int]:
    degrees = [0]
    while len(degrees) < length:
        moves = DEGREE_MOVES[degrees[-1]]
        options = list(moves)
        weights = np.array([moves[o] for o in options])
        degrees.append(int(rng.choice(options, p=weights / weights.sum())))
    if scale.mode == "phrygian" and 1 not in degrees:
        degrees[-1] = 1  # the flat second is what makes phrygian sound phrygian
    return degrees


def _plan_harmony(sections, bar, scale: Scale, style: Style, rng: np.random.Generator):
    """Chords for every section; sections sharing material share a label."""
    bars_per_chord = 2 if style.bpm >= 66 else 1
    materials: list[list[int]] = []
    chords: list[Chord] = []
    voicing: list[int] = []
    labelled: list[Section] = []
    for index, section in enumerate(sections):
        if index == 0 or index == len(sections) - 1:
            material = [0, 3] if index == 0 else [3, 0]
            label = "intro" if index == 0 else "outro"
        else:
            reuse = materials and rng.random() < 0.45 and len(materials) < 24
            if reuse:
                choice = int(rng.integers(max(0, len(materials) - 3), len(materials)))
            else:
                materials.append(_progression(scale, rng, int(rng.choice([3, 4, 4]))))
                choice = len(materials) - 1
            material = materials[choice]
            label = SECTION_LABELS[choice % 26] + ("" if choice < 26 else str(choice // 26))
        labelled.append(Section(section.start, section.end, label, section.energy))
        time = section.start
        step = 0
        while time < section.end - 1e-6:
            degree = material[step % len(material)]
            end = min(section.end, time + bars_per_chord * bar)
            size = 4 if rng.random() < 0.6 else 3
            classes = [p % 12 for p in scale.chord(degree, size)]
            voicing = voice_lead(voicing, classes, 50, 74)
            chords.append(Chord(time, end, degree, tuple(voicing)))
            time = end
            step += 1
    sections[:] = labelled
    return chords


def _chord_at(chords: list[Chord], time: float) -> Chord:
    low, high = 0, len(chords) - 1
    while low < high:
        mid = (low + high + 1) // 2
        if chords[mid].start <= time + 1e-9:
            low = mid
        else:
            high = mid - 1
    return chords[low]


def _energy_active(role: str, bed: bool, energy: float, rng: np.random.Generator) -> bool:
    thresholds = {
        "pad": 0.0,
        "drone": 0.0,
        "bass": 0.3,
        "melody": 0.32,
        "arp": 0.4,
        "sparkle": 0.25,
    }
    if bed or role == "arp":
        # The harmonic bed never drops out, so there is never silence; the pulse plays
        # throughout (softly when energy is low), so the tempo is always audible.
        return True
    threshold = thresholds[role] + (0.18 if role == "pad" else 0.0)
    return energy >= threshold and rng.random() > 0.12


def _write_layer(instrument, bed, sections, chords, scale, style, beat, rng) -> Layer:
    role = instrument.role
    notes: list[Note] = []
    for section in sections:
        if not _energy_active(role, bed, section.energy, rng):
            continue
        writer = ROLE_WRITERS[role]
        notes.extend(writer(section, chords, scale, style, beat, rng))
    gain, pan, send = ROLE_MIX[role]
    if role == "pad" and not bed:
        gain -= 3.0
        pan = 0.2 if len(instrument.name) % 2 else -0.2
    return Layer(instrument.name, instrument, notes, gain, pan, send * (0.5 + 0.5 * style.space))


def _velocity(base: float, energy: float, rng: np.random.Generator) -> int:
    return int(np.clip(base + 30 * energy + rng.normal(0, 4), 20, 120))


def _chords_in(section: Section, chords: list[Chord]) -> list[Chord]:
    return [c for c in chords if c.start >= section.start - 1e-9 and c.start < section.end - 1e-9]


def _write_pad(section, chords, scale, style, beat, rng) -> list[Note]:
    notes = []
    for chord in _chords_in(section, chords):
        velocity = _velocity(48, section.energy, rng)
        hold = chord.end - chord.start + 0.25 * beat  # slight legato overlap
        notes.extend(Note(chord.start, hold, p, velocity) for p in chord.pitches)
    return notes


def _write_bass(section, chords, scale, style, beat, rng) -> list[Note]:
    notes = []
    for chord in _chords_in(section, chords):
        root = scale.pitch(chord.degree, octave=2)
        if root > 47:
            root -= 12
        notes.append(
            Note(chord.start, chord.end - chord.start, root, _velocity(60, section.energy, rng))
        )
    return notes


def _write_drone(section, chords, scale, style, beat, rng) -> list[Note]:
    tonic = scale.pitch(0, octave=2)
    length = section.end - section.start
    velocity = _velocity(55, section.energy, rng)
    return [
        Note(section.start, length, tonic, velocity),
        Note(section.start, length, tonic + 7, velocity - 8),
    ]


def _write_arp(section, chords, scale, style, beat, rng) -> list[Note]:
    step = beat / 2 if style.bpm < 84 else beat
    steps_per_beat = round(beat / step)
    pattern = str(rng.choice(["up", "updown", "wander"]))
    notes = []
    for chord in _chords_in(section, chords):
        tones = sorted({60 + (p % 12) for p in chord.pitches} | {72 + chord.pitches[0] % 12})
        count = round((chord.end - chord.start) / step)
        for i in range(count):
            if pattern == "up":
                pitch = tones[i % len(tones)]
            elif pattern == "updown":
                cycle = tones + tones[-2:0:-1]
                pitch = cycle[i % len(cycle)]
            else:
                pitch = tones[int(rng.integers(0, len(tones)))]
            # On-beat notes lead and off-beat eighths fall back, so the pulse is the beat.
            accent = (
                14
                if i % (steps_per_beat * BEATS_PER_BAR) == 0
                else (6 if i % steps_per_beat == 0 else -12)
            )
            velocity = _velocity(40 + accent, section.energy, rng)
            notes.append(Note(chord.start + i * step, step * 1.5, pitch, velocity))
    return notes


def _write_sparkle(section, chords, scale, style, beat, rng) -> list[Note]:
    notes = []
    chance = 0.05 + 0.12 * style.density * section.energy
    for b in range(int((section.end - section.start) / beat)):
        if rng.random() >= chance:
            continue
        time = section.start + b * beat
        chord = _chord_at(chords, time)
        pitch = 84 + sorted(chord.pitch_classes)[int(rng.integers(0, len(chord.pitch_classes)))]
        pitch -= 12 if pitch > 96 else 0
        notes.append(Note(time, 2 * beat, pitch, _velocity(38, section.energy, rng)))
    return notes


def _motif(rng: np.random.Generator) -> list[tuple[float, float, int]]:
    """A two-bar motif: (beat offset, length in beats, degree step)."""
    cells = [[2, 2, 4], [1, 1, 2, 4], [1.5, 0.5, 2, 4], [3, 1, 4], [2, 1, 1, 4], [1, 1, 1, 1, 4]]
    durations = cells[int(rng.integers(0, len(cells)))]
    offset = 0.0 if rng.random() < 0.6 else 1.0
    motif = []
    for length in durations:
        if offset >= 8:
            break
        move = int(rng.choice([-2, -1, -1, 1, 1, 2, 3, -3, 0], p=None))
        motif.append((offset, min(length, 8 - offset), move))
        offset += length
    return motif


def _write_melody(section, chords, scale, style, beat, rng) -> list[Note]:
    notes = []
    motif = _motif(rng)
    phrase_s = 2 * BEATS_PER_BAR * beat
    degree = 7 + int(rng.integers(0, 4))  # around the octave above middle register
    play_chance = 0.35 + 0.45 * section.energy * (0.5 + style.density)
    time = section.start
    phrase = 0
    while time + phrase_s <= section.end + 1e-6:
        if rng.random() < play_chance:
            if phrase % 2 and rng.random() < 0.5:
                motif = _vary(motif, rng)
            for offset, length, move in motif:
                start = time + offset * beat
                degree = int(np.clip(degree + move, 5, 13))
                pitch = scale.pitch(degree, octave=4)
                if offset % 2 == 0:
                    pitch = _nearest_chord_tone(pitch, _chord_at(chords, start))
                hold = length * beat * (1.0 if length >= 1 else 1.6)
                notes.append(Note(start, hold, pitch, _velocity(50, section.energy, rng)))
        time += phrase_s
        phrase += 1
    return notes


def _vary(motif, rng: np.random.Generator):
    kind = rng.integers(0, 3)
    if kind == 0:  # inversion of the melodic steps
        return [(o, length, -m) for o, length, m in motif]
    if kind == 1:  # new ending
        *head, (o, length, _) = motif
        return [*head, (o, length, int(rng.choice([-2, 2, 4, -4])))]
    return [(o, length, m) for o, length, m in motif if rng.random() > 0.25] or motif


def _nearest_chord_tone(pitch: int, chord: Chord) -> int:
    candidates = [pitch + d for d in range(-3, 4) if (pitch + d) % 12 in chord.pitch_classes]
    return min(candidates, key=lambda p: (abs(p - pitch), p)) if candidates else pitch


ROLE_WRITERS = {
    "pad": _write_pad,
    "bass": _write_bass,
    "drone": _write_drone,
    "arp": _write_arp,
    "sparkle": _write_sparkle,
    "melody": _write_melody,
}


def _texture_layer(kind: str, sections: list[Section], rng: np.random.Generator) -> TextureLayer:
    points = [(0.0, float(rng.uniform(0.55, 0.9)))]
    for section in sections[1:]:
        points.append((section.start, float(rng.uniform(0.45, 1.0))))
    points.append((sections[-1].end, float(rng.uniform(0.4, 0.7))))
    return TextureLayer(kind, kind, TEXTURE_GAIN_DB[kind], 0.15, points)
