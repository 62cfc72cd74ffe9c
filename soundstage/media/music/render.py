"""Composition → audio, streamed in fixed chunks: layers, reverb bus, master bus, fades.

Every chunk carries the dry stem of each layer, the reverb return (its own stem,
so the stems sum to the pre-master mix) and the mastered-but-not-yet-normalized
mix. Chunk size is fixed so the output is identical however it is consumed.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import pedalboard as pb

from soundstage.media.music.compose import Composition, Layer, TextureLayer
from soundstage.media.music.sampler import NoteCache, SoundFontSampler, borrowed_sampler, quantize
from soundstage.media.music.synth import SYNTHS, TEXTURE_CLASSES

CHUNK_FRAMES = 65536
REVERB_STEM = "reverb"
T = TypeVar("T")


@dataclass
class RenderedChunk:
    frame0: int
    mix: np.ndarray  # (frames, 2) float32, master bus applied, before loudness gain
    stems: dict[str, np.ndarray]


@dataclass
class _Voice:
    start: int
    audio: np.ndarray
    gain: float


class LayerPlayer:
    """Plays one layer's notes into successive chunks from the note cache."""

    def __init__(self, layer: Layer, note_fn: Callable, cache: NoteCache, sample_rate: int) -> None:
        self.layer = layer
        self._note_fn = note_fn
        self._cache = cache
        self._sr = sample_rate
        self._notes = sorted(layer.notes, key=lambda n: (n.start, n.pitch))
        self._next = 0
        self._active: list[_Voice] = []
        gain = 10 ** (layer.gain_db / 20)
        angle = (layer.pan + 1) * np.pi / 4
        self._lr = np.array([np.cos(angle), np.sin(angle)], dtype=np.float32) * gain * np.sqrt(2)

    def render(self, frame0: int, frames: int) -> np.ndarray:
        out = np.zeros((frames, 2), dtype=np.float32)
        end = frame0 + frames
        while self._next < len(self._notes):
            note = self._notes[self._next]
            start = round(note.start * self._sr)
            if start >= end:
                break
            self._active.append(self._voice(note, start))
            self._next += 1
        still: list[_Voice] = []
        for voice in self._active:
            lo = max(frame0, voice.start)
            hi = min(end, voice.start + len(voice.audio))
            if hi > lo:
                segment = voice.audio[lo - voice.start : hi - voice.start]
                out[lo - frame0 : hi - frame0] += segment * voice.gain
            if voice.start + len(voice.audio) > end:
                still.append(voice)
        self._active = still
        return out * self._lr

    def _voice(self, note, start: int) -> _Voice:
        velocity, hold, residual = quantize(note.velocity, note.duration, self._sr)
        key = (self.layer.name, note.pitch, velocity, hold)
        audio = self._cache.get(key, lambda: self._note_fn(note.pitch, velocity, hold))
        return _Voice(start, audio, residual)


class TexturePlayer:
    def __init__(self, texture: TextureLayer, seed: int, sample_rate: int) -> None:
        self.texture = texture
        self._source = TEXTURE_CLASSES[texture.kind](seed, sample_rate)
        self._sr = sample_rate
        self._times = np.array([t for t, _ in texture.intensity])
        self._values = np.array([v for _, v in texture.intensity])
        self._gain = 10 ** (texture.gain_db / 20)

    def render(self, frame0: int, frames: int) -> np.ndarray:
        times = (frame0 + np.arange(frames)) / self._sr
        intensity = np.interp(times, self._times, self._values)
        return (self._source.render(frame0, frames, intensity) * self._gain).astype(np.float32)


def note_functions(
    composition: Composition, sampler: SoundFontSampler | None, sample_rate: int
) -> dict[str, Callable]:
    """One note renderer per layer: the SoundFont for GM programs, numpy synths otherwise."""
    functions: dict[str, Callable] = {}
    for layer in composition.layers:
        instrument = layer.instrument
        if instrument.synth:
            kwargs = (
                {"brightness": composition.style.brightness} if instrument.synth == "pad" else {}
            )
            functions[layer.name] = SYNTHS[instrument.synth](sample_rate, **kwargs).render_note
        elif sampler is None:
            raise FileNotFoundError("no General-MIDI SoundFont configured or found")
        else:
            functions[layer.name] = _program_fn(sampler, instrument.program)
    return functions


def _sampler_for(composition: Composition, soundfont: Path | None, sample_rate: int):
    """Borrow a SoundFont sampler when some layer needs one (see borrowed_sampler)."""
    if soundfont is None or all(layer.instrument.synth for layer in composition.layers):
        return nullcontext(None)
    return borrowed_sampler(soundfont, sample_rate)


def _program_fn(sampler: SoundFontSampler, program: int) -> Callable:
    return lambda pitch, velocity, hold: sampler.render_note(program, pitch, velocity, hold)


def reverb_bus(space: float) -> pb.Pedalboard:
    return pb.Pedalboard(
        [
            pb.HighpassFilter(180),
            pb.Reverb(
                room_size=0.78 + 0.2 * space, damping=0.45, wet_level=1.0, dry_level=0.0, width=1.0
            ),
            pb.LowpassFilter(9000),
        ]
    )


