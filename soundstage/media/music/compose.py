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
from dataclasses import dataclass, field, replace

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
    layers: frozenset[str] = frozenset()  # instruments playing (the arrangement)
    bridge: bool = False  # contrasting material: off-tonic progression, higher pad register

    @property
    def tier(self) -> int:
        """0 low (breakdown, intro, outro), 1 mid, 2 high (the full arrangement)."""
        return 0 if self.energy < LOW_ENERGY else (1 if self.energy < HIGH_ENERGY else 2)


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
    "arp": (-5.0, 0.25, 0.4),
    "sparkle": (-9.0, 0.0, 0.7),
    "bass": (-5.0, 0.0, 0.1),
    "drone": (-9.0, 0.0, 0.35),
}
TEXTURE_GAIN_DB = {"rain": -16.0, "wind": -18.0, "waves": -15.0, "vinyl": -24.0, "fire": -18.0}
LOW_ENERGY = 0.38  # below: a low section (intro, breakdown, outro)
HIGH_ENERGY = 0.62  # from here: the full arrangement
MIN_ENERGY_STEP = 0.2  # neighbouring sections differ at least this much in energy
# Energy from which an optional layer enters, by role (± a per-piece offset).
ENTRY_ENERGY = {"bass": 0.3, "melody": 0.4, "sparkle": 0.3, "pad": 0.6, "drone": 0.5}
SLOW_ARP_BPM = 84.0
DRONE_ATTACK_S, DRONE_RELEASE_S = 4.0, 5.0  # the drone synth's envelope (synth.py)
_DRONE_NAME = "drone"  # below this the arpeggio adds eighth-note passing notes


def compose(style: Style, duration_s: float, seed: int) -> Composition:
    """Write the whole piece. Deterministic in (style, duration, seed)."""
    rng = np.random.default_rng([seed, 2])
    beat = 60.0 / style.bpm
    bar = beat * BEATS_PER_BAR
    scale = Scale(style.tonic, style.mode)
    instruments = _ensure_bed(_ensure_pulse(style))
    bed = next(n for n in instruments if INSTRUMENTS[n].role in {"pad", "drone"})
    sections = _plan_sections(duration_s, bar, style, rng)
    sections = _arrange(sections, instruments, bed, rng)
    chords = _plan_harmony(sections, bar, scale, style, rng)
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
    """Section lengths and energies: slow arcs, and every section audibly above or below
    its neighbour (a build, a breakdown), as an arranger would place them."""
    total_bars = max(2, math.ceil(duration_s / bar))
    sections: list[Section] = []
    start_bar = 0
    index = 0
    phase = rng.uniform(0, 2 * math.pi)
    arc_period = rng.uniform(5.0, 8.0)  # sections per energy arc
    previous = 0.0
    while start_bar < total_bars:
        length = int(rng.choice([8, 8, 12, 16])) if index else int(rng.choice([4, 8]))
        length = min(length, total_bars - start_bar)
        if total_bars - (start_bar + length) < 4:
            length = total_bars - start_bar
        arc = 0.5 + 0.5 * math.sin(phase + 2 * math.pi * index / arc_period)
        energy = 0.2 + 0.6 * arc * (0.6 + 0.8 * style.density) + rng.uniform(-0.08, 0.08)
        if index == 0:
            energy = min(energy, 0.28)
        elif abs(energy - previous) < MIN_ENERGY_STEP:
            rising = math.cos(phase + 2 * math.pi * index / arc_period) >= 0
            energy = previous + (MIN_ENERGY_STEP if rising else -MIN_ENERGY_STEP)
            if not 0.12 <= energy <= 0.95:  # no room that way: go the other way
                energy = previous - (MIN_ENERGY_STEP if rising else -MIN_ENERGY_STEP)
        energy = float(np.clip(energy, 0.12, 0.95))
        start = start_bar * bar
        end = min(duration_s, (start_bar + length) * bar)
        sections.append(Section(start, end, "", energy))
        previous = energy
        start_bar += length
        index += 1
    last = sections[-1]
    sections[-1] = replace(last, energy=min(last.energy, 0.3))
    return sections


