"""Benchmark: peak memory of a full analysis (`analyze_file`) of 10, 30 and 60-minute files.

    .venv/bin/python bench/analysis/memory.py [--minutes 10 30 60] [--write]

A 3-minute MP3 from our engine is looped with FFmpeg (stream copy, no
re-encoding) to each length in a temporary folder; no audio is kept. Each
analysis runs in its own Python process, which reports its peak resident set
(VmHWM from /proc/self/status) after `analyze_file` returns; the FFmpeg
decoders are separate processes and are not counted. The same process's peak
after importing the analysis modules and analysing a 1-second file is the
baseline (interpreter, numpy, librosa, scipy), reported separately and
subtracted for the "above baseline" column. The decoded PCM size is the
mono float32 22.05 kHz signal the analysis works on (5.0 MiB per minute).

`--write` replaces the "## Analysis memory" section of docs/benchmarks.md
(placed after "## Section boundaries" when it is new).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOUNDSTAGE = Path(sys.executable).with_name("soundstage")
SECTION = "## Analysis memory"
AFTER = "## Section boundaries"
PCM_MB_PER_MIN = 60 * 22050 * 4 / 2**20
BOUND_MB = 1024  # the stated bound for a 60-minute file
NOTE = (
    "Where the peak comes from, step by step, and what remains: "
    '[analysis.md, "Memory"](analysis.md#memory).'
)

CHILD = r"""
import json, sys, time
from pathlib import Path
from soundstage.media.analysis.analyze import analyze_file

def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")

analyze_file(Path(sys.argv[1]))  # warm-up: imports, JIT, filter banks
base = hwm()
t = time.perf_counter()
result = analyze_file(Path(sys.argv[2]))
print(json.dumps({"base_mb": base, "peak_mb": hwm(), "seconds": time.perf_counter() - t,
                  "duration_s": result.duration_s, "sections": len(result.sections)}))
"""


def make_song(folder: Path) -> Path:
    """A 3-minute song from our engine (MP3)."""
    cmd = [str(SOUNDSTAGE), "generate", "uplifting strings, harp", "--duration", "180",
           "--seed", "3", "--bpm", "96", "--no-stems", "--out", str(folder / "song"), "--json"]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True)
    return folder / "song" / "track.mp3"


def make_short(folder: Path) -> Path:
    out = folder / "short.wav"
    cmd = ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=1",
           "-y", str(out)]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True)
    return out


def loop_to(song: Path, minutes: float, folder: Path) -> Path:
    out = folder / f"loop_{minutes:g}min.mp3"
    cmd = ["ffmpeg", "-v", "error", "-stream_loop", "-1", "-i", str(song), "-t",
           str(minutes * 60), "-c", "copy", "-y", str(out)]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True)
    return out


def measure(path: Path, warmup: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(warmup), str(path)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def markdown(rows: list[tuple[float, dict]]) -> str:
    ten = next((r for m, r in rows if m == 10), rows[0][1])
    lines = [
        SECTION,
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.1f}. Reproduce: "
        "`.venv/bin/python bench/analysis/memory.py --write`.",
        "",
        "Full analysis (`analyze_file`: decode, rhythm, key, loudness, features, descriptors, "
        "mood, genre, structure, vocals; no transcription) of a 3-minute engine MP3 looped "
        "to each length. Peak = the analysing process's peak resident set (VmHWM); the "
        "baseline is the same process after a warm-up analysis of a 1-second file "
        f"({rows[0][1]['base_mb']:.0f} MB: interpreter and libraries). Decoded PCM = the mono "
        f"float32 22.05 kHz signal ({PCM_MB_PER_MIN:.1f} MB per minute). Stated bound: peak "
        f"< {BOUND_MB} MB for 60 minutes ({_verdict(rows)}).",
        "",
        "| file | decoded PCM (MB) | peak (MB) | above baseline (MB) | × 10-min peak | "
        "above baseline ÷ PCM | seconds |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for minutes, r in rows:
        pcm = minutes * PCM_MB_PER_MIN
        above = r["peak_mb"] - r["base_mb"]
        lines.append(
            f"| {minutes:g} min | {pcm:.0f} | {r['peak_mb']:.0f} | {above:.0f} | "
            f"{r['peak_mb'] / ten['peak_mb']:.2f}× | {above / pcm:.2f} | {r['seconds']:.1f} |"
        )
    lines += ["", NOTE]
    return "\n".join(lines) + "\n"


def _verdict(rows: list[tuple[float, dict]]) -> str:
    sixty = [r for m, r in rows if m == 60]
    if not sixty:
        return "not measured"
    return "met" if sixty[0]["peak_mb"] < BOUND_MB else "not met"


def write_section(text: str, path: Path = ROOT / "docs" / "benchmarks.md") -> None:
    """Replace the section, or insert it after "## Section boundaries" (or at the end)."""
    doc = path.read_text()
    if SECTION in doc:
        start = doc.index(SECTION)
        end = doc.find("\n## ", start + len(SECTION))
        doc = doc[:start] + text + (doc[end:] if end != -1 else "")
    elif AFTER in doc and (end := doc.find("\n## ", doc.index(AFTER) + len(AFTER))) != -1:
        doc = doc[: end + 1] + "\n" + text + doc[end:]
    else:
        doc = doc.rstrip() + "\n\n" + text
    path.write_text(doc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, nargs="+", default=[10, 30, 60])
    parser.add_argument(
        "--write", action="store_true", help="replace the section in docs/benchmarks.md"
    )
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        song, short = make_song(folder), make_short(folder)
        for minutes in args.minutes:
            path = loop_to(song, minutes, folder)
            started = time.perf_counter()
            r = measure(path, short)
            print(f"{minutes:g} min: {r} ({time.perf_counter() - started:.0f} s wall)", flush=True)
            rows.append((minutes, r))
            path.unlink()
    text = markdown(rows)
    print(text)
    if args.write:
        write_section(text)


if __name__ == "__main__":
    main()
