"""Benchmark of the audio engine on a 10-minute synthetic stereo signal.

Run: .venv/bin/python bench/audio_engine.py [--minutes 10] [--repeat 2]
Prints a Markdown table of wall time and speed in x realtime (best of
--repeat runs for the in-process stages; encoders run once).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from soundstage.media.audio import _oversample as ovs
from soundstage.media.audio.decode import read_chunks
from soundstage.media.audio.encode import AudioWriter, EncodeTarget, codec_args
from soundstage.media.audio.limiter import TruePeakLimiter
from soundstage.media.audio.loudness import LoudnessMeter

FS = 44100
BLOCK = FS  # 1 s blocks, as a synthesizer would hand them over


def synth(seconds: float, seed: int = 0) -> np.ndarray:
    """Music-like stereo: harmonic chords, kick, noise snare, loud and quiet sections."""
    n = int(seconds * FS)
    t = np.arange(n) / FS
    rng = np.random.default_rng(seed)
    cycle = np.linspace(0.0, 1.0, 2049)
    table = sum(0.04 / h * np.sin(2 * np.pi * h * cycle) for h in range(1, 8))
    x = np.zeros((n, 2), np.float32)
    for i, f in enumerate([110.0, 220.0, 277.2, 329.6, 440.0, 659.3]):
        env = np.exp(-((t + 0.37 * i) % 1.6) * 2.5)
        x[:, 0] += np.interp((f * t + i / 7) % 1.0, cycle, table) * env
        x[:, 1] += np.interp((1.002 * f * t + 2 * i / 7) % 1.0, cycle, table) * env
    beat = (t % 0.5) / 0.5
    kick = np.sin(2 * np.pi * np.cumsum(50 + 120 * np.exp(-beat * 30)) / FS) * np.exp(-beat * 12)
    snare = rng.standard_normal(n) * np.exp(-(((t + 0.25) % 0.5) / 0.5) * 25)
    x += (0.5 * kick + 0.15 * snare).astype(np.float32)[:, None]
    x *= np.where((t % 60.0) < 45.0, 1.0, 0.15).astype(np.float32)[:, None]
    return x


def best(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Best wall time and best CPU time (this process) over `repeat` runs."""
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus)


def meter(x: np.ndarray, true_peak: bool) -> None:
    m = LoudnessMeter(FS, 2, true_peak=true_peak)
    for i in range(0, len(x), BLOCK):
        m.add(x[i : i + BLOCK])
    m.report()


def full_oversampling(x: np.ndarray) -> None:
    """True peak with no skipping: every interval interpolated (worst case)."""
    hist = np.zeros((2, ovs.TAPS - 1), np.float32)
    for i in range(0, len(x), 32768):
        z = np.concatenate([hist, np.ascontiguousarray(x[i : i + 32768].T)], axis=1)
        hist = z[:, -(ovs.TAPS - 1) :]
        for s in range(0, z.shape[1] - ovs.TAPS + 1, ovs.SUB_BLOCK):
            ovs.interval_peaks(z[:, s : s + ovs.SUB_BLOCK + ovs.TAPS - 1])


def limit(x: np.ndarray) -> None:
    lim = TruePeakLimiter(FS, 2, ceiling_dbtp=-1.0)
    for i in range(0, len(x), BLOCK):
        lim.process(x[i : i + BLOCK])
    lim.flush()


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def busy(seconds: float) -> None:
    """Stand-in for the synthesizer: keep this core busy for `seconds`."""
    end = time.perf_counter() + seconds
    buf = np.linspace(0.0, 1.0, 4096)
    while time.perf_counter() < end:
        np.sin(buf)


def encode(x: np.ndarray, targets: list[EncodeTarget], work_s: float = 0.0) -> tuple[float, float]:
    """Wall time until every file is published, and the encoders' CPU time."""
    cpu, start = children_cpu(), time.perf_counter()
    with AudioWriter(targets, FS, 2) as writer:
        for i in range(0, len(x), BLOCK):
            busy(work_s)
            writer.write(x[i : i + BLOCK])
    return time.perf_counter() - start, children_cpu() - cpu


