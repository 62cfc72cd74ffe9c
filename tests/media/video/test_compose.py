"""Music-video assembly: conforming provider clips, frame-exact joins, muxing the song."""

from __future__ import annotations

import json
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from soundstage.media.video import (
    MediaError,
    compose_video,
    concat_clips,
    extract_poster,
    mux_song,
    normalize_clip,
    write_webvtt,
)
from soundstage.media.video.measure import av_sync, detect_cuts
from soundstage.media.visuals.spec import Caption

W, H, FPS = 320, 180, 30


def _ff(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True)


def _lavfi(path: Path, graph: str, seconds: float, *extra: str) -> Path:
    _ff("-f", "lavfi", "-i", graph, "-t", str(seconds), *extra, str(path))
    return path


def _streams(path: Path) -> list[dict]:
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-count_packets", "-print_format", "json",
         "-show_streams", "-show_format", str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(done.stdout)["streams"]


def _frames(path: Path, width: int, height: int) -> np.ndarray:
    """Every decoded frame as RGB, shape (n, height, width, 3)."""
    done = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:v:0", "-fps_mode", "passthrough",
         "-vf", f"scale={width}:{height}", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"],
        capture_output=True, check=True,
    )  # fmt: skip
    return np.frombuffer(done.stdout, np.uint8).reshape(-1, height, width, 3)


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Provider-like clips: other sizes, rates, lengths, pixel formats, one with audio."""
    d = tmp_path_factory.mktemp("provider-clips")
    out = {
        # 1280x720 at 24 fps, 4 s, with an AAC track
        "hd24_audio": d / "hd24.mp4",
        # 1 s, 640x480 at 25 fps, 4:4:4 chroma: too short, other aspect, other pix_fmt
        "mandel": _lavfi(
            d / "mandel.mp4", "mandelbrot=size=640x480:rate=25", 1, "-pix_fmt", "yuv444p"
        ),
        # 4:1 picture, blue | red | green: a centre crop to 16:9 shows only red
        "bars": _lavfi(
            d / "bars.mp4",
            "color=c=red:size=400x100:rate=25,drawbox=x=0:y=0:w=100:h=100:color=blue:t=fill,"
            "drawbox=x=300:y=0:w=100:h=100:color=green:t=fill",
            1,
        ),
        "grey": _lavfi(d / "grey.mp4", "color=c=0x808080:size=480x270:rate=30", 1),
    }
    _ff(
        "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=24", "-f", "lavfi",
        "-i", "sine=frequency=330", "-t", "4", "-c:v", "libx264", "-preset", "ultrafast",
        "-c:a", "aac", str(out["hd24_audio"]),
    )  # fmt: skip
    for name, colour in [("red", "red"), ("blue", "blue"), ("green", "0x20c020")]:
        out[name] = _lavfi(d / f"{name}.mp4", f"color=c={colour}:size=200x200:rate=25", 1)
    return out


def _avcc(path: Path) -> bytes:
    """The H.264 parameter sets (SPS, PPS) of an MP4's video track."""
    from soundstage.media.video import compose

    moov = compose._top_level_box(path, b"moov")
    assert moov is not None
    for trak in compose._children(moov, b"trak"):
        stbl = trak
        for kind in (b"mdia", b"minf", b"stbl", b"stsd"):
            stbl = compose._child(stbl, kind) or b""
        if stbl[12:16] == b"avc1":
            avcc = compose._child(stbl[8:][86:], b"avcC")
            assert avcc is not None
            return avcc
    raise AssertionError(f"no H.264 track in {path}")


_EMBEDDED: dict[tuple[int, int, int], bytes] = {}


def _embedded_avcc(width: int, height: int, fps: int) -> bytes:
    """Parameter sets of a clip encoded as the embedded renderer does (clip_video_args)."""
    key = (width, height, fps)
    if key not in _EMBEDDED:
        import tempfile

        from soundstage.media.video.clip_format import clip_video_args

        with tempfile.TemporaryDirectory() as tmp:
            ref = Path(tmp) / "embedded.mp4"
            _ff("-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={fps}", "-frames:v",
                "3", *clip_video_args(fps), str(ref))  # fmt: skip
            _EMBEDDED[key] = _avcc(ref)
    return _EMBEDDED[key]


