"""Benchmark: still-image video rendering against the naive one-pass ffmpeg encode.

Run:  .venv/bin/python bench/video_render.py [--minutes 60] [--slice-minutes 2]

Makes a cover (render_cover) and an AAC .m4a of the requested length (outside
the timing), then times ``render_still_video`` on the full track and, on a
shorter slice of the same audio, both ``render_still_video`` and the naive
``ffmpeg -loop 1 ... -c:v libx264 -tune stillimage`` command. The naive time
for the full length is the slice time scaled linearly per minute of output
(it encodes every frame, so its cost is linear); the same-slice ratio is
reported too. Each measurement runs in a fresh process so the peak RSS of
its ffmpeg children (RUSAGE_CHILDREN) is its own. The Markdown table is
printed and written to docs/benchmarks.md under "## Video rendering".
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import datetime as dt
import multiprocessing
import os
import platform
import re
import resource
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
SECTION = "## Video rendering"
INTRO = """# Benchmarks

Each section compares Soundstage against a baseline measured in the same run
on the same machine, so read the ratios; absolute times depend on the machine
and on whatever else it was doing (the load average is recorded).
"""


@dataclass
class Run:
    label: str
    output_s: float
    seconds: float
    rss_kb: int
    size: int
    video_size: int
    scaled: bool = False

    @property
    def per_minute(self) -> float:
        return self.seconds / (self.output_s / 60)


def _naive_cmd(cover: Path, audio: Path, out: Path) -> list[str]:
    return [
        "ffmpeg", "-v", "error", "-y", "-loop", "1", "-framerate", "30", "-i", str(cover),
        "-i", str(audio), "-c:v", "libx264", "-tune", "stillimage", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-shortest", str(out),
    ]  # fmt: skip


def _measure(method: str, cover: str, audio: str, out: str) -> tuple[float, int]:
    """Run one method in this (fresh) process: wall seconds and peak RSS of ffmpeg children in KiB."""
    from soundstage.media.video import render_still_video

    start = time.perf_counter()
    if method == "fast":
        render_still_video(Path(cover), Path(audio), Path(out))
    else:
        subprocess.run(_naive_cmd(Path(cover), Path(audio), Path(out)), check=True)
    seconds = time.perf_counter() - start
    return seconds, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss


def measure(method: str, cover: Path, audio: Path, out: Path) -> tuple[float, int]:
    ctx = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        return pool.submit(_measure, method, str(cover), str(audio), str(out)).result()


def make_inputs(work: Path, minutes: float, slice_minutes: float) -> tuple[Path, Path, Path]:
    """Cover PNG, full-length AAC track and a slice of it (reused when already there)."""
    from soundstage.media.art import CoverStyle, render_cover, save_png

    cover = work / "cover.png"
    if not cover.exists():
        save_png(
            render_cover("calm ocean at dusk", 1, CoverStyle(mood="calm"), title="Tidal Memory"),
            cover,
        )
    full = work / f"track-{minutes:g}min.m4a"
    if not full.exists():
        print(f"making a {minutes:g}-minute AAC track (not timed)…", flush=True)
        src = f"anoisesrc=duration={minutes * 60}:color=pink:sample_rate=48000:amplitude=0.1:seed=7"
        _ffmpeg(
            "-f",
            "lavfi",
            "-i",
            src,
            "-af",
            "lowpass=f=2500",
            "-ac",
            "2",
            "-c:a",
            "aac",
            "-b:a",
            "256k",
            str(full),
        )
    part = work / f"slice-{slice_minutes:g}min.m4a"
    if not part.exists():
        _ffmpeg("-i", str(full), "-t", str(slice_minutes * 60), "-c", "copy", str(part))
    return cover, full, part


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True)


def _video_bytes(path: Path) -> int:
    """Bytes of the video stream alone (the baseline re-encodes audio at another bitrate)."""
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=size", "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return sum(int(x) for x in done.stdout.split())


def _duration(path: Path) -> float:
    from soundstage.media.video import probe

    return probe(path).duration_s


def run_all(work: Path, minutes: float, slice_minutes: float) -> list[Run]:
    cover, full, part = make_inputs(work, minutes, slice_minutes)
    runs = []
    for label, method, audio in (
        (f"render_still_video, {minutes:g} min (AAC copied)", "fast", full),
        (f"render_still_video, {slice_minutes:g} min slice", "fast", part),
        (f"naive ffmpeg, {slice_minutes:g} min slice", "naive", part),
    ):
        out = work / f"{method}-{audio.stem}.mp4"
        print(f"timing {label}…", flush=True)
        seconds, rss = measure(method, cover, audio, out)
        runs.append(Run(label, _duration(out), seconds, rss, out.stat().st_size, _video_bytes(out)))
        print(f"  {seconds:.2f} s", flush=True)
    naive = runs[2]
    factor = minutes / slice_minutes
    runs.append(
        Run(
            f"naive ffmpeg, {minutes:g} min (scaled ×{factor:g} from the slice)",
            naive.output_s * factor,
            naive.seconds * factor,
            naive.rss_kb,
            int(naive.size * factor),
            int(naive.video_size * factor),
            scaled=True,
        )
    )
    return runs


def _mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


def _fmt_s(s: float) -> str:
    return f"{s:,.1f} s" if s < 600 else f"{s:,.0f} s ({s / 3600:.2f} h)"


def machine() -> dict[str, str]:
    model = "unknown"
    mem = ""
    try:
        model = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text()).group(1)  # type: ignore[union-attr]
        kb = int(re.search(r"MemTotal:\s*(\d+)", Path("/proc/meminfo").read_text()).group(1))  # type: ignore[union-attr]
        mem = f"{kb / 1024 / 1024:.0f} GB RAM"
    except (OSError, AttributeError):
        pass
    ffv = subprocess.run(
        ["ffmpeg", "-version"], capture_output=True, text=True
    ).stdout.splitlines()[0]
    return {
        "cpu": f"{os.cpu_count()} × {model}",
        "mem": mem,
        "os": f"{platform.system()} {platform.release()}, Python {platform.python_version()}",
        "ffmpeg": " ".join(ffv.split()[:3]),
        "load": ", ".join(f"{x:.1f}" for x in os.getloadavg()),
    }


def table(
    runs: list[Run],
    minutes: float,
    slice_minutes: float,
    info: dict[str, str],
    load_end: str,
) -> str:
    fast_full, fast_slice, naive_slice, naive_full = runs
    rows = [
        "| Method | Output | Wall time | Time per output minute | Peak RSS of ffmpeg | File size | Video stream |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        mark = " (est.)" if r.scaled else ""
        rows.append(
            f"| {r.label} | {r.output_s / 60:.2f} min | {_fmt_s(r.seconds)}{mark} | {r.per_minute:.2f} s | "
            f"{r.rss_kb / 1024:,.0f} MiB | {_mb(r.size)}{mark} | {_mb(r.video_size)}{mark} |"
        )
    cmd = f".venv/bin/python bench/video_render.py --minutes {minutes:g} --slice-minutes {slice_minutes:g}"
    return "\n".join(
        [
            SECTION,
            "",
            f"Still cover + AAC track → 1920x1080 30 fps H.264/AAC MP4. {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC.",
            "",
            f"- Machine: {info['cpu']}, {info['mem']}; {info['os']}; {info['ffmpeg']}",
            f"- Load average (1, 5, 15 min) at start: {info['load']}; at end: {load_end} — the machine was shared.",
            f"- Reproduce: `{cmd}`",
            "- Naive baseline: `ffmpeg -loop 1 -framerate 30 -i cover.png -i track.m4a -c:v libx264 "
            "-tune stillimage -pix_fmt yuv420p -c:a aac -shortest out.mp4`. It encodes every frame, so its "
            f"{minutes:g}-minute time and size are the {slice_minutes:g}-minute slice measurement scaled "
            "linearly (marked est.); it also re-encodes the audio (AAC 128 kb/s by default), while "
            "render_still_video copies the 256 kb/s track, so compare the video stream column for size. "
            "render_still_video uses its defaults: a 10 s keyframe interval, crf 20.",
            "",
            *rows,
            "",
            f"- **Speed-up, {minutes:g} min:** {naive_full.seconds / fast_full.seconds:,.0f}× "
            f"({_fmt_s(naive_full.seconds)} est. → {_fmt_s(fast_full.seconds)}).",
            f"- **Speed-up on the same {slice_minutes:g}-minute slice (both measured):** "
            f"{naive_slice.seconds / fast_slice.seconds:,.0f}×; per output minute "
            f"{naive_slice.per_minute:.2f} s vs {fast_full.per_minute:.3f} s at {minutes:g} min.",
            "",
        ]
    )


def write_section(section: str) -> None:
    text = DOC.read_text() if DOC.exists() else INTRO
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    DOC.write_text(text.rstrip("\n") + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=60.0, help="length of the track (default 60)")
    ap.add_argument(
        "--slice-minutes", type=float, default=2.0, help="slice timed for the naive encode"
    )
    ap.add_argument(
        "--workdir", type=Path, help="keep inputs and outputs here (reused on the next run)"
    )
    ap.add_argument(
        "--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone"
    )
    args = ap.parse_args()
    slice_minutes = min(args.slice_minutes, args.minutes)
    info = machine()
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
        runs = run_all(args.workdir, args.minutes, slice_minutes)
    else:
        with tempfile.TemporaryDirectory(prefix="bench-video-") as tmp:
            runs = run_all(Path(tmp), args.minutes, slice_minutes)
    load_end = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    section = table(runs, args.minutes, slice_minutes, info, load_end)
    print()
    print(section)
    if not args.no_write:
        write_section(section)
        print(f"written to {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