def master_bus(brightness: float) -> pb.Pedalboard:
    return pb.Pedalboard(
        [
            pb.HighpassFilter(28),
            pb.LowShelfFilter(cutoff_frequency_hz=160, gain_db=1.0),
            pb.HighShelfFilter(cutoff_frequency_hz=6500, gain_db=-3.5 + 4.5 * brightness),
            pb.Compressor(threshold_db=-22, ratio=1.8, attack_ms=25, release_ms=300),
        ]
    )


def fade_envelope(
    frame0: int, frames: int, total: int, fade_in: int, fade_out: int
) -> np.ndarray | None:
    """Equal-power fade in at the start and out at the end; None where the gain is 1."""
    if frame0 >= fade_in and frame0 + frames <= total - fade_out:
        return None
    index = frame0 + np.arange(frames)
    rise = np.clip(index / max(fade_in, 1), 0, 1)
    fall = np.clip((total - index) / max(fade_out, 1), 0, 1)
    return (np.sin(rise * np.pi / 2) * np.sin(fall * np.pi / 2)).astype(np.float32)


class MixBus:
    """Sums a chunk's layers, adds the shared reverb, runs the master bus and the fades."""

    def __init__(
        self, composition: Composition, names: list[str], sends: list[float], sample_rate: int
    ):
        self.names = names
        self.sends = [np.float32(amount) for amount in sends]
        self.sample_rate = sample_rate
        self.reverb = reverb_bus(composition.style.space)
        self.master = master_bus(composition.style.brightness)
        self.total = round(composition.duration_s * sample_rate)
        self.fade_in = int(composition.fade_in_s * sample_rate)
        self.fade_out = int(composition.fade_out_s * sample_rate)

    def mix(self, frame0: int, audios: list[np.ndarray]) -> RenderedChunk:
        frames = len(audios[0])
        stems: dict[str, np.ndarray] = {}
        send = np.zeros((frames, 2), dtype=np.float32)
        dry = np.zeros((frames, 2), dtype=np.float32)
        for audio, name, amount in zip(audios, self.names, self.sends, strict=True):
            stems[name] = audio
            dry += audio
            send += audio * amount
        returned = self.reverb(send.T, self.sample_rate, reset=False).T
        stems[REVERB_STEM] = returned
        dry += returned
        mixed = self.master(dry.T, self.sample_rate, reset=False).T
        envelope = fade_envelope(frame0, frames, self.total, self.fade_in, self.fade_out)
        if envelope is not None:
            mixed = mixed * envelope[:, None]
            stems = {name: audio * envelope[:, None] for name, audio in stems.items()}
        return RenderedChunk(frame0, np.ascontiguousarray(mixed, dtype=np.float32), stems)


def render_chunks(
    composition: Composition,
    soundfont: Path | None,
    sample_rate: int = 44100,
    cache_bytes: int = 192 * 2**20,
) -> Iterator[RenderedChunk]:
    """Yield the whole track as fixed-size chunks; the last one may be shorter.

    Two pipelined stages: a background thread renders every layer of the next
    chunks while this one mixes the current chunk through the reverb and master
    buses (numpy, scipy and pedalboard release the GIL, so both cores work).
    """
    with _sampler_for(composition, soundfont, sample_rate) as sampler:
        yield from _render(composition, sampler, sample_rate, cache_bytes)


def _render(composition, sampler, sample_rate: int, cache_bytes: int) -> Iterator[RenderedChunk]:
    cache = NoteCache(cache_bytes)
    functions = note_functions(composition, sampler, sample_rate)
    layers = [
        LayerPlayer(layer, functions[layer.name], cache, sample_rate)
        for layer in composition.layers
    ]
    textures = [
        TexturePlayer(t, composition.seed * 31 + i, sample_rate)
        for i, t in enumerate(composition.textures)
    ]
    players: list[LayerPlayer | TexturePlayer] = [*layers, *textures]
    names = [p.layer.name for p in layers] + [p.texture.name for p in textures]
    sends = [p.layer.reverb_send for p in layers] + [p.texture.reverb_send for p in textures]
    bus = MixBus(composition, names, sends, sample_rate)

    def layer_audio() -> Iterator[tuple[int, list[np.ndarray]]]:
        for frame0 in range(0, bus.total, CHUNK_FRAMES):
            frames = min(CHUNK_FRAMES, bus.total - frame0)
            yield frame0, [player.render(frame0, frames) for player in players]

    for frame0, audios in prefetch(layer_audio(), depth=2):
        yield bus.mix(frame0, audios)


def prefetch(chunks: Iterator[T], depth: int) -> Iterator[T]:
    """Run a generator in a background thread, `depth` items ahead of its consumer.

    Rendering (numpy, scipy filters, pedalboard) mostly releases the GIL, so the
    next chunks render while this thread meters, spills and encodes the current one.
    """
    items: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def produce() -> None:
        try:
            for item in chunks:
                while not stop.is_set():
                    try:
                        items.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            items.put(done)
        except BaseException as error:  # handed to the consumer, raised there
            items.put(error)

    worker = threading.Thread(target=produce, name="music-render", daemon=True)
    worker.start()
    try:
        while (item := items.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()
