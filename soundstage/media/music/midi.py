"""The composition as a Standard MIDI File: one track per instrument layer."""

from __future__ import annotations

import os
from pathlib import Path

import mido

from soundstage.media.music.compose import Composition
from soundstage.media.music.theory import key_name, mode_quality

TICKS_PER_BEAT = 480
# Nearest General-MIDI program for layers we synthesize ourselves.
SYNTH_PROGRAMS = {"pad": 90, "drone": 95, "sub": 38}
# Key-signature spellings MIDI accepts for major keys we name with sharps.
MAJOR_SPELLING = {"A#": "Bb", "D#": "Eb", "G#": "Ab"}


def write_midi(composition: Composition, path: Path) -> Path:
    """Write type-1 MIDI with tempo, meter, key and one program per layer; atomic."""
    beat_s = 60.0 / composition.bpm
    song = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    song.tracks.append(_conductor_track(composition))
    channels = [c for c in range(16) if c != 9]
    for index, layer in enumerate(composition.layers):
        channel = channels[index % len(channels)]
        instrument = layer.instrument
        program = (
            instrument.program
            if instrument.program is not None
            else SYNTH_PROGRAMS[instrument.synth]
        )
        events: list[tuple[int, int, mido.Message]] = []
        for note in layer.notes:
            on = _ticks(note.start, beat_s)
            off = max(on + 1, _ticks(note.start + note.duration, beat_s))
            events.append(
                (
                    on,
                    1,
                    mido.Message(
                        "note_on", channel=channel, note=note.pitch, velocity=note.velocity
                    ),
                )
            )
            events.append(
                (off, 0, mido.Message("note_off", channel=channel, note=note.pitch, velocity=0))
            )
        track = mido.MidiTrack()
        track.append(mido.MetaMessage("track_name", name=layer.name, time=0))
        track.append(mido.Message("program_change", channel=channel, program=program, time=0))
        now = 0
        for tick, _, message in sorted(events, key=lambda e: (e[0], e[1])):
            track.append(message.copy(time=tick - now))
            now = tick
        track.append(mido.MetaMessage("end_of_track", time=0))
        song.tracks.append(track)
    tmp = path.with_name(f".{path.name}.tmp")
    song.save(tmp)
    os.replace(tmp, path)
    return path


def _conductor_track(composition: Composition) -> mido.MidiTrack:
    style = composition.style
    minor = mode_quality(style.mode) == "minor"
    name = key_name(style.tonic)
    key = f"{name}m" if minor else MAJOR_SPELLING.get(name, name)
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("track_name", name="Soundstage", time=0))
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(composition.bpm), time=0))
    track.append(mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0))
    track.append(mido.MetaMessage("key_signature", key=key, time=0))
    track.append(mido.MetaMessage("end_of_track", time=0))
    return track


def _ticks(seconds: float, beat_s: float) -> int:
    return round(seconds / beat_s * TICKS_PER_BEAT)
