"""Benchmark: how long a full analysis of a 3-minute song takes, cold and warm.

Cold is a new `soundstage analyze --json` process (imports, JIT and caches
included). Warm is a second `analyze_file` call in one process. The baseline,
measured in the same run, is FFmpeg decoding the same file to PCM: the least
any analysis has to pay.

    .venv/bin/python bench/analysis/speed.py [--minutes 3] [--write]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOUNDSTAGE = Path(sys.executable).with_name("soundstage")
SECTION = "## Analysis speed"


def timed(cmd: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - started


def make_song(minutes: float, folder: Path) -> Path:
    """A song from our own engine with a steady pulse (the analysis cost barely depends on content)."""
    cmd = [str(SOUNDSTAGE), "generate", "uplifting strings, harp", "--duration", str(minutes * 60),
           "--seed", "3", "--bpm", "96", "--no-stems", "--out", str(folder), "--json"]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True)
    return folder / "track.mp3"


def warm_seconds(song: Path) -> float:
    code = (
        "import sys, time; from pathlib import Path\n"
        "from soundstage.media.analysis.analyze import analyze_file\n"
        "analyze_file(Path(sys.argv[1]))\n"
        "t = time.perf_counter(); analyze_file(Path(sys.argv[1])); print(time.perf_counter() - t)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(song)], check=True, capture_output=True, text=True
    )
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument(
        "--write", action="store_true", help="replace the section in docs/benchmarks.md"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        song = make_song(args.minutes, Path(tmp))
        decode = timed(
            [
                "ffmpeg",
                "-v",
                "error",
                "-i",
                str(song),
                "-f",
                "f32le",
                "-ac",
                "1",
                "-ar",
                "22050",
                "-y",
                os.devnull,
            ]
        )
        cold = timed([str(SOUNDSTAGE), "analyze", str(song), "--json"])
        warm = warm_seconds(song)
    text = "\n".join([
        SECTION,
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.1f}. Reproduce: `.venv/bin/python bench/analysis/speed.py --write`.",
        "",
        f"A {args.minutes:g}-minute MP3 from our engine; full analysis (rhythm, key, loudness, "
        "descriptors, mood, genre, structure, vocals; no transcription).",
        "",
        "| run | seconds | × baseline (FFmpeg decode alone) | target |",
        "|---|---:|---:|---:|",
        f"| cold: new `soundstage analyze --json` process | {cold:.2f} | {cold / decode:.1f}× | ≤ 8 s |",
        f"| warm: second call in one process | {warm:.2f} | {warm / decode:.1f}× | ≤ 3 s |",
        f"| baseline: FFmpeg decode to 22.05 kHz mono | {decode:.2f} | 1.0× | |",
        "",
        "",  # write_section drops one newline before the next heading
    ])  # fmt: skip
    print(text)
    if args.write:
        sys.path.insert(0, str(ROOT))
        from bench.music_generation import write_section

        write_section(text)


if __name__ == "__main__":
    main()