def _check_clip(path: Path, width: int, height: int, n_frames: int, fps: int = FPS) -> None:
    streams = _streams(path)
    assert [s["codec_type"] for s in streams] == ["video"]  # audio dropped
    v = streams[0]
    assert (v["codec_name"], v["pix_fmt"]) == ("h264", "yuv420p")
    # Byte-identical SPS/PPS to an embedded clip: the two join by stream copy.
    assert _avcc(path) == _embedded_avcc(width, height, fps)
    assert (v["width"], v["height"]) == (width, height)
    assert v["r_frame_rate"] == v["avg_frame_rate"] == f"{fps}/1"
    assert int(v["nb_read_packets"]) == int(v["nb_frames"]) == n_frames
    assert v["duration_ts"] * Fraction(v["time_base"]) == Fraction(n_frames, fps)
    decoded = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
         "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert int(decoded.stdout.strip()) == n_frames


@pytest.mark.parametrize(
    ("name", "n_frames"),
    [
        ("hd24_audio", 90),  # 4 s source cut to 3 s, 24 -> 30 fps, audio dropped
        ("hd24_audio", 151),  # a little longer than the source (120 frames at 30 fps)
        ("mandel", 50),  # 1 s source extended to 50 frames
        ("bars", 1),
    ],
)
def test_normalize_gives_exact_size_rate_and_frame_count(
    sources: dict[str, Path], tmp_path: Path, name: str, n_frames: int
) -> None:
    out = normalize_clip(
        sources[name], tmp_path / "clip.mp4", width=W, height=H, fps=FPS, n_frames=n_frames
    )
    assert out == tmp_path / "clip.mp4"
    _check_clip(out, W, H, n_frames)
    assert _leftovers(tmp_path) == []


def test_normalize_portrait_from_landscape(sources: dict[str, Path], tmp_path: Path) -> None:
    out = normalize_clip(
        sources["hd24_audio"], tmp_path / "p.mp4", width=180, height=320, fps=24, n_frames=48
    )
    _check_clip(out, 180, 320, 48, fps=24)


def test_cover_crop_has_no_letterbox(sources: dict[str, Path], tmp_path: Path) -> None:
    out = normalize_clip(
        sources["bars"], tmp_path / "c.mp4", width=W, height=H, fps=FPS, n_frames=10,
        flash_in=False,
    )  # fmt: skip
    frame = _frames(out, W, H)[5].astype(int)
    # Every edge row and column is the red middle: not black bars, not the blue/green sides.
    for edge in (frame[1], frame[-2], frame[:, 1], frame[:, -2]):
        r, g, b = edge.mean(axis=0)
        assert r > 200 and g < 40 and b < 40, (r, g, b)


def test_flash_in_brightens_the_first_frames_only(sources: dict[str, Path], tmp_path: Path) -> None:
    kw = {"width": W, "height": H, "fps": FPS, "n_frames": 20}
    flashed = _frames(normalize_clip(sources["grey"], tmp_path / "f.mp4", **kw), W, H)
    plain = _frames(normalize_clip(sources["grey"], tmp_path / "p.mp4", flash_in=False, **kw), W, H)
    luma = flashed.mean(axis=(1, 2, 3))
    assert luma[0] > 200  # grey 128 blended 75 % towards white
    assert luma[0] > luma[1] > luma[2] > luma[3]  # decays
    assert abs(luma[10:] - 128).max() < 3  # then the picture itself
    assert abs(plain.mean(axis=(1, 2, 3)) - 128).max() < 3


