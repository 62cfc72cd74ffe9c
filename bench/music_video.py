"""Benchmark: a 3-minute song to a 1080p30 music video, end to end, offline.

Run:  .venv/bin/python bench/music_video.py [--minutes 3] [--aspect 16:9] [--write]

Renders a song with our music engine (outside the timing), then times
``soundstage video SONG --json`` in a new process: analysis, suggested sections,
clip plan, every clip rendered by the embedded visual engine (two at a time),
concatenation and muxing. The baseline, measured in the same run, is FFmpeg
alone encoding the same number of 1080p frames of its ``testsrc2`` pattern with
the same x264 settings: the cost of encoding the picture once, with no
analysis and no rendering. The output is then measured like the end-to-end
test does: cuts against beats, A/V sync and the per-beat visual response. With
``--write`` the table goes to docs/benchmarks.md under "## Music video".
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from music_generation import write_section  # noqa: E402

from soundstage.media.video.clip_format import clip_video_args  # noqa: E402
from soundstage.media.video.measure import (  # noqa: E402
    av_sync,
    beat_response,
    cut_alignment,
    detect_cuts,
)

SOUNDSTAGE = Path(sys.executable).with_name("soundstage")
TARGET_S = 90.0


def timed(cmd: list[str]) -> tuple[float, subprocess.CompletedProcess[str], float]:
    """Wall seconds, the finished process, and the peak RSS (MiB) of its children."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:3])} failed:\n{done.stderr[-3000:]}")
    return elapsed, done, max(peak, before) / 1024


def make_song(folder: Path, minutes: float) -> Path:
    cmd = [str(SOUNDSTAGE), "generate", "uplifting electronic pulse", "--duration",
           str(minutes * 60), "--seed", "5", "--bpm", "118", "--no-stems", "--out", str(folder),
           "--json"]  # fmt: skip
    _, done, _ = timed(cmd)
    return Path(json.loads(done.stdout)["files"]["mp3"])


def baseline(folder: Path, seconds: float, width: int, height: int, fps: int) -> float:
    """FFmpeg encoding the same frames from its own test pattern, same x264 settings."""
    cmd = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
           f"testsrc2=size={width}x{height}:rate={fps}", "-t", f"{seconds:.3f}",
           *clip_video_args(fps), str(folder / "baseline.mp4")]  # fmt: skip
    elapsed, _, _ = timed(cmd)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--aspect", default="16:9", choices=["16:9", "9:16"])
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-video-") as tmp:
        folder = Path(tmp)
        song = make_song(folder, args.minutes)
        load = os.getloadavg()[0]
        command = [str(SOUNDSTAGE), "video", str(song), "--aspect", args.aspect]
        elapsed, done, peak = timed([*command, "--out", str(folder / "out"), "--json"])
        summary = json.loads(done.stdout)
        video = Path(summary["video"])
        fps, width, height = summary["fps"], summary["width"], summary["height"]
        base = baseline(folder, summary["duration_s"], width, height, fps)
        sync = av_sync(video)
        alignment = cut_alignment(detect_cuts(video), summary["beats"], fps)
        response = beat_response(video, summary["beats"], fps)
    today = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    text = f"""## Music video

Measured {today} on {os.cpu_count()} cores ({platform.machine()}, Python
{platform.python_version()}), load average {load:.1f} at the start. Reproduce:
`.venv/bin/python bench/music_video.py --write`.

A {args.minutes:g}-minute song from our engine (118 BPM) to a {width}x{height}
{fps} fps music video with `soundstage video` in a new process: analysis,
suggested sections, {len(summary["clips"])} clips on beats rendered by the embedded
engine (template `{summary["template"]}`, two clips at a time), concatenation and
muxing. Baseline: FFmpeg alone encoding the same number of frames of its
`testsrc2` pattern with the same x264 settings.

| run | seconds | × baseline | target |
|---|---:|---:|---:|
| `soundstage video` end to end | {elapsed:.1f} | {elapsed / base:.2f}× | ≤ {TARGET_S:.0f} s |
| baseline: FFmpeg encode only | {base:.1f} | 1.00× | |

Peak RSS of the process tree: {peak:.0f} MiB. Measured on the output: A/V
difference {sync["difference_frames"]} frame(s); cuts within one frame of a beat:
{alignment["within_1_frame"]:.0%} of {alignment["n_cuts"]} detected cuts; visible
response on {response["fraction"]:.0%} of {response["n_beats"]} beats (median
ratio {response["median_ratio"]:.1f}).
"""
    print(text)
    if args.write:
        write_section(text)


if __name__ == "__main__":
    main()
