"""Lexicon, theory and composition: deterministic, in key, and varied over time."""

from __future__ import annotations

import mido
import numpy as np
import pytest

from soundstage.media.music.compose import compose
from soundstage.media.music.midi import write_midi
from soundstage.media.music.style import LEXICON, MOODS, StyleError, find_words, style_from_prompt
from soundstage.media.music.theory import MODES, Scale, TheoryError, parse_key, parse_mode


def test_parse_key_accepts_sharps_flats_and_case():
    assert parse_key("C") == 0
    assert parse_key("f#") == 6
    assert parse_key("Bb") == 10
    assert parse_key("Eb") == 3
    with pytest.raises(TheoryError):
        parse_key("H")


def test_parse_mode_aliases():
    assert parse_mode("minor") == "aeolian"
    assert parse_mode("Major") == "ionian"
    with pytest.raises(TheoryError):
        parse_mode("bluesy")


def test_every_mood_preset_uses_known_modes_and_lexicon_moods_exist():
    assert all(m in MODES for preset in MOODS.values() for m in preset.modes)
    assert all(m in MOODS for word in LEXICON.values() for m in word.moods)


def test_prompt_words_steer_the_style():
    style = style_from_prompt("rain on a tin roof, slow piano", seed=7)
    assert "rain" in style.textures
    assert "piano" in style.instruments
    assert style.mood == "melancholic"
    assert find_words("a music box in the snow") == ["music box", "snow"]


def test_explicit_parameters_override_the_prompt():
    style = style_from_prompt(
        "dark night", seed=1, key="F#", mode="lydian", bpm=90, mood="uplifting"
    )
    assert (style.tonic, style.mode, style.bpm, style.mood) == (6, "lydian", 90.0, "uplifting")


@pytest.mark.parametrize(
    "kwargs", [{"key": "X"}, {"mode": "weird"}, {"mood": "angry"}, {"instruments": ["kazoo"]}]
)
def test_unknown_names_are_clear_errors(kwargs):
    with pytest.raises(StyleError, match="unknown"):
        style_from_prompt("calm", seed=1, **kwargs)


def test_same_seed_same_style_and_different_seeds_vary():
    assert style_from_prompt("ocean", 3) == style_from_prompt("ocean", 3)
    keys = {style_from_prompt("ocean", s).tonic for s in range(12)}
    assert len(keys) > 3


def test_composition_is_deterministic_and_stays_in_key():
    style = style_from_prompt("calm piano", seed=5, key="D", mode="dorian")
    first = compose(style, 240, seed=5)
    second = compose(style, 240, seed=5)
    assert [layer.notes for layer in first.layers] == [layer.notes for layer in second.layers]
    scale = Scale(style.tonic, style.mode)
    pitches = [n.pitch for layer in first.layers for n in layer.notes]
    assert pitches and all(scale.contains(p) for p in pitches)


def test_sections_tile_the_track_and_differ_in_energy():
    style = style_from_prompt("dreamy harp", seed=2)
    piece = compose(style, 1800, seed=2)
    assert piece.sections[0].start == 0
    assert abs(piece.sections[-1].end - 1800) < 1e-6
    for before, after in zip(piece.sections, piece.sections[1:], strict=False):
        assert abs(before.end - after.start) < 1e-6
    energies = [s.energy for s in piece.sections]
    assert max(energies) - min(energies) > 0.25
    assert piece.sections[0].label == "intro" and piece.sections[-1].label == "outro"


def test_long_tracks_keep_introducing_new_material():
    style = style_from_prompt("calm", seed=4)
    piece = compose(style, 3 * 3600, seed=4)
    labels = {s.label for s in piece.sections}
    assert len(labels) >= 8
    # No fixed-length loop: the chord sequence of the first hour does not repeat in the second.
    degrees = [c.degree for c in piece.chords]
    half = len(degrees) // 2
    assert degrees[:half] != degrees[half : 2 * half]