def encode_one_process(
    x: np.ndarray, targets: list[EncodeTarget], work_s: float = 0.0
) -> tuple[float, float]:
    """The alternative design: one FFmpeg with several outputs, fed by one pipe."""
    cmd = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "f32le", "-ar", str(FS),
           "-ac", "2", "-i", "pipe:0"]  # fmt: skip
    for t in targets:
        cmd += ["-map", "0:a", *codec_args(t), str(t.path)]
    cpu, start = children_cpu(), time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE)
    assert proc.stdin is not None
    for i in range(0, len(x), BLOCK):
        busy(work_s)
        proc.stdin.write(np.ascontiguousarray(x[i : i + BLOCK]).tobytes())
    proc.stdin.close()
    proc.wait()
    return time.perf_counter() - start, children_cpu() - cpu


def decode_all(path: Path) -> None:
    for _ in read_chunks(path):
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--caller-ms", type=float, default=25.0, help="synthesis time per block")
    args = parser.parse_args()
    seconds = args.minutes * 60
    x = synth(seconds)
    hot = x * np.float32(4.0)  # +12 dB: the limiter works all the time
    rows: list[tuple[str, float, float, str]] = []

    def add(name: str, timing: tuple[float, float], note: str = "") -> None:
        rows.append((name, *timing, note))
        print(f"  {name}: {timing[0]:.2f} s wall, {timing[1]:.2f} s CPU", file=sys.stderr)

    add("Loudness meter: integrated + LRA", best(lambda: meter(x, False), args.repeat))
    add("Loudness meter: + true peak", best(lambda: meter(x, True), args.repeat),
        "skips intervals that cannot beat the running peak")  # fmt: skip
    add("Loudness meter: + true peak, hot master", best(lambda: meter(hot, True), args.repeat))
    add("True peak alone, no skipping (worst case)", best(lambda: full_oversampling(x), args.repeat),
        f"{ovs.TAPS} taps x 3 phases per sample and channel")  # fmt: skip
    add("Limiter, material under the ceiling", best(lambda: limit(x * np.float32(0.3)), args.repeat),
        "bit-transparent fast path")  # fmt: skip
    add("Limiter, +12 dB (limiting throughout)", best(lambda: limit(hot), args.repeat))

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        formats = {
            "mp3 320k q5": EncodeTarget(folder / "a.mp3", "mp3"),
            "aac 320k": EncodeTarget(folder / "a.m4a", "aac"),
            "flac 16 bit": EncodeTarget(folder / "a.flac", "flac"),
            "wav 16 bit": EncodeTarget(folder / "a.wav", "wav"),
        }
        for name, target in formats.items():
            add(f"Encode {name}", encode(x, [target]), "CPU: the encoder's")
        targets = list(formats.values())
        add("Encode all four (AudioWriter: a process each)", encode(x, targets), "CPU: encoders'")
        others = [EncodeTarget(folder / f"b{t.path.suffix}", t.format) for t in targets]
        add("Encode all four (one FFmpeg, four outputs)", encode_one_process(x, others))
        work = args.caller_ms / 1000.0
        note = f"caller busy {args.caller_ms:g} ms per 1 s block on its own core"
        add("Encode all four, busy caller (a process each)", encode(x, targets, work), note)
        add("Encode all four, busy caller (one FFmpeg)", encode_one_process(x, others, work), note)
        flac = formats["flac 16 bit"].path
        add("Decode flac (read_chunks)", best(lambda: decode_all(flac), 1), "CPU: this process")

    print(f"\n{args.minutes:g} min stereo 44.1 kHz synthetic signal, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f} at the end\n")  # fmt: skip
    print("| Stage | Wall (s) | x realtime | CPU (s) | x realtime (CPU) | Notes |")
    print("|---|---:|---:|---:|---:|---|")
    for name, wall, cpu, note in rows:
        print(f"| {name} | {wall:.2f} | {seconds / wall:.0f}x | {cpu:.2f} | "
              f"{seconds / max(cpu, 1e-9):.0f}x | {note} |")  # fmt: skip


if __name__ == "__main__":
    main()
