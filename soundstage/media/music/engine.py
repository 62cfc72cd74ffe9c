"""The music engine's front door: a request in, mastered files out.

Two passes keep memory flat for any duration and hit the loudness target exactly:
1. render every chunk, write the pre-master mix to a float spill file, encode the
   stems as they come, and measure the mix's integrated loudness;
2. read the spill back, apply the one gain that brings it to the target, limit
   true peaks, and encode every requested format in one go.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from soundstage.media.audio.encode import AudioWriter, EncodeTarget
from soundstage.media.audio.limiter import TruePeakLimiter
from soundstage.media.audio.loudness import LoudnessMeter, LoudnessReport
from soundstage.media.music.compose import Composition, compose
from soundstage.media.music.midi import write_midi
from soundstage.media.music.render import CHUNK_FRAMES, prefetch, render_chunks
from soundstage.media.music.style import Style, style_from_prompt
from soundstage.media.music.theory import key_name, mode_quality

SAMPLE_RATE = 44100
CHANNELS = 2
RENDER_SHARE = 0.8  # of the progress bar, the rest is mastering
ProgressFn = Callable[[float, str], None]


@dataclass(frozen=True)
class MusicRequest:
    """What to compose. Unset musical parameters come from the prompt's lexicon words."""

    prompt: str
    duration_s: float
    seed: int = 0
    key: str | None = None
    mode: str | None = None
    bpm: float | None = None
    mood: str | None = None
    instruments: tuple[str, ...] | None = None
    textures: tuple[str, ...] | None = None

    def style(self) -> Style:
        return style_from_prompt(
            self.prompt,
            self.seed,
            key=self.key,
            mode=self.mode,
            bpm=self.bpm,
            mood=self.mood,
            instruments=list(self.instruments) if self.instruments else None,
            textures=list(self.textures) if self.textures is not None else None,
        )


@dataclass(frozen=True)
class MusicOutputs:
    """Which files to write and how loud."""

    formats: tuple[str, ...] = ("mp3",)  # any of mp3, aac, wav, flac
    stems: bool = True
    midi: bool = True
    target_lufs: float = -14.0
    ceiling_dbtp: float = -1.5
    mp3_bitrate_kbps: int = 320
    aac_bitrate_kbps: int = 256
    mp3_quality: int = 5


@dataclass
class MusicResult:
    style: Style
    composition: Composition
    files: dict[str, Path]  # format → path, plus "midi"
    stems: dict[str, Path]
    loudness: LoudnessReport  # measured on the final master fed to the encoders
    premaster_lufs: float
    gain_db: float
    render_s: float
    stats: dict = field(default_factory=dict)

    def summary(self) -> dict:
        style = self.style
        return {
            "style": style.to_dict(),
            "key": key_name(style.tonic),
            "mode": mode_quality(style.mode),
            "bpm": style.bpm,
            "sections": [
                {"start": round(s.start, 3), "end": round(s.end, 3), "label": s.label}
                for s in self.composition.sections
            ],
            "layers": [layer.name for layer in self.composition.layers]
            + [t.name for t in self.composition.textures],
            "loudness": self.loudness.to_dict(),
            "premaster_lufs": round(self.premaster_lufs, 2),
            "gain_db": round(self.gain_db, 2),
            "render_s": round(self.render_s, 3),
        }


FILE_NAMES = {"mp3": "track.mp3", "aac": "track.m4a", "wav": "track.wav", "flac": "track.flac"}