def test_a_pulse_layer_marks_the_beat():
    style = style_from_prompt("uplifting strings", seed=3, bpm=80)
    piece = compose(style, 120, seed=3)
    arp = [layer for layer in piece.layers if layer.instrument.role == "arp"]
    assert arp, "uplifting music should carry an audible pulse"
    beat = 60 / 80
    onsets = np.array([n.start for n in arp[0].notes])
    assert np.allclose((onsets / (beat / 2)) % 1, 0, atol=1e-6) or np.allclose(onsets % beat, 0)


def test_midi_file_has_tempo_key_and_every_layer(tmp_path):
    style = style_from_prompt("warm rhodes", seed=9, key="A", mode="minor", bpm=72)
    piece = compose(style, 90, seed=9)
    path = write_midi(piece, tmp_path / "track.mid")
    song = mido.MidiFile(path)
    assert len(song.tracks) == 1 + len(piece.layers)
    metas = {m.type: m for m in song.tracks[0] if m.is_meta}
    assert round(mido.tempo2bpm(metas["set_tempo"].tempo)) == 72
    assert metas["key_signature"].key == "Am"
    notes = sum(1 for t in song.tracks[1:] for m in t if m.type == "note_on")
    assert notes == sum(len(layer.notes) for layer in piece.layers)
    assert (
        abs(song.length - max(n.start + n.duration for layer in piece.layers for n in layer.notes))
        < 1
    )


def test_the_documented_lexicon_matches_the_code():
    from pathlib import Path

    doc = (Path(__file__).parents[3] / "docs" / "music-engine.md").read_text()
    for word in LEXICON:
        assert f"| {word} |" in doc, f"docs/music-engine.md misses lexicon word {word!r}"
    for mood in MOODS:
        assert f"| {mood} |" in doc


def test_neighbouring_sections_change_the_arrangement():
    """Every section change is audible: the line-up or the energy moves, as in a real arrangement."""
    for prompt, seed in [("calm piano", 1), ("ethereal", 9), ("mysterious", 7), ("warm guitar", 4)]:
        style = style_from_prompt(prompt, seed=seed)
        piece = compose(style, 600, seed=seed)
        bed = next(
            layer.name for layer in piece.layers if layer.instrument.role in {"pad", "drone"}
        )
        pulse = {layer.name for layer in piece.layers if layer.instrument.role == "arp"}
        for before, after in zip(piece.sections, piece.sections[1:], strict=False):
            assert {bed, *pulse} <= after.layers, "bed and pulse play in every section"
            assert after.layers != before.layers or abs(after.energy - before.energy) >= 0.19
            assert after.label != before.label
        assert any(s.bridge for s in piece.sections), "a contrasting bridge section"
        for layer in piece.layers:
            playing = [s for s in piece.sections if layer.name in s.layers]
            assert all(
                any(s.start - 4.5 <= n.start < s.end for s in playing) for n in layer.notes
            ), f"{layer.name} only plays in its sections"


def test_slow_pulse_is_on_the_beat():
    """Below 84 BPM the arpeggio plays every beat; off-beat passing notes are few and soft."""
    style = style_from_prompt("dreamy harp", seed=4, bpm=72)
    piece = compose(style, 180, seed=4)
    arp = next(layer for layer in piece.layers if layer.instrument.role == "arp")
    beat = 60 / 72
    phase = np.array([(n.start / beat) % 1 for n in arp.notes])
    on = np.isclose(phase, 0, atol=1e-6) | np.isclose(phase, 1, atol=1e-6)
    beats_played = {round(n.start / beat) for n, o in zip(arp.notes, on, strict=True) if o}
    assert len(beats_played) >= 0.97 * int(180 / beat)
    assert (~on).sum() < 0.3 * on.sum()
    by_start = {round(n.start, 6): n.velocity for n, o in zip(arp.notes, on, strict=True) if o}
    starts = [s.start for s in piece.sections[1:]]
    for note in (n for n, o in zip(arp.notes, on, strict=True) if not o):
        if any(0 < t - note.start <= 2 * beat for t in starts):
            continue  # a fill into the next section
        assert note.velocity < by_start[round(note.start - beat / 2, 6)] - 10
