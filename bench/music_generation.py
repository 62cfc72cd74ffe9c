"""Benchmark: ambient track generation, end to end through the `soundstage generate` command.

Each configuration runs as its own process, so peak memory is measured per run
(the largest process, from the kernel's accounting of waited-for children).
The machines are noisy, so every figure comes with a baseline measured in the
same run: FFmpeg encoding the same duration of noise to MP3 320 kbps, which
is the least any MP3 pipeline must pay.

    .venv/bin/python bench/music_generation.py --minutes 10 60 [--write]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOUNDSTAGE = Path(sys.executable).with_name("soundstage")
PROMPT = "rain on a tin roof, slow piano, warm pads"
CONFIGS = {  # label: (extra CLI arguments, extra environment)
    "track (MP3 + MIDI + cover)": (["--no-stems"], {}),
    "track, LAME -q 7 instead of 5": (["--no-stems"], {"SOUNDSTAGE_MP3_QUALITY": "7"}),
    "full package (+ 8 FLAC stems)": ([], {}),
}
SECTION = "## Music generation"


def run_measured(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MiB (the process and the children it waited for), stdout."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(cmd, stdout=out, stderr=err, env={**os.environ, **(env or {})})
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if process.returncode != 0:
            raise RuntimeError(f"{cmd[0]} failed: {err.read().decode()[-2000:]}")
        return wall, usage.ru_maxrss / 1024, out.read().decode()


def baseline_mp3(seconds: float, work: Path) -> float:
    """FFmpeg LAME 320k on noise of the same length: the floor for any MP3 pipeline."""
    cmd = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"anoisesrc=d={seconds}:c=pink:a=0.2",
           "-ac", "2", "-ar", "44100", "-c:a", "libmp3lame", "-b:a", "320k", str(work / "baseline.mp3")]  # fmt: skip
    return run_measured(cmd)[0]


def generate(seconds: float, extra: list[str], env: dict[str, str], work: Path) -> dict:
    out = work / "out"
    cmd = [str(SOUNDSTAGE), "generate", PROMPT, "--duration", str(seconds), "--seed", "7",
           "--out", str(out), "--json", *extra]  # fmt: skip
    wall, peak_mib, stdout = run_measured(cmd, env)
    report = json.loads(stdout)
    return {
        "wall": wall,
        "peak_mib": peak_mib,
        "lufs": report["integrated_lufs"],
        "tp": report["true_peak_dbtp"],
    }


def measure(minutes: list[float]) -> list[dict]:
    rows = []
    for minute in minutes:
        seconds = minute * 60
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            base = baseline_mp3(seconds, work)
            for name, (extra, env) in CONFIGS.items():
                result = generate(seconds, extra, env, work)
                rows.append({"minutes": minute, "config": name, "baseline": base, **result})
                print(f"{minute:g} min, {name}: {result['wall']:.1f} s "
                      f"({seconds / result['wall']:.0f}x realtime), peak {result['peak_mib']:.0f} MiB, "
                      f"baseline MP3 encode {base:.1f} s", flush=True)  # fmt: skip
    return rows


def markdown(rows: list[dict]) -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())  # fmt: skip
    lines = [
        SECTION,
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {os.cpu_count()} cores ({cpu}), load average "
        f"{os.getloadavg()[0]:.1f} at the end. Reproduce: `.venv/bin/python bench/music_generation.py "
        "--minutes 10 60 --write`.",
        "",
        "Each run is one `soundstage generate` process (prompt, seed 7). *× realtime* is audio "
        "duration over wall time. *× baseline* is wall time over the time FFmpeg alone takes to "
        "encode the same duration of noise to MP3 320 kbps in the same run; it is the least an "
        "MP3 pipeline can cost, so this ratio survives machine noise. Peak RSS is the largest "
        "process.",
        "",
        "| length | output | wall | × realtime | × baseline (MP3 encode alone) | peak RSS | loudness | true peak |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        seconds = row["minutes"] * 60
        lines.append(
            f"| {row['minutes']:g} min | {row['config']} | {row['wall']:.1f} s | {seconds / row['wall']:.0f}× "
            f"| {row['wall'] / row['baseline']:.2f}× ({row['baseline']:.1f} s) | {row['peak_mib']:.0f} MiB "
            f"| {row['lufs']:.1f} LUFS | {row['tp']:.1f} dBTP |"
        )
    lines += [
        "",
        "Where the time goes: the render pass (notes from the cache, textures, reverb and "
        "master buses in two pipelined threads) runs at well over 100× realtime. The MP3 "
        "encode cannot start until the whole mix has been measured, because the loudness gain "
        "is applied before the true-peak limiter. So LAME's own speed bounds the second pass; "
        "`SOUNDSTAGE_MP3_QUALITY=7` trades its psychoacoustic noise shaping for about 1.6× "
        "encode speed. The stems cost one FLAC encoder per layer, running on the second core "
        "during the render pass. Memory does not grow with duration: audio streams in 1.5 s "
        "chunks, and the SoundFont (about 300 MB decoded) and a 192 MiB note cache are fixed.",
    ]
    return "\n".join(lines) + "\n"


def write_section(text: str, path: Path = ROOT / "docs" / "benchmarks.md") -> None:
    """Replace (or append) the section whose heading is the first line of `text`."""
    heading = text.splitlines()[0]
    doc = path.read_text() if path.exists() else "# Benchmarks\n\n"
    if heading in doc:
        start = doc.index(heading)
        end = doc.find("\n## ", start + len(heading))
        doc = doc[:start] + text + (doc[end + 1 :] if end != -1 else "")
    else:
        doc = doc.rstrip() + "\n\n" + text
    path.write_text(doc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, nargs="+", default=[10, 60])
    parser.add_argument(
        "--write", action="store_true", help="replace the section in docs/benchmarks.md"
    )
    args = parser.parse_args()
    text = markdown(measure(args.minutes))
    print(text)
    if args.write:
        write_section(text)


if __name__ == "__main__":
    main()
