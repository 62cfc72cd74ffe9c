"""Still image + audio → MP4 (H.264 + AAC) without encoding every frame.

A still picture only needs to be encoded once. We encode one group of
pictures (GOP) of ``segment_s`` seconds: an IDR keyframe followed by P-frames
forced to "skip" (x264 zone at QP 51, so they are ~70 bytes and decode to
exactly the keyframe — no keyframe "pulsing"). That segment is then repeated
by stream copy (``-stream_loop``) and cut at the exact frame count with an
input duration (``-t``); with no B-frames a cut between any two frames is
valid, so the tail needs no second encode and every repeat shares the same
SPS/PPS. Each repeat starts with a keyframe, so seeking works, and the
demuxer offsets each loop by the segment's exact duration, so timestamps
stay continuous. Cost: one short encode plus a remux, independent of the
track's length except for copying bytes.
"""

from __future__ import annotations

import math
import os
import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from PIL import Image, UnidentifiedImageError

from soundstage.media.video._ffmpeg import MediaError, ProgressFn, run_ffmpeg
from soundstage.media.video.probe import MediaInfo, probe

Fit = Literal["blur", "crop", "pad"]

# Rough seconds of work per unit, used only to split the progress bar.
_COST_ENCODE_AUDIO_PER_S = 0.02
_COST_COPY_AUDIO_PER_S = 0.0005
_COST_SEGMENT_PER_FRAME = 0.012
_COST_MUX_PER_S = 0.0015
_MP4_FAMILY = {"mov", "mp4", "m4a"}


def render_still_video(
    image: Path,
    audio: Path,
    out: Path,
    *,
    fps: int = 30,
    width: int = 1920,
    height: int = 1080,
    audio_bitrate_kbps: int = 256,
    segment_s: float = 10.0,
    crf: int = 20,
    on_progress: Callable[[float], None] | None = None,
    work_dir: Path | None = None,
    fit: Fit = "blur",
    preset: str = "medium",
) -> MediaInfo:
    """Render ``image`` held for the length of ``audio`` into an MP4 at ``out``.

    H.264 High (yuv420p, BT.709, constant ``fps``), AAC audio (copied when the
    source is already AAC, else encoded at ``audio_bitrate_kbps``), moov atom
    first. The video has exactly ``round(audio seconds × fps)`` frames. An
    image of another aspect ratio is fitted over a blurred fill of itself
    (``fit="blur"``), cropped (``"crop"``) or letterboxed (``"pad"``).
    ``segment_s`` is the keyframe interval. ``out`` appears only when complete.
    """
    image, audio, out = Path(image), Path(audio), Path(out)
    _validate(image, audio, fps, width, height, crf, segment_s, fit)
    img_size = _image_size(image)
    src = probe(audio)
    if src.audio is None:
        raise MediaError(f"{audio.name} has no audio stream")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="soundstage-video-", dir=work_dir) as tmp_name:
        tmp = Path(tmp_name)
        bar = _progress_bar(on_progress, src, segment_s, fps)
        track, duration = _prepare_audio(audio, src, tmp, audio_bitrate_kbps, bar.stage("audio"))
        frames = max(1, round(duration * fps))
        gop = frames if frames <= 2 else max(2, min(frames, round(segment_s * fps)))
        segment = tmp / "segment.mp4"
        graph = _graph(img_size, width, height, fit, gop, fps)
        _encode_segment(image, segment, graph, gop, fps, crf, preset, bar.stage("segment"))
        _mux_atomically(segment, track, out, frames, fps, bar.stage("mux"))
    info = probe(out)
    bar.done()
    return info


def _progress_bar(fn: ProgressFn | None, src: MediaInfo, segment_s: float, fps: int) -> _Progress:
    """Stages weighted by their rough cost for this input."""
    assert src.audio is not None
    seconds = src.audio.duration_s or src.duration_s
    audio_cost = _COST_COPY_AUDIO_PER_S if src.audio.codec == "aac" else _COST_ENCODE_AUDIO_PER_S
    gop = max(1, min(round(segment_s * fps), round(seconds * fps)))
    return _Progress(
        fn,
        audio=seconds * audio_cost,
        segment=0.3 + gop * _COST_SEGMENT_PER_FRAME,
        mux=0.3 + seconds * _COST_MUX_PER_S,
    )


def _validate(
    image: Path,
    audio: Path,
    fps: int,
    width: int,
    height: int,
    crf: int,
    segment_s: float,
    fit: str,
) -> None:
    for path in (image, audio):
        if not path.is_file():
            raise FileNotFoundError(f"no such file: {path}")
    if not 1 <= fps <= 120:
        raise ValueError("fps must be between 1 and 120")
    if width < 16 or height < 16 or width % 2 or height % 2:
        raise ValueError("width and height must be even and at least 16")
    if not 0 <= crf <= 51:
        raise ValueError("crf must be between 0 and 51")
    if not segment_s > 0 or not math.isfinite(segment_s):
        raise ValueError("segment_s must be a positive number of seconds")
    if fit not in ("blur", "crop", "pad"):
        raise ValueError("fit must be 'blur', 'crop' or 'pad'")


def _image_size(image: Path) -> tuple[int, int]:
    try:
        with Image.open(image) as img:
            return img.size
    except (UnidentifiedImageError, OSError) as exc:
        raise MediaError(f"{image.name} is not an image that can be read") from exc