def test_pingpong_extends_with_motion_and_no_cut(sources: dict[str, Path], tmp_path: Path) -> None:
    kw = {"width": W, "height": H, "fps": FPS, "n_frames": 50, "flash_in": False}
    pp = normalize_clip(sources["mandel"], tmp_path / "pp.mp4", **kw)
    hold = normalize_clip(sources["mandel"], tmp_path / "hold.mp4", extend="hold", **kw)
    a, b = _frames(pp, W, H).astype(int), _frames(hold, W, H).astype(int)
    # The source gives 30 frames at 30 fps; frames 30.. are the added ones.
    step_pp = np.abs(np.diff(a[29:], axis=0)).mean(axis=(1, 2, 3))
    step_hold = np.abs(np.diff(b[30:], axis=0)).mean(axis=(1, 2, 3))
    assert (step_pp[1:] > 0.5).all()  # keeps moving (the turn repeats one frame)
    # Frozen: the encoder refines a repeated picture for a few frames, then nothing changes.
    assert np.median(step_hold) < 0.2 and (step_hold[-10:] < 0.05).all()
    # Played backwards: frame 29 + j shows what frame 29 - j showed (the turn repeats one).
    for j in (3, 8, 15):
        back = np.abs(a[29 + j] - a[30 - j]).mean()
        assert back < 0.5 * np.abs(a[29 + j] - a[29 - 2 * j]).mean()
    assert detect_cuts(pp) == []


