"""Measurements that prove a music video: cut detection, beat alignment, beat response, sync."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from soundstage.media.video import (
    MediaError,
    av_sync,
    beat_response,
    concat_clips,
    cut_alignment,
    detect_cuts,
    normalize_clip,
)

W, H, FPS = 320, 180, 30


def _lavfi(path: Path, graph: str, seconds: float, *extra: str) -> Path:
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", graph, "-t", str(seconds), *extra,
         str(path)],
        check=True,
    )  # fmt: skip
    return path


@pytest.fixture(scope="module")
def src(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("measure-src")
    out = {
        "moving": _lavfi(d / "moving.mp4", "testsrc2=size=640x360:rate=30", 3),
        "zoom": _lavfi(d / "zoom.mp4", "mandelbrot=size=320x180:rate=30", 2),
    }
    for name, colour in [
        ("red", "red"),
        ("blue", "blue"),
        ("green", "0x20c020"),
        ("grey", "0x808080"),
        ("pale", "0xe0e0e0"),
        ("dark", "0x202020"),
    ]:
        out[name] = _lavfi(d / f"{name}.mp4", f"color=c={colour}:size=64x36:rate=30", 1)
    return out


def _clip(src: Path, dst: Path, n: int, flash: bool) -> Path:
    return normalize_clip(src, dst, width=W, height=H, fps=FPS, n_frames=n, flash_in=flash)


@pytest.mark.parametrize("flash", [False, True], ids=["plain", "flash-in"])
def test_detect_cuts_between_clips_within_a_frame(
    src: dict[str, Path], tmp_path: Path, flash: bool
) -> None:
    plan = [("red", 17), ("moving", 23), ("blue", 30), ("pale", 20), ("dark", 25), ("green", 16)]
    clips = [_clip(src[name], tmp_path / f"{i}.mp4", n, flash) for i, (name, n) in enumerate(plan)]
    video = concat_clips(clips, tmp_path / "all.mp4")
    starts, at = [], 0
    for _, n in plan[:-1]:
        at += n
        starts.append(at / FPS)
    cuts = detect_cuts(video)
    assert len(cuts) == len(starts), cuts
    report = cut_alignment(cuts, starts, FPS)
    assert report["max_offset_frames"] <= 1.0, report
    assert report["within_1_frame"] == 1.0


@pytest.mark.parametrize("name", ["moving", "zoom"])
def test_no_cuts_in_a_smooth_shot(src: dict[str, Path], tmp_path: Path, name: str) -> None:
    video = _clip(src[name], tmp_path / "v.mp4", 60, flash=True)  # the opening flash is no cut
    assert detect_cuts(video) == []


def test_a_flash_inside_a_shot_is_not_a_cut(src: dict[str, Path], tmp_path: Path) -> None:
    parts = [
        _clip(src["grey"], tmp_path / "a.mp4", 15, flash=False),
        _clip(src["grey"], tmp_path / "b.mp4", 30, flash=True),
    ]
    video = concat_clips(parts, tmp_path / "v.mp4")
    assert detect_cuts(video) == []
    assert detect_cuts(video, ignore_flashes=False) == pytest.approx([0.5])


def test_cut_alignment_reports_offsets_in_frames() -> None:
    beats = [0.0, 0.5, 1.0, 1.5, 2.0]
    report = cut_alignment([0.5, 1.0 + 1 / 30, 1.9, 2.6], beats, 30)
    assert report["n_cuts"] == 4
    assert report["offsets_frames"] == pytest.approx([0.0, 1.0, -3.0, 18.0])
    assert report["max_offset_frames"] == pytest.approx(18.0)
    assert report["median_offset_frames"] == pytest.approx(2.0)
    assert report["within_1_frame"] == 0.5
    empty = cut_alignment([], beats, 30)
    assert empty["n_cuts"] == 0 and empty["within_1_frame"] is None
    with pytest.raises(ValueError):
        cut_alignment([1.0], [], 30)


@pytest.fixture(scope="module")
def flashing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Moving test pattern brightened for 2 frames every 15 frames (every 0.5 s)."""
    d = tmp_path_factory.mktemp("flashing")
    graph = "testsrc2=size=320x180:rate=30,eq=brightness=0.35:enable='lt(mod(n\\,15)\\,2)'"
    return _lavfi(d / "flash.mp4", graph, 4, "-pix_fmt", "yuv420p")


def test_beat_response_sees_flashes_on_beats(flashing: Path) -> None:
    beats = [0.5 * k for k in range(1, 8)]
    on = beat_response(flashing, beats, FPS)
    assert on["n_beats"] == 7
    assert on["fraction"] == 1.0
    assert on["median_ratio"] > 3
    # The same flashes measured against beats a quarter-second off: no response.
    off = beat_response(flashing, [b + 0.25 for b in beats], FPS)
    assert off["fraction"] <= 0.15, off


def test_beat_response_low_for_static_and_steady_motion(
    src: dict[str, Path], tmp_path: Path
) -> None:
    beats = [0.4, 0.8, 1.2, 1.6]
    still = _clip(src["grey"], tmp_path / "still.mp4", 60, flash=False)
    report = beat_response(still, beats, FPS)
    assert report["fraction"] == 0.0 and report["median_ratio"] < 0.5
    moving = _clip(src["moving"], tmp_path / "moving.mp4", 60, flash=False)
    assert beat_response(moving, beats, FPS)["fraction"] <= 0.25


def test_beat_response_on_composed_clips(src: dict[str, Path], tmp_path: Path) -> None:
    """The flash-in of normalised clips lands on the beats where the clips start."""
    plan = [("moving", 15), ("moving", 15), ("zoom", 20), ("moving", 10), ("zoom", 15)]
    clips = [_clip(src[n], tmp_path / f"{i}.mp4", k, flash=True) for i, (n, k) in enumerate(plan)]
    video = concat_clips(clips, tmp_path / "v.mp4")
    beats = [15 / FPS, 30 / FPS, 50 / FPS, 60 / FPS]
    assert beat_response(video, beats, FPS)["fraction"] == 1.0


def test_av_sync_measures_the_difference(tmp_path: Path) -> None:
    path = tmp_path / "av.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=30:d=2",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:d=2.5",
         "-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-c:a", "aac", str(path)],
        check=True,
    )  # fmt: skip
    sync = av_sync(path)
    assert sync["video_frames"] == 60 and sync["fps"] == 30.0
    assert sync["video_duration_s"] == pytest.approx(2.0)
    assert sync["audio_duration_s"] == pytest.approx(2.5, abs=0.001)
    assert sync["offset_frames"] == pytest.approx(15.0, abs=0.05)
    assert sync["difference_frames"] == pytest.approx(15.0, abs=0.05)
    assert 0 <= sync["audio_padding_s"] < 1024 / 48000
    video_only = _lavfi(tmp_path / "v.mp4", "testsrc2=size=160x90:rate=30", 1)
    with pytest.raises(MediaError):
        av_sync(video_only)
    with pytest.raises(FileNotFoundError):
        detect_cuts(tmp_path / "missing.mp4")