def _prepare_audio(
    audio: Path, src: MediaInfo, tmp: Path, kbps: int, progress: ProgressFn | None
) -> tuple[Path, float]:
    """An MP4-contained AAC track and its exact duration: as is, remuxed, or encoded."""
    assert src.audio is not None
    in_mp4 = bool(_MP4_FAMILY & set(src.format_name.split(",")))
    if src.audio.codec == "aac" and in_mp4 and src.audio.duration_s:
        return audio, src.audio.duration_s
    track = tmp / "audio.m4a"
    args = ["-i", str(audio), "-map", "0:a:0", "-vn", "-sn", "-dn"]
    if src.audio.codec == "aac":
        args += ["-c:a", "copy"]
    else:
        args += ["-c:a", "aac", "-b:a", f"{int(kbps)}k"]
        if src.audio.sample_rate not in (44100, 48000):
            args += ["-ar", "48000"]
        if src.audio.channels > 2:
            args += ["-ac", "2"]
    run_ffmpeg([*args, "-f", "mp4", str(track)], duration_s=src.duration_s, on_progress=progress)
    info = probe(track)
    duration = (info.audio.duration_s if info.audio else None) or info.duration_s
    if not duration or duration <= 0:
        raise MediaError(f"{audio.name} has no measurable audio duration")
    return track, duration


def _graph(img_size: tuple[int, int], width: int, height: int, fit: Fit, gop: int, fps: int) -> str:
    """Filtergraph: fit the picture once, convert to BT.709 yuv420p, repeat it ``gop`` times."""
    iw, ih = img_size
    scale = f"scale={width}:{height}:flags=lanczos"
    if abs(iw / ih - width / height) < 0.01 * width / height:
        fitted = f"[0:v]{scale}"
    elif fit == "crop":
        fitted = f"[0:v]{scale}:force_original_aspect_ratio=increase,crop={width}:{height}"
    elif fit == "pad":
        fitted = (
            f"[0:v]{scale}:force_original_aspect_ratio=decrease,"
            f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2:color=black"
        )
    else:
        sw, sh = max(2, width // 16 * 2 // 2), max(2, height // 16 * 2 // 2)
        fitted = (
            f"[0:v]format=gbrp,split[a][b];"
            f"[a]{scale}:force_original_aspect_ratio=increase,crop={width}:{height},"
            f"scale={sw}:{sh}:flags=area,gblur=sigma=7,scale={width}:{height}:flags=bicubic,"
            f"colorchannelmixer=rr=0.7:gg=0.7:bb=0.7,noise=alls=3[bg];"
            f"[b]{scale}:force_original_aspect_ratio=decrease[fg];"
            f"[bg][fg]overlay=(W-w)/2:(H-h)/2"
        )
    return (
        f"{fitted},scale=out_color_matrix=bt709:out_range=tv:flags=lanczos+accurate_rnd,"
        f"format=yuv420p,loop=loop={gop - 1}:size=1:start=0,setpts=N/({fps}*TB)[v]"
    )


def _encode_segment(
    image: Path,
    segment: Path,
    graph: str,
    gop: int,
    fps: int,
    crf: int,
    preset: str,
    progress: ProgressFn | None,
) -> None:
    """Encode one GOP: an IDR keyframe, then P-frames that repeat it for almost no bytes."""
    # No lookahead/mb-tree: the keyframe's quality then follows crf alone (same SSIM per
    # byte here) and the encode needs a third of the memory.
    x264 = ["ref=1", "rc-lookahead=0", "mbtree=0"]
    if gop > 1:
        x264.append(f"zones=1,{gop - 1},q=51,subme=0,me=dia,trellis=0,merange=4")
    # fmt: off
    args = [
        "-i", str(image), "-filter_complex", graph, "-map", "[v]", "-frames:v", str(gop),
        "-c:v", "libx264", "-preset", preset, "-tune", "stillimage", "-profile:v", "high",
        "-crf", str(crf), "-g", str(gop), "-keyint_min", str(gop), "-bf", "0",
        "-sc_threshold", "0", "-x264-params", ":".join(x264), "-r", str(fps),
        "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709",
        "-color_range", "tv", "-an", "-f", "mp4", str(segment),
    ]
    # fmt: on
    run_ffmpeg(args, duration_s=gop / fps, on_progress=progress)


def _mux_atomically(
    segment: Path, track: Path, out: Path, frames: int, fps: int, progress: ProgressFn | None
) -> None:
    """Loop the segment to ``frames`` frames beside the audio; publish by rename."""
    part = out.with_name(f".{out.name}.{secrets.token_hex(4)}.part")
    cut = (frames - 0.5) / fps  # keeps frames whose start time is below it: exactly `frames`
    # fmt: off
    args = [
        "-stream_loop", "-1", "-t", f"{cut:.6f}", "-i", str(segment), "-i", str(track),
        "-map", "0:v:0", "-map", "1:a:0", "-c", "copy", "-map_metadata", "1",
        "-movflags", "+faststart", "-f", "mp4", str(part),
    ]
    # fmt: on
    try:
        run_ffmpeg(args, duration_s=frames / fps, on_progress=progress)
        os.replace(part, out)
    except BaseException:
        part.unlink(missing_ok=True)
        raise


class _Progress:
    """Splits one 0..1 progress bar across stages weighted by their expected cost."""

    def __init__(self, fn: ProgressFn | None, **costs: float) -> None:
        self._fn = fn
        total = sum(costs.values()) or 1.0
        self._spans: dict[str, tuple[float, float]] = {}
        start = 0.0
        for name, cost in costs.items():
            self._spans[name] = (start, cost / total)
            start += cost / total
        self._last = 0.0

    def stage(self, name: str) -> ProgressFn | None:
        if self._fn is None:
            return None
        start, span = self._spans[name]
        self._report(start)
        return lambda f: self._report(min(start + span * f, 0.999))

    def _report(self, value: float) -> None:
        value = min(1.0, max(self._last, value))
        if self._fn is not None and value > self._last:
            self._last = value
            self._fn(value)

    def done(self) -> None:
        if self._fn is not None:
            self._last = min(self._last, 0.999999)
            self._report(1.0)