def _arrange(sections, instruments, bed: str, rng: np.random.Generator) -> list[Section]:
    """Which instruments play in each section.

    The bed and the pulse (arpeggio) always play. Every other layer enters at its
    own energy (its role's entry level ± a per-piece offset), so builds add layers
    and breakdowns strip them; when a section would keep its neighbour's line-up,
    the layer nearest its entry level enters (rising energy) or leaves (falling).
    """
    always = {bed} | {n for n in instruments if INSTRUMENTS[n].role == "arp"}
    optional = [n for n in instruments if n not in always]
    entry = {n: ENTRY_ENERGY[INSTRUMENTS[n].role] + rng.uniform(-0.08, 0.08) for n in optional}
    out: list[Section] = []
    previous: frozenset[str] | None = None
    previous_energy = 0.0
    for index, section in enumerate(sections):
        edge = index == 0 or index == len(sections) - 1
        active = {n for n in optional if section.energy >= entry[n]}
        if edge:  # intro and outro: a wash of pads, no melody yet / any more
            active -= {n for n in optional if INSTRUMENTS[n].role == "melody"}
            active |= {n for n in optional if INSTRUMENTS[n].role == "pad"}
        if previous is not None and frozenset(always | active) == previous and optional:
            if section.energy >= previous_energy:
                out_now = [n for n in optional if n not in active]
                if out_now:
                    active.add(min(out_now, key=lambda n: entry[n]))
            else:
                in_now = [n for n in optional if n in active]
                if in_now:
                    active.discard(max(in_now, key=lambda n: entry[n]))
        layers = frozenset(always | active)
        out.append(replace(section, layers=layers))
        previous, previous_energy = layers, section.energy
    return out


def _progression(scale: Scale, rng: np.random.Generator, length: int, first: int = 0) -> list[int]:
    degrees = [first]
    while len(degrees) < length:
        moves = DEGREE_MOVES[degrees[-1]]
        options = list(moves)
        weights = np.array([moves[o] for o in options])
        degrees.append(int(rng.choice(options, p=weights / weights.sum())))
    if scale.mode == "phrygian" and 1 not in degrees:
        degrees[-1] = 1  # the flat second is what makes phrygian sound phrygian
    return degrees


