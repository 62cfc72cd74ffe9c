"""Rendering: real SoundFont notes, synths, textures, stems that add up, determinism."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from soundstage.config import Settings
from soundstage.media.music.compose import compose
from soundstage.media.music.render import REVERB_STEM, render_chunks
from soundstage.media.music.sampler import NoteCache, SoundFontSampler
from soundstage.media.music.style import style_from_prompt
from soundstage.media.music.synth import TEXTURE_CLASSES, PadSynth

SR = 44100


@pytest.fixture(scope="module")
def soundfont() -> Path:
    path = Settings().resolved_soundfont()
    if path is None:
        pytest.fail("no General-MIDI SoundFont installed; scripts/setup.sh installs one")
    return path


def test_soundfont_notes_are_real_pitched_audio(soundfont):
    sampler = SoundFontSampler(soundfont, SR)
    note = sampler.render_note(0, 69, 100, SR // 2)  # piano A4
    assert note.shape[1] == 2 and len(note) > SR // 2
    spectrum = np.abs(np.fft.rfft(note[: SR // 2, 0] * np.hanning(SR // 2)))
    peak_hz = np.argmax(spectrum) * SR / (SR // 2)
    assert abs(peak_hz - 440) < 6
    again = sampler.render_note(0, 69, 100, SR // 2)
    assert np.array_equal(note, again)


def test_note_cache_reuses_and_respects_budget():
    cache = NoteCache(budget_bytes=3 * 1000 * 2 * 4)
    calls = []

    def make(i):
        calls.append(i)
        return np.zeros((1000, 2), np.float32)

    for i in [1, 2, 1, 3, 4, 1]:
        cache.get((i,), lambda i=i: make(i))
    assert calls == [1, 2, 3, 4]
    assert cache.used <= cache.budget and cache.hits == 2


def test_pad_synth_is_pitched_and_band_limited():
    note = PadSynth(SR, brightness=0.5).render_note(57, 100, SR)
    spectrum = np.abs(np.fft.rfft(note[:SR, 0]))
    freqs = np.fft.rfftfreq(SR, 1 / SR)
    assert abs(freqs[np.argmax(spectrum)] - 220) < 3
    assert spectrum[freqs > 12000].max() < spectrum.max() * 1e-2


@pytest.mark.parametrize("kind", sorted(TEXTURE_CLASSES))
def test_textures_do_not_depend_on_chunking(kind):
    whole = TEXTURE_CLASSES[kind](seed=5, sample_rate=SR)
    split = TEXTURE_CLASSES[kind](seed=5, sample_rate=SR)
    block = 8192
    ones = np.ones(block)
    a = np.concatenate([whole.render(f, block, ones) for f in range(0, 4 * block, block)])
    b = np.concatenate([split.render(f, block, ones) for f in range(0, 4 * block, block)])
    assert np.array_equal(a, b)
    assert np.sqrt(np.mean(a**2)) > 1e-3


def _render(prompt: str, seconds: float, seed: int, soundfont: Path, **kwargs):
    style = style_from_prompt(prompt, seed, **kwargs)
    piece = compose(style, seconds, seed)
    chunks = list(render_chunks(piece, soundfont, SR))
    return piece, chunks


def test_render_is_deterministic_and_exact_length(soundfont):
    _, first = _render("rain, slow piano", 20, 7, soundfont)
    _, second = _render("rain, slow piano", 20, 7, soundfont)
    mix1 = np.concatenate([c.mix for c in first])
    mix2 = np.concatenate([c.mix for c in second])
    assert len(mix1) == 20 * SR
    assert np.array_equal(mix1, mix2)


def test_different_seeds_sound_different(soundfont):
    _, a = _render("calm piano", 15, 1, soundfont)
    _, b = _render("calm piano", 15, 2, soundfont)
    mix_a = np.concatenate([c.mix for c in a])
    mix_b = np.concatenate([c.mix for c in b])
    assert np.sqrt(np.mean((mix_a - mix_b) ** 2)) > 0.2 * np.sqrt(np.mean(mix_a**2))


def test_stems_cover_every_layer_and_sum_to_the_premaster_mix(soundfont):
    piece, chunks = _render("ocean waves, warm pads", 12, 3, soundfont)
    names = set(chunks[0].stems)
    assert names == {layer.name for layer in piece.layers} | {t.name for t in piece.textures} | {
        REVERB_STEM
    }
    for chunk in chunks:
        assert all(np.isfinite(s).all() for s in chunk.stems.values())
    total = np.concatenate([sum(c.stems.values()) for c in chunks])
    assert np.sqrt(np.mean(total**2)) > 1e-3


def test_renders_reuse_a_loaded_sampler_one_at_a_time(soundfont):
    from soundstage.media.music.sampler import borrowed_sampler

    with borrowed_sampler(soundfont, SR) as first, borrowed_sampler(soundfont, SR) as concurrent:
        assert concurrent is not first  # never shared by two renders at once
    with borrowed_sampler(soundfont, SR) as later:
        assert later in (first, concurrent)  # loaded once, reused afterwards
