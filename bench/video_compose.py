"""Music-video composition benchmark: normalise provider-like clips to 1080p30, then join
36 of them under a 3-minute song (AAC copied, then WAV encoded), and measure the result.

    .venv/bin/python bench/video_compose.py [WORK_DIR]

Prints JSON: wall and CPU seconds (ffmpeg/ffprobe children) per step, size, A/V offset,
cuts found and their offset from the clip boundaries.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from soundstage.media.video import (
    av_sync,
    compose_video,
    concat_clips,
    cut_alignment,
    detect_cuts,
    mux_song,
    normalize_clip,
)

SOURCES = {
    "testsrc2": "testsrc2=size=1280x720:rate=24",
    "mandelbrot": "mandelbrot=size=1280x720:rate=25",
    "gradients": "gradients=size=1280x720:rate=30:speed=0.05",
}


def ff(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True)


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(out: dict, key: str, fn):
    t, c = time.perf_counter(), cpu()
    result = fn()
    out[f"{key}_s"] = round(time.perf_counter() - t, 2)
    out[f"{key}_cpu_s"] = round(cpu() - c, 2)
    return result


def main(d: Path) -> dict:
    out: dict = {}
    clips = []
    for name, graph in SOURCES.items():
        raw = d / f"{name}_src.mp4"
        ff("-f", "lavfi", "-i", graph, "-t", "5", "-c:v", "libx264", "-preset", "veryfast",
           "-crf", "18", str(raw))  # fmt: skip
        dst = d / f"{name}_1080.mp4"
        timed(out, f"normalize_{name}_5s_720p_to_1080p30",
              lambda raw=raw, dst=dst: normalize_clip(raw, dst, width=1920, height=1080,
                                                      fps=30, n_frames=150))  # fmt: skip
        clips.append(dst)
    timed(out, "normalize_pingpong_5s_to_10s_1080p30",
          lambda: normalize_clip(d / "testsrc2_src.mp4", d / "pp.mp4", width=1920,
                                 height=1080, fps=30, n_frames=300))  # fmt: skip
    wav, m4a = d / "song.wav", d / "song.m4a"
    ff("-f", "lavfi", "-i", "sine=frequency=220:duration=180:sample_rate=44100", "-ac", "2",
       str(wav))  # fmt: skip
    ff("-i", str(wav), "-c:a", "aac", "-b:a", "192k", str(m4a))
    seq = [clips[i % 3] for i in range(36)]  # 36 x 5 s = 3:00 = 5400 frames
    for song in (m4a, wav):
        kind = song.suffix[1:]
        r = timed(out, f"compose_3min_1080p30_{kind}",
                  lambda song=song, kind=kind: compose_video(
                      seq, song, d / f"mv_{kind}.mp4", fps=30, poster=d / "poster.jpg"))  # fmt: skip
        out[f"size_MB_{kind}"] = round(r.size_bytes / 1e6, 1)
        out[f"av_offset_frames_{kind}"] = round(r.av_offset_frames, 3)
        out[f"audio_copied_{kind}"] = r.audio_copied
    timed(out, "concat_only", lambda: concat_clips(seq, d / "cat.mp4"))
    timed(out, "mux_only_m4a", lambda: mux_song(d / "cat.mp4", m4a, d / "muxed.mp4"))
    timed(out, "av_sync", lambda: av_sync(d / "mv_m4a.mp4"))
    cuts = timed(out, "detect_cuts_3min_1080p", lambda: detect_cuts(d / "mv_m4a.mp4"))
    report = cut_alignment(cuts, [5.0 * i for i in range(37)], 30)
    out["cuts_found"] = len(cuts)
    out["cuts_expected"] = 35
    out["cuts_max_offset_frames"] = report["max_offset_frames"]
    out["peak_child_rss_MB"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
    return out


if __name__ == "__main__":
    if len(sys.argv) > 1:
        print(json.dumps(main(Path(sys.argv[1])), indent=1))
    else:
        with tempfile.TemporaryDirectory(prefix="bench-compose-") as tmp:
            print(json.dumps(main(Path(tmp)), indent=1))