def _plan_harmony(sections, bar, scale: Scale, style: Style, rng: np.random.Generator):
    """Chords for every section; sections sharing material share a label.

    Neighbouring sections never share material. Every third new progression (C, F,
    I…, once A and B are established) is a bridge: it starts away from the tonic (on
    IV or vi) and its pads sit higher.
    """
    bars_per_chord = 2 if style.bpm >= 66 else 1
    materials: list[list[int]] = []
    bridges: list[bool] = []
    chords: list[Chord] = []
    voicing: list[int] = []
    labelled: list[Section] = []
    last_choice = -1
    for index, section in enumerate(sections):
        bridge = False
        if index == 0 or index == len(sections) - 1:
            material = [0, 3] if index == 0 else [3, 0]
            label = "intro" if index == 0 else "outro"
            last_choice = -1
        else:
            recent = [
                c for c in range(max(0, len(materials) - 3), len(materials)) if c != last_choice
            ]
            reuse = recent and rng.random() < 0.45 and len(materials) < 24
            if reuse:
                choice = int(recent[int(rng.integers(0, len(recent)))])
            else:
                bridge = len(materials) % 3 == 2  # C, F, I…: after A and B are known
                first = int(rng.choice([3, 5])) if bridge else 0
                materials.append(_progression(scale, rng, int(rng.choice([3, 4, 4])), first))
                bridges.append(bridge)
                choice = len(materials) - 1
            bridge = bridges[choice]
            material = materials[choice]
            last_choice = choice
            label = SECTION_LABELS[choice % 26] + ("" if choice < 26 else str(choice // 26))
        labelled.append(replace(section, label=label, bridge=bridge))
        low, high = (55, 79) if bridge else (50, 74)
        time = section.start
        step = 0
        while time < section.end - 1e-6:
            degree = material[step % len(material)]
            end = min(section.end, time + bars_per_chord * bar)
            size = 4 if rng.random() < 0.6 else 3
            classes = [p % 12 for p in scale.chord(degree, size)]
            voicing = voice_lead(voicing, classes, low, high)
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


def _write_layer(instrument, bed, sections, chords, scale, style, beat, rng) -> Layer:
    role = instrument.role
    notes: list[Note] = []
    writer = ROLE_WRITERS[role]
    for index, section in enumerate(sections):
        if instrument.name not in section.layers:
            continue
        following = sections[index + 1] if index + 1 < len(sections) else None
        previous = sections[index - 1] if index else None
        notes.extend(writer(section, chords, scale, style, beat, rng, following, previous))
    gain, pan, send = ROLE_MIX[role]
    if role == "pad" and not bed:
        gain -= 3.0
        pan = 0.2 if len(instrument.name) % 2 else -0.2
    return Layer(instrument.name, instrument, notes, gain, pan, send * (0.5 + 0.5 * style.space))


def _velocity(base: float, energy: float, rng: np.random.Generator, swing: float = 80) -> int:
    """Dynamics follow the section: a breakdown is played clearly softer than a full one
    (`swing` velocity steps from energy 0 to 1, centred at energy 0.25)."""
    return int(np.clip(base + swing * (energy - 0.25) + rng.normal(0, 4), 20, 120))


def _chords_in(section: Section, chords: list[Chord]) -> list[Chord]:
    return [c for c in chords if c.start >= section.start - 1e-9 and c.start < section.end - 1e-9]


def _write_pad(
    section, chords, scale, style, beat, rng, following=None, previous=None
) -> list[Note]:
    notes = []
    for chord in _chords_in(section, chords):
        velocity = _velocity(44, section.energy, rng)
        hold = chord.end - chord.start + 0.25 * beat  # slight legato overlap
        pitches = list(chord.pitches)
        root_class = scale.pitch(chord.degree) % 12
        if section.tier == 2:  # full sections open up: the root doubled an octave above
            top = max(pitches)
            pitches.append(next(p for p in range(top + 1, top + 13) if p % 12 == root_class))
        notes.extend(Note(chord.start, hold, p, velocity) for p in pitches)
    return notes


def _write_bass(
    section, chords, scale, style, beat, rng, following=None, previous=None
) -> list[Note]:
    notes = []
    for chord in _chords_in(section, chords):
        root = scale.pitch(chord.degree, octave=2)
        if root > 47:
            root -= 12
        length = chord.end - chord.start
        # Full sections drive: the root restruck every two beats, the fifth on the last.
        step = 2 * beat if section.tier == 2 else length
        count = max(1, round(length / step))
        for k in range(count):
            fifth = k == count - 1 and count > 1
            pitch = root + (scale.pitch(chord.degree + 4, 2) - scale.pitch(chord.degree, 2)) * fifth
            hold = min(step, length - k * step)
            velocity = _velocity(56 if k else 60, section.energy, rng)
            notes.append(Note(chord.start + k * step, hold, pitch, velocity))
    return notes


def _write_drone(
    section, chords, scale, style, beat, rng, following=None, previous=None
) -> list[Note]:
    """Tonic and fifth held through the section. Entering, the drone swells in (4 s)
    ahead of the section so it is at full level on its downbeat; before a section it
    does not play in, it lets go early so its 5 s release has faded by then."""
    tonic = scale.pitch(0, octave=2)
    start = section.start
    if previous is not None and _DRONE_NAME not in previous.layers:
        start = max(0.0, start - DRONE_ATTACK_S)
    end = section.end
    if following is not None and _DRONE_NAME not in following.layers:
        end = max(section.start + beat, end - 0.5 * DRONE_RELEASE_S)
    velocity = _velocity(50, section.energy, rng)
    return [
        Note(start, end - start, tonic, velocity),
        Note(start, end - start, tonic + 7, velocity - 8),
    ]


def _write_arp(
    section, chords, scale, style, beat, rng, following=None, previous=None
) -> list[Note]:
    """The pulse: one note on every beat, accented on the downbeat.

    Below 84 BPM, mid and high sections add soft eighth-note passing notes on a
    few off-beats (the "and" of 4, and of 2 in full sections); the beat stays the
    strong, regular layer so a listener taps the written tempo, not its double.
    Full sections play an octave higher; before a section that rises in energy
    the last two beats become a rising eighth-note run (a fill into it).
    """
    pattern = str(rng.choice(["up", "updown", "wander"]))
    slow = style.bpm < SLOW_ARP_BPM
    # The more layers play, the harder the pulse plays to stay on top (a mixer's ride).
    lift = 3 * max(0, len(section.layers) - 3)
    passing = {3} if section.tier == 1 else ({1, 3} if section.tier == 2 else set())
    base = 72 if section.tier == 2 else 60
    fill_from = None
    if following is not None and following.energy > section.energy + 0.1:
        fill_from = section.end - 2 * beat
    notes = []
    for chord in _chords_in(section, chords):
        root = scale.pitch(chord.degree) % 12  # the arpeggio spans up to the root's octave
        tones = sorted({base + (p % 12) for p in chord.pitches} | {base + 12 + root})
        count = round((chord.end - chord.start) / beat)
        for i in range(count):
            if pattern == "up":
                pitch = tones[i % len(tones)]
            elif pattern == "updown":
                cycle = tones + tones[-2:0:-1]
                pitch = cycle[i % len(cycle)]
            else:
                pitch = tones[int(rng.integers(0, len(tones)))]
            start = chord.start + i * beat
            accent = 14 if i % BEATS_PER_BAR == 0 else 6
            # The pulse keeps time in every section, so it follows the dynamics less.
            velocity = _velocity(46 + accent + lift, section.energy, rng, swing=40)
            if fill_from is not None and start >= fill_from - 1e-6:
                for k in range(2):  # the fill: two rising eighths per beat
                    j = tones.index(pitch) + k if pitch in tones else k
                    run = tones[j % len(tones)] + 12 * (j // len(tones))
                    notes.append(Note(start + k * beat / 2, 0.75 * beat, run, velocity - 4 * k))
                continue
            notes.append(Note(start, 1.5 * beat, pitch, velocity))
            if slow and (i % BEATS_PER_BAR) in passing:
                step = tones[(tones.index(pitch) + 1) % len(tones)] if pitch in tones else pitch
                notes.append(Note(start + beat / 2, 0.75 * beat, step, velocity - 16))
    return notes


def _write_sparkle(
    section, chords, scale, style, beat, rng, following=None, previous=None
) -> list[Note]:
    notes = []
    chance = 0.1 + 0.2 * style.density * section.energy
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


def _write_melody(
    section, chords, scale, style, beat, rng, following=None, previous=None
) -> list[Note]:
    notes = []
    motif = _motif(rng)
    phrase_s = 2 * BEATS_PER_BAR * beat
    degree = 7 + int(rng.integers(0, 4))  # around the octave above middle register
    lift = 3 if section.tier == 2 else 0  # full sections sing higher
    degree += lift
    # A melody that is in the arrangement mostly plays: it is what the section is about.
    play_chance = 0.6 + 0.35 * section.energy * (0.5 + style.density)
    time = section.start
    phrase = 0
    while time + phrase_s <= section.end + 1e-6:
        if rng.random() < play_chance:
            if phrase % 2 and rng.random() < 0.5:
                motif = _vary(motif, rng)
            for offset, length, move in motif:
                start = time + offset * beat
                degree = int(np.clip(degree + move, 5 + lift, 13 + lift))
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