def test_captions_are_burnt_in(sources: dict[str, Path], tmp_path: Path) -> None:
    captions = pytest.importorskip("soundstage.media.video.captions")
    ass = captions.write_ass([Caption(0.0, 5.0, "HELLO WORLD")], W, H, tmp_path / "c.ass")
    kw = {"width": W, "height": H, "fps": FPS, "n_frames": 12, "flash_in": False}
    with_text = _frames(
        normalize_clip(sources["grey"], tmp_path / "t.mp4", captions_ass=ass, **kw), W, H
    )
    without = _frames(normalize_clip(sources["grey"], tmp_path / "n.mp4", **kw), W, H)
    diff = np.abs(with_text[6].astype(int) - without[6].astype(int)).max(axis=2)
    assert (diff[H // 2 :] > 60).mean() > 0.01  # text drawn in the lower half
    assert diff[: H // 3].max() < 12  # and nowhere near the top


def test_normalize_failures_leave_nothing(sources: dict[str, Path], tmp_path: Path) -> None:
    kw = {"width": W, "height": H, "fps": FPS, "n_frames": 10}
    out = tmp_path / "out"
    out.mkdir()
    bogus = tmp_path / "bogus.mp4"
    bogus.write_bytes(b"not a video at all" * 100)
    with pytest.raises(MediaError):
        normalize_clip(bogus, out / "a.mp4", **kw)
    song = _lavfi(tmp_path / "tone.m4a", "sine=frequency=440", 1, "-c:a", "aac")
    with pytest.raises(MediaError, match="no video"):
        normalize_clip(song, out / "b.mp4", **kw)
    with pytest.raises(FileNotFoundError):
        normalize_clip(tmp_path / "missing.mp4", out / "c.mp4", **kw)

    def cancel(fraction: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        normalize_clip(sources["hd24_audio"], out / "d.mp4", on_progress=cancel, **kw)
    for bad in ({"width": 321}, {"n_frames": 0}, {"fps": 0}, {"extend": "loop"}):
        with pytest.raises(ValueError):
            normalize_clip(sources["red"], out / "e.mp4", **{**kw, **bad})  # type: ignore[arg-type]
    assert list(out.iterdir()) == []


@pytest.fixture(scope="module")
def coloured_clips(
    sources: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> list[tuple[Path, int]]:
    d = tmp_path_factory.mktemp("clips")
    plan = [("red", 17), ("blue", 23), ("hd24_audio", 30), ("green", 20)]
    return [
        (
            normalize_clip(sources[name], d / f"{i}.mp4", width=W, height=H, fps=FPS, n_frames=n),
            n,
        )
        for i, (name, n) in enumerate(plan)
    ]


def test_concat_is_frame_exact(coloured_clips: list[tuple[Path, int]], tmp_path: Path) -> None:
    clips = [p for p, _ in coloured_clips]
    total = sum(n for _, n in coloured_clips)
    out = concat_clips(clips, tmp_path / "all.mp4", fps=FPS)
    _check_clip(out, W, H, total)
    pts = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
         "frame=pts_time", "-of", "csv=p=0", str(out)],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    times = [float(t.strip(",")) for t in pts if t.strip(",")]
    assert times == pytest.approx([k / FPS for k in range(total)], abs=1e-4)
    # Each clip's own frames sit where expected: the mean colour of the frame after each start.
    frames = _frames(out, 32, 18)
    start = 0
    for path, n in coloured_clips:
        mine = _frames(path, 32, 18)
        assert np.abs(frames[start : start + n].astype(int) - mine.astype(int)).mean() < 1.0
        start += n


def test_embedded_and_normalised_clips_join_cleanly(
    coloured_clips: list[tuple[Path, int]], tmp_path: Path
) -> None:
    """An embedded clip (encoded straight with clip_video_args) and a provider clip."""
    from soundstage.media.video.clip_format import clip_video_args

    embedded = tmp_path / "embedded.mp4"
    _ff("-f", "lavfi", "-i", f"testsrc2=size={W}x{H}:rate={FPS}", "-frames:v", "20",
        *clip_video_args(FPS), str(embedded))  # fmt: skip
    provider, n = coloured_clips[1]
    out = concat_clips([embedded, provider, embedded], tmp_path / "mixed.mp4", fps=FPS)
    _check_clip(out, W, H, 40 + n)
    errors = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(out), "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    ).stderr  # fmt: skip
    assert errors == ""


def test_concat_many_clips_stays_on_the_frame_grid(
    coloured_clips: list[tuple[Path, int]], tmp_path: Path
) -> None:
    """70 joins of 17-frame clips (17/30 s is no whole number of microseconds)."""
    red = coloured_clips[0][0]
    out = concat_clips([red] * 70, tmp_path / "many.mp4")
    streams = _streams(out)
    assert int(streams[0]["nb_read_packets"]) == 70 * 17
    assert streams[0]["avg_frame_rate"] == "30/1"
    v = streams[0]
    assert v["duration_ts"] * Fraction(v["time_base"]) == Fraction(70 * 17, 30)


def test_concat_rejects_clips_that_cannot_be_stream_copied(
    coloured_clips: list[tuple[Path, int]], sources: dict[str, Path], tmp_path: Path
) -> None:
    other = normalize_clip(
        sources["red"], tmp_path / "small.mp4", width=160, height=90, fps=FPS, n_frames=5
    )
    out = tmp_path / "out"
    with pytest.raises(MediaError, match="normalise"):
        concat_clips([coloured_clips[0][0], other], out / "x.mp4")
    with pytest.raises(MediaError, match="fps"):
        concat_clips([coloured_clips[0][0]], out / "y.mp4", fps=25)
    with pytest.raises(ValueError):
        concat_clips([], out / "z.mp4")
    assert not out.exists() or list(out.iterdir()) == []


def _moov_before_mdat(path: Path) -> bool:
    data = path.read_bytes()[:4096]
    return 0 <= data.find(b"moov") < data.find(b"mdat") or b"mdat" not in data


@pytest.mark.parametrize("aspect", [(1920, 1080), (1080, 1920)], ids=["16x9", "9x16"])
def test_compose_full_hd_keeps_audio_and_video_within_a_frame(
    sources: dict[str, Path], tmp_path: Path, aspect: tuple[int, int]
) -> None:
    width, height = aspect
    song = _lavfi(tmp_path / "song.wav", "sine=frequency=440:sample_rate=44100", 2.51, "-ac", "2")
    frames = round(2.51 * FPS)  # 75
    clips = [
        normalize_clip(sources["red"], tmp_path / "a.mp4", width=width, height=height, fps=FPS,
                       n_frames=40),
        normalize_clip(sources["blue"], tmp_path / "b.mp4", width=width, height=height, fps=FPS,
                       n_frames=frames - 40),
    ]  # fmt: skip
    lyrics = [Caption(1.4, 2.4, "second line"), Caption(0.2, 1.2, "first <line> & more")]
    seen: list[float] = []
    result = compose_video(
        clips, song, tmp_path / "mv.mp4", fps=FPS, captions=lyrics, poster=tmp_path / "p.jpg",
        webvtt=tmp_path / "lyrics.vtt", on_progress=seen.append,
    )  # fmt: skip
    assert (result.width, result.height, result.frames) == (width, height, frames)
    assert result.clip_starts == (0, 40)
    assert not result.audio_copied and result.subtitles
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen)

    sync = av_sync(result.path)
    assert sync["video_frames"] == frames
    assert abs(sync["offset_frames"]) <= 1.0
    assert abs(sync["audio_duration_s"] - 2.51) < 0.002
    assert sync["audio_start_s"] == 0.0 and sync["video_start_s"] == 0.0
    assert 0 <= sync["audio_padding_s"] < 1024 / 44100  # priming skipped, not played
    assert result.av_offset_frames == pytest.approx(sync["offset_frames"])

    streams = _streams(result.path)
    kinds = {s["codec_type"]: s for s in streams}
    assert kinds["video"]["codec_name"] == "h264" and kinds["audio"]["codec_name"] == "aac"
    assert int(kinds["audio"]["bit_rate"]) < 230_000
    assert kinds["subtitle"]["codec_name"] == "mov_text"
    assert kinds["subtitle"]["tags"]["language"] == "eng"
    assert _moov_before_mdat(result.path)
    track = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(result.path), "-map", "0:s:0", "-c", "copy",
         "-f", "data", "-"],
        capture_output=True, check=True,
    ).stdout.decode("utf-8", "replace")  # fmt: skip
    assert "first \u2039line\u203a & more" in track and "second line" in track

    with Image.open(tmp_path / "p.jpg") as img:
        assert img.format == "JPEG" and img.size == (width, height)
        r, _g, b = img.convert("RGB").resize((8, 8)).getpixel((4, 4))
        assert r > 200 and b < 60  # default poster time: middle of the red clip at 40 %
    vtt = (tmp_path / "lyrics.vtt").read_text()
    assert vtt.startswith("WEBVTT\n")
    assert "00:00:00.200 --> 00:00:01.200\nfirst &lt;line&gt; &amp; more" in vtt
    assert vtt.index("first") < vtt.index("second")
    assert _leftovers(tmp_path) == []


@pytest.fixture(scope="module")
def small_video(coloured_clips: list[tuple[Path, int]], tmp_path_factory: pytest.TempPathFactory):
    d = tmp_path_factory.mktemp("small-video")
    clips = [p for p, _ in coloured_clips]
    return concat_clips(clips, d / "v.mp4"), sum(n for _, n in coloured_clips)


def test_mux_copies_aac_lc_and_stays_in_sync(small_video: tuple[Path, int], tmp_path: Path) -> None:
    video, frames = small_video  # 90 frames: 3.0 s
    song = _lavfi(
        tmp_path / "song.m4a", "sine=frequency=300:sample_rate=48000", 3.01, "-c:a", "aac",
        "-b:a", "160k",
    )  # fmt: skip
    out = mux_song(video, song, tmp_path / "mv.mp4", metadata={"title": "Tide", "artist": "Us"})
    sync = av_sync(out)
    assert sync["video_frames"] == frames and abs(sync["offset_frames"]) <= 1.0

    def packets_md5(path: Path) -> str:
        return subprocess.run(
            ["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:a:0", "-c", "copy",
             "-f", "md5", "-"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip

    assert packets_md5(out) == packets_md5(song)  # copied, not re-encoded
    assert [s["codec_type"] for s in _streams(out)] == ["video", "audio"]  # no empty subtitles
    assert _moov_before_mdat(out)
    tags = json.loads(
        subprocess.run(
            ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", str(out)],
            capture_output=True, text=True, check=True,
        ).stdout
    )["format"]["tags"]  # fmt: skip
    assert (tags["title"], tags["artist"]) == ("Tide", "Us")


def test_mux_mp3_song_uses_its_decoded_length(
    small_video: tuple[Path, int], tmp_path: Path
) -> None:
    """An MP3's container length includes the encoder padding: 3.056 s for 3.01 s of
    sound here, 1.7 frames more than the video, though the song fits it."""
    video, frames = small_video  # 90 frames: 3.0 s
    song = _lavfi(
        tmp_path / "song.mp3", "sine=frequency=300:sample_rate=44100", 3.01, "-c:a", "libmp3lame"
    )
    out = mux_song(video, song, tmp_path / "mv.mp4")
    sync = av_sync(out)
    assert sync["video_frames"] == frames and sync["difference_frames"] <= 1.0
    assert sync["audio_duration_s"] == pytest.approx(3.01, abs=0.001)


def test_mux_rejects_a_song_of_another_length(
    small_video: tuple[Path, int], tmp_path: Path
) -> None:
    video, _ = small_video
    song = _lavfi(tmp_path / "long.wav", "sine=frequency=300", 3.2)
    out = tmp_path / "out"
    with pytest.raises(MediaError, match="frames"):
        mux_song(video, song, out / "mv.mp4")
    with pytest.raises(MediaError, match="no audio"):
        mux_song(video, video, out / "mv.mp4")
    with pytest.raises(ValueError):
        mux_song(video, song, out / "mv.mp4", subtitle_language="english")
    with pytest.raises(MediaError):
        compose_video(
            [video], song, out / "mv.mp4", fps=FPS, poster=out / "p.jpg", webvtt=out / "l.vtt"
        )
    assert not out.exists() or list(out.iterdir()) == []


def test_extract_poster_picks_the_frame_at_the_time(
    small_video: tuple[Path, int], tmp_path: Path
) -> None:
    video, _ = small_video
    expect = {0.3: (255, 0, 0), 0.9: (0, 0, 255), 2.8: (32, 192, 32), 99.0: (32, 192, 32)}
    for at, colour in expect.items():
        jpg = extract_poster(video, at, tmp_path / f"{at}.jpg", width=160)
        with Image.open(jpg) as img:
            assert img.size == (160, 90)
            got = img.convert("RGB").getpixel((80, 45))
        assert max(abs(a - b) for a, b in zip(got, colour, strict=True)) < 40, (at, got)
    with pytest.raises(ValueError):
        extract_poster(video, -1.0, tmp_path / "bad.jpg")
    assert _leftovers(tmp_path) == []


def test_write_webvtt_orders_and_escapes(tmp_path: Path) -> None:
    path = write_webvtt(
        [
            Caption(65.5, 70.25, "b --> c"),
            Caption(3661.0, 3662.0, "late"),
            Caption(1.0, 0.5, "backwards"),
            Caption(2.0, 3.0, "   "),
            Caption(-0.5, 1.0, "a\nline two"),
        ],
        tmp_path / "l.vtt",
    )
    assert path.read_text() == (
        "WEBVTT\n\n"
        "1\n00:00:00.000 --> 00:00:01.000\na\nline two\n\n"
        "2\n00:01:05.500 --> 00:01:10.250\nb --&gt; c\n\n"
        "3\n01:01:01.000 --> 01:01:02.000\nlate\n"
    )


def test_mp4_header_facts_match_ffprobe(sources: dict[str, Path], tmp_path: Path) -> None:
    """Clip facts read from the MP4 header (fast path) agree with ffprobe's."""
    from soundstage.media.video import compose

    ten_bit = _lavfi(
        tmp_path / "10bit.mp4", "testsrc2=size=96x64:rate=25", 0.4, "-pix_fmt", "yuv420p10le"
    )
    mkv = _lavfi(tmp_path / "clip.mkv", "testsrc2=size=96x64:rate=25", 0.4)
    for path in [*sources.values(), ten_bit]:
        fast = compose._mp4_h264_clip(path)
        assert fast is not None and fast == compose._probed_clip(path), path.name
    assert compose._mp4_h264_clip(mkv) is None
    assert compose._clip_facts(mkv).frames == 10


def test_cancelled_compose_leaves_nothing(
    coloured_clips: list[tuple[Path, int]], tmp_path: Path
) -> None:
    clips = [p for p, _ in coloured_clips]
    song = _lavfi(tmp_path / "song.wav", "sine=frequency=300", 3.0)
    out = tmp_path / "out"

    def cancel(fraction: float) -> None:
        if fraction > 0.05:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        compose_video(
            clips, song, out / "mv.mp4", fps=FPS, poster=out / "p.jpg", on_progress=cancel
        )
    assert list(out.iterdir()) == []
    done = compose_video(clips, song, out / "mv.mp4", fps=FPS)  # the same call completes
    assert done.frames == 90 and done.poster is None and list(out.iterdir()) == [done.path]
