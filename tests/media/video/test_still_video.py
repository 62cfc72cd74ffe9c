"""Still image + audio → MP4: format, exact duration, faststart, clean decode, atomic output."""

from __future__ import annotations

import itertools
import json
import subprocess
from pathlib import Path

import pytest

from soundstage.media.video import MediaError, MediaInfo, probe, render_still_video

FPS = 30


def _ffprobe_json(path: Path, *args: str) -> dict:
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", *args, str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(done.stdout)


def _top_level_boxes(path: Path) -> dict[str, int]:
    """Byte offset of the first top-level box of each type in an MP4."""
    offsets: dict[str, int] = {}
    size_total = path.stat().st_size
    with path.open("rb") as fh:
        pos = 0
        while pos + 8 <= size_total:
            fh.seek(pos)
            head = fh.read(16)
            size, kind = int.from_bytes(head[:4], "big"), head[4:8].decode("latin-1")
            if size == 1:
                size = int.from_bytes(head[8:16], "big")
            elif size == 0:
                size = size_total - pos
            offsets.setdefault(kind, pos)
            if size < 8:
                break
            pos += size
    return offsets


def _audio_packets_md5(path: Path) -> str:
    done = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:a:0", "-c", "copy", "-f", "md5", "-"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout.strip()


@pytest.fixture(scope="module")
def from_wav(
    cover_png: Path, wav_7s: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, MediaInfo, list[float]]:
    out = tmp_path_factory.mktemp("wav") / "sine.mp4"
    seen: list[float] = []
    info = render_still_video(cover_png, wav_7s, out, on_progress=seen.append)
    return out, info, seen


@pytest.fixture(scope="module")
def from_m4a(
    cover_png: Path, m4a_65s: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, MediaInfo]:
    out = tmp_path_factory.mktemp("m4a") / "noise.mp4"
    return out, render_still_video(cover_png, m4a_65s, out, segment_s=10.0)


@pytest.mark.parametrize("case", ["from_wav", "from_m4a"])
def test_h264_high_1080p30_with_aac(case: str, request: pytest.FixtureRequest) -> None:
    out, info = request.getfixturevalue(case)[:2]
    assert info == probe(out)
    v, a = info.video, info.audio
    assert v is not None and a is not None
    assert (v.codec, v.pix_fmt, v.profile) == ("h264", "yuv420p", "High")
    assert (v.width, v.height) == (1920, 1080)
    assert v.fps == pytest.approx(30.0)
    assert a.codec == "aac"
    stream = _ffprobe_json(out, "-select_streams", "v:0", "-show_streams")["streams"][0]
    assert stream["r_frame_rate"] == stream["avg_frame_rate"] == "30/1"  # constant frame rate
    assert stream.get("color_space") == "bt709"


@pytest.mark.parametrize(("case", "source"), [("from_wav", "wav_7s"), ("from_m4a", "m4a_65s")])
def test_duration_and_frame_count_match_the_audio(
    case: str, source: str, request: pytest.FixtureRequest
) -> None:
    out, info = request.getfixturevalue(case)[:2]
    src = probe(request.getfixturevalue(source))
    audio_s = src.audio.duration_s if src.audio and src.audio.duration_s else src.duration_s
    assert info.video is not None and info.video.duration_s is not None
    assert abs(info.video.duration_s - audio_s) <= 1 / FPS
    counted = _ffprobe_json(
        out, "-count_frames", "-select_streams", "v:0", "-show_entries", "stream=nb_read_frames"
    )
    frames = int(counted["streams"][0]["nb_read_frames"])
    assert abs(frames - round(audio_s * FPS)) <= 1
    assert info.video.frames == frames


@pytest.mark.parametrize("case", ["from_wav", "from_m4a"])
def test_moov_before_mdat(case: str, request: pytest.FixtureRequest) -> None:
    boxes = _top_level_boxes(request.getfixturevalue(case)[0])
    assert "moov" in boxes and "mdat" in boxes
    assert boxes["moov"] < boxes["mdat"]