def render_music(
    request: MusicRequest,
    out_dir: Path,
    *,
    soundfont: Path | None,
    work_dir: Path,
    outputs: MusicOutputs = MusicOutputs(),
    on_progress: ProgressFn | None = None,
) -> MusicResult:
    """Compose, render and master a track into `out_dir`. Deterministic in the request."""
    started = time.perf_counter()
    progress = on_progress or (lambda fraction, stage: None)
    progress(0.0, "composing")
    style = request.style()
    composition = compose(style, request.duration_s, request.seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    work_dir.mkdir(parents=True, exist_ok=True)
    spill = work_dir / "premaster.f32"
    try:
        stems, premaster = _render_pass(composition, soundfont, spill, out_dir, outputs, progress)
        gain_db = _gain_to_target(premaster, outputs.target_lufs)
        files, final = _master_pass(spill, gain_db, out_dir, outputs, request.duration_s, progress)
    finally:
        spill.unlink(missing_ok=True)
    if outputs.midi:
        files["midi"] = write_midi(composition, out_dir / "track.mid")
    progress(1.0, "done")
    return MusicResult(
        style, composition, files, stems, final, premaster.integrated_lufs, gain_db,
        time.perf_counter() - started,
    )  # fmt: skip


def _gain_to_target(report: LoudnessReport, target_lufs: float) -> float:
    if not np.isfinite(report.integrated_lufs):
        return 0.0
    return float(target_lufs - report.integrated_lufs)


def _render_pass(
    composition, soundfont, spill: Path, out_dir: Path, outputs: MusicOutputs, progress
):
    meter = LoudnessMeter(SAMPLE_RATE, CHANNELS, true_peak=False)  # only the gain is needed here
    total = round(composition.duration_s * SAMPLE_RATE)
    stem_paths: dict[str, Path] = {}
    # Stem writers open as their layers first appear; all publish (or all abort) together.
    with ExitStack() as writers, spill.open("wb") as spill_file:
        stems: dict[str, AudioWriter] = {}
        for chunk in prefetch(render_chunks(composition, soundfont, SAMPLE_RATE), depth=3):
            spill_file.write(np.ascontiguousarray(chunk.mix, dtype=np.float32).tobytes())
            meter.add(chunk.mix)
            for name, audio in chunk.stems.items() if outputs.stems else ():
                if name not in stems:
                    stem_paths[name] = out_dir / "stems" / f"{name}.flac"
                    target = EncodeTarget(stem_paths[name], "flac", bit_depth=24)
                    stems[name] = writers.enter_context(
                        AudioWriter([target], SAMPLE_RATE, CHANNELS)
                    )
                stems[name].write(audio)
            progress(RENDER_SHARE * (chunk.frame0 + len(chunk.mix)) / total, "rendering")
    return stem_paths, meter.report()


def _master_pass(
    spill: Path, gain_db: float, out_dir: Path, outputs: MusicOutputs, duration_s: float, progress
):
    gain = np.float32(10 ** (gain_db / 20))
    targets = [_target(fmt, out_dir, outputs) for fmt in outputs.formats]
    limiter = TruePeakLimiter(SAMPLE_RATE, CHANNELS, ceiling_dbtp=outputs.ceiling_dbtp)
    meter = LoudnessMeter(SAMPLE_RATE, CHANNELS)
    total = round(duration_s * SAMPLE_RATE)
    done = 0
    with AudioWriter(targets, SAMPLE_RATE, CHANNELS) as writer, spill.open("rb") as spill_file:
        while block := spill_file.read(CHUNK_FRAMES * CHANNELS * 4):
            audio = np.frombuffer(block, dtype=np.float32).reshape(-1, CHANNELS) * gain
            limited = limiter.process(audio)
            writer.write(limited)
            meter.add(limited)
            done += len(audio)
            progress(RENDER_SHARE + (1 - RENDER_SHARE) * done / total, "mastering")
        tail = limiter.flush()
        writer.write(tail)
        meter.add(tail)
    return {t.format: t.path for t in targets}, meter.report()


def _target(fmt: str, out_dir: Path, outputs: MusicOutputs) -> EncodeTarget:
    if fmt not in FILE_NAMES:
        raise ValueError(f"unknown audio format {fmt!r}; use one of {', '.join(FILE_NAMES)}")
    bitrate = outputs.aac_bitrate_kbps if fmt == "aac" else outputs.mp3_bitrate_kbps
    return EncodeTarget(
        out_dir / FILE_NAMES[fmt], fmt, bitrate_kbps=bitrate, mp3_quality=outputs.mp3_quality
    )