@pytest.mark.parametrize("case", ["from_wav", "from_m4a"])
def test_decodes_cleanly_with_monotonic_timestamps(
    case: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    out = request.getfixturevalue(case)[0]
    decode = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(out), "-f", "null", "-"], capture_output=True, text=True
    )
    assert decode.returncode == 0 and decode.stderr.strip() == ""
    remux = subprocess.run(
        [
            "ffmpeg",
            "-v",
            "warning",
            "-i",
            str(out),
            "-c",
            "copy",
            "-f",
            "mp4",
            str(tmp_path / "re.mp4"),
        ],
        capture_output=True,
        text=True,
    )
    assert remux.returncode == 0
    assert "monoton" not in remux.stderr.lower() and "timestamp" not in remux.stderr.lower()


def test_keyframe_at_every_segment_start(from_m4a: tuple[Path, MediaInfo]) -> None:
    out = from_m4a[0]
    packets = _ffprobe_json(
        out, "-select_streams", "v:0", "-show_entries", "packet=pts_time,flags"
    )["packets"]
    keys = [round(float(p["pts_time"]), 3) for p in packets if "K" in p["flags"]]
    assert keys == [float(t) for t in range(0, 65, 10)]
    times = [float(p["pts_time"]) for p in packets]
    assert all(b - a == pytest.approx(1 / FPS, abs=1e-4) for a, b in itertools.pairwise(times))


def test_aac_audio_is_copied_not_reencoded(from_m4a: tuple[Path, MediaInfo], m4a_65s: Path) -> None:
    assert _audio_packets_md5(from_m4a[0]) == _audio_packets_md5(m4a_65s)


def test_progress_rises_to_one(from_wav: tuple[Path, MediaInfo, list[float]]) -> None:
    seen = from_wav[2]
    assert seen and seen[-1] == 1.0
    assert all(0.0 <= a <= b <= 1.0 for a, b in itertools.pairwise(seen))


def test_portrait_9_16(cover_png: Path, tmp_path: Path) -> None:
    wav = tmp_path / "short.wav"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "sine=duration=1.5:sample_rate=48000",
            str(wav),
        ],
        check=True,
    )
    info = render_still_video(cover_png, wav, tmp_path / "vertical.mp4", width=1080, height=1920)
    assert info.video is not None
    assert (info.video.width, info.video.height) == (1080, 1920)
    assert info.video.frames == 45


def test_missing_image_leaves_no_output(wav_7s: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    with pytest.raises(FileNotFoundError):
        render_still_video(tmp_path / "nope.png", wav_7s, out)
    assert list(tmp_path.iterdir()) == []


def test_unreadable_image_leaves_no_output(wav_7s: Path, tmp_path: Path) -> None:
    bogus = tmp_path / "cover.png"
    bogus.write_text("not a picture")
    out_dir = tmp_path / "out"
    with pytest.raises(MediaError):
        render_still_video(bogus, wav_7s, out_dir / "out.mp4")
    assert not (out_dir / "out.mp4").exists()


def test_cancel_mid_render_cleans_up(cover_png: Path, wav_7s: Path, tmp_path: Path) -> None:
    class Cancelled(Exception):
        pass

    def cancel_late(fraction: float) -> None:
        if fraction > 0.5:
            raise Cancelled

    work = tmp_path / "work"
    work.mkdir()
    out_dir = tmp_path / "out"
    with pytest.raises(Cancelled):
        render_still_video(
            cover_png, wav_7s, out_dir / "x.mp4", on_progress=cancel_late, work_dir=work
        )
    assert list(work.iterdir()) == []
    assert list(out_dir.iterdir()) == []


def test_rejects_bad_parameters(cover_png: Path, wav_7s: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        render_still_video(cover_png, wav_7s, tmp_path / "a.mp4", width=1919)
    with pytest.raises(ValueError):
        render_still_video(cover_png, wav_7s, tmp_path / "a.mp4", crf=99)
    with pytest.raises(MediaError):
        render_still_video(cover_png, cover_png, tmp_path / "a.mp4")  # a picture is not audio
    assert not (tmp_path / "a.mp4").exists()
