"""Music-video assembly: conform clips, join them by stream copy, lay the song under them.

The pipeline has three steps, each a pure function of files and explicit parameters:

1. `normalize_clip` re-encodes any clip (a provider's MP4 of whatever size, frame rate,
   length, pixel format, with or without audio) to the shared clip encoding of
   `clip_format.clip_video_args`: the target size by *cover* scaling and a centred crop
   (never letterboxed), the target frame rate, yuv420p, no audio, and exactly
   ``n_frames`` frames. A longer clip is cut. A shorter one is extended by a
   **ping-pong**: after its last frame it plays its own tail backwards, so motion
   turns around instead of freezing or jumping back (a loop would add a hard cut that
   is not on a beat). Reversing needs the reversed frames in memory, so the bounce is
   limited to `PINGPONG_BUDGET_BYTES` of frames (86 frames, ~2.9 s at 1080p30) and to
   one bounce; whatever is still missing holds the final frame. ``extend="hold"``
   only holds the last frame. Optionally lyric captions are burnt in (an ASS file
   drawn with the ``subtitles`` filter) and the first frames get a *bright flash-in*:
   clips start on beats, so a flash that decays over ~0.15 s marks the beat. The
   flash blends the picture towards white (contrast, brightness and saturation set
   together by ``eq``) instead of replacing it with white, so the cut stays visible on
   its first frame and cut detection still places it there.
2. `concat_clips` joins clips that share that encoding with the concat demuxer and
   stream copy: no decoding, so it costs only copying bytes, and every cut lands on
   the first frame (a keyframe) of the next clip. Each file's duration is given to the
   demuxer in whole microseconds rounded *cumulatively* (the start of clip k is the
   exact sum of the earlier frame counts / fps, rounded once), so timestamps never
   drift off the frame grid however many clips there are. The packet count of the
   result is checked against the sum of the inputs.
3. `mux_song` puts the original song under the video (video stream copy; audio copied
   when it already is AAC-LC in an MP4-family file, else AAC at 192 kb/s), moov atom
   first (``+faststart``), with an optional soft subtitle track (mov_text) of lyric
   lines. The video must have ``round(song seconds × fps)`` frames (±1 frame of
   duration is accepted; the song's seconds are decoded samples unless its AAC is
   copied, since an MP3's container length includes the encoder padding), and the
   result is checked: the video and audio durations —
   the audio counted by decoding, after the encoder priming that the MP4 edit list
   hides — differ by at most one frame.

`compose_video` does 2 and 3 in a single ffmpeg run (the concat demuxer is the video
input of the mux, so the video bytes are written once), then a poster JPEG and a
WebVTT file for the web player if asked. Every output is written to a hidden
temporary file beside its destination and renamed into place only once complete and
checked; on failure or cancellation nothing is left behind.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

from soundstage.media.video._ffmpeg import (
    MediaError,
    ProgressFn,
    finite_number,
    frame_rate,
    run_ffmpeg,
    run_probe,
)
from soundstage.media.video.clip_format import PIX_FMT, clip_video_args
from soundstage.media.video.measure import av_sync, decoded_seconds
from soundstage.media.visuals.spec import Caption

Extend = Literal["pingpong", "hold"]

PINGPONG_BUDGET_BYTES = 256 * 1024 * 1024  # frames held by the reverse filter, at the target size
FLASH_S = 0.15  # length of the flash-in
FLASH_STRENGTH = 0.75  # how far the first frame is blended towards white (0..1)
AUDIO_BITRATE_KBPS = 192
_MP4_FAMILY = {"mov", "mp4", "m4a", "3gp", "3g2", "mj2"}
_AV_TOLERANCE_FRAMES = 1.0
_EPS = 1e-6


@dataclass(frozen=True)
class ComposeResult:
    """What `compose_video` wrote and what it measured on the result."""

    path: Path
    width: int
    height: int
    fps: int
    frames: int  # video frames in the result
    duration_s: float  # frames / fps
    audio_duration_s: float  # decoded audio, after priming is skipped
    av_offset_frames: float  # audio minus video duration, in frames (|x| <= 1)
    audio_copied: bool  # the song's AAC was copied, not re-encoded
    clip_starts: tuple[int, ...]  # first frame of each clip: where the cuts are
    subtitles: bool  # a soft subtitle track was added
    poster: Path | None
    webvtt: Path | None
    size_bytes: int


# ----------------------------------------------------------------------------- normalize


def normalize_clip(
    src: Path,
    dst: Path,
    *,
    width: int,
    height: int,
    fps: int,
    n_frames: int,
    captions_ass: Path | None = None,
    flash_in: bool = True,
    extend: Extend = "pingpong",
    on_progress: ProgressFn | None = None,
) -> Path:
    """Re-encode ``src`` (any video) into a clip of the shared encoding at ``dst``.

    ``width`` x ``height`` by cover scaling and a centred crop, ``fps`` constant,
    yuv420p, no audio, exactly ``n_frames`` frames (cut, or extended as ``extend``
    says: "pingpong" plays the tail backwards then holds, "hold" holds the last
    frame). ``captions_ass`` (an ASS file made for this size) is burnt in;
    ``flash_in`` brightens the first ~0.15 s. Returns ``dst``; MediaError if ffmpeg
    cannot read ``src`` or it has no video.
    """
    src, dst = Path(src), Path(dst)
    _check_size(width, height)
    if not 1 <= fps <= 120:
        raise ValueError("fps must be between 1 and 120")
    if n_frames < 1:
        raise ValueError("n_frames must be at least 1")
    if extend not in ("pingpong", "hold"):
        raise ValueError("extend must be 'pingpong' or 'hold'")
    if not src.is_file():
        raise FileNotFoundError(f"no such clip: {src}")
    sub_filter = None
    if captions_ass is not None:
        captions_ass = Path(captions_ass)
        if not captions_ass.is_file():
            raise FileNotFoundError(f"no such caption file: {captions_ass}")
        sub_filter = _subtitles_filter(captions_ass)
    facts = _source_facts(src)
    graph = _normalize_graph(
        facts, width, height, fps, n_frames, extend=extend, subtitles=sub_filter, flash=flash_in
    )
    # fmt: off
    args = [
        "-i", str(src), "-filter_complex", graph, "-map", "[v]", "-frames:v", str(n_frames),
        "-sn", "-dn", "-map_metadata", "-1", *clip_video_args(fps),
    ]
    # fmt: on
    with _atomic(dst) as part:
        run_ffmpeg(
            [*args, "-f", "mp4", str(part)], duration_s=n_frames / fps, on_progress=on_progress
        )
        got = _count_video_packets(part)
        if got != n_frames:
            raise MediaError(f"normalised {src.name} has {got} frames, expected {n_frames}")
    return dst


@dataclass(frozen=True)
class _SourceFacts:
    width: int
    height: int
    fps: float
    duration_s: float


def _source_facts(src: Path) -> _SourceFacts:
    data = _probe_json(
        src,
        "-show_entries",
        "stream=codec_type,width,height,avg_frame_rate,r_frame_rate,duration,nb_frames:"
        "stream_disposition=attached_pic:format=duration",
    )
    streams = [
        s
        for s in data.get("streams", [])
        if s.get("codec_type") == "video" and not (s.get("disposition") or {}).get("attached_pic")
    ]
    if not streams:
        raise MediaError(f"{src.name} has no video stream")
    s = streams[0]
    width, height = int(s.get("width") or 0), int(s.get("height") or 0)
    if width <= 0 or height <= 0:
        raise MediaError(f"{src.name} has a video stream without a picture size")
    fps = frame_rate(s.get("avg_frame_rate")) or frame_rate(s.get("r_frame_rate")) or Fraction(30)
    duration = finite_number(s.get("duration")) or finite_number(
        (data.get("format") or {}).get("duration")
    )
    if not duration:
        frames = finite_number(s.get("nb_frames"))
        duration = frames / float(fps) if frames else 0.0
    return _SourceFacts(width, height, float(fps), float(duration))


def _normalize_graph(
    facts: _SourceFacts,
    width: int,
    height: int,
    fps: int,
    n_frames: int,
    *,
    extend: Extend,
    subtitles: str | None,
    flash: bool,
) -> str:
    """Filtergraph from input 0 to ``[v]``; see the module docstring for the choices."""
    fit = (
        f"scale={width}:{height}:force_original_aspect_ratio=increase:flags=bicubic,"
        f"crop={width}:{height},setsar=1"
    )
    rate = f"fps={fps}"
    # Convert the rate first when it drops frames, last when it duplicates them:
    # the scaler then handles the fewer frames.
    steps = [rate, fit] if facts.fps > fps else [fit, rate]
    chain = f"[0:v]setpts=PTS-STARTPTS,{','.join(steps)},format={PIX_FMT}"
    have = round(facts.duration_s * fps)
    short = n_frames - have
    if extend == "pingpong" and short > 0 and have >= 3:
        budget = max(2, int(PINGPONG_BUDGET_BYTES // (width * height * 3 // 2)))
        # The reversed tail starts with the last frame again; the frame before it is
        # the first new one, so `short + 1` frames fill `short` (the repeat reads as
        # the turning point of the motion).
        tail = min(short + 1, have, budget)
        chain += (
            f",split[fw][bw];[bw]trim=start_frame={have - tail},setpts=PTS-STARTPTS,"
            f"reverse[rv];[fw][rv]concat=n=2:v=1:a=0"
        )
    chain += ",tpad=stop=-1:stop_mode=clone"  # hold the last frame for whatever is missing
    if subtitles:
        chain += f",{subtitles}"
    if flash:
        k = max(2, round(FLASH_S * fps))
        a = f"{FLASH_STRENGTH}*max(0\\,1-n/{k})"
        chain += (
            f",eq=eval=frame:contrast='1-{a}':brightness='{a}/2':saturation='1-{a}'"
            f":enable='lt(n\\,{k})'"
        )
    return chain + "[v]"


def _subtitles_filter(ass: Path) -> str:
    try:
        from soundstage.media.video.captions import subtitles_filter
    except ImportError as exc:  # pragma: no cover - the captions module ships with this one
        raise MediaError("burning captions needs soundstage.media.video.captions") from exc
    return subtitles_filter(ass)


# ----------------------------------------------------------------------------- concat


@dataclass(frozen=True)
class _Clip:
    path: Path
    codec: str
    profile: str
    width: int
    height: int
    pix_fmt: str
    fps: Fraction
    frames: int


def concat_clips(
    clips: Sequence[Path],
    dst: Path,
    *,
    fps: int | None = None,
    on_progress: ProgressFn | None = None,
) -> Path:
    """Join ``clips`` (all in the shared clip encoding) into ``dst`` by stream copy.

    The result has exactly the sum of the clips' frame counts, and clip k starts on
    frame ``sum(frames of clips before k)``. It is an intermediate: the moov atom stays
    at the end (`mux_song` moves it first), which saves rewriting the whole file. MediaError if the clips differ in codec,
    size, pixel format or frame rate (or from ``fps`` when given).
    """
    dst = Path(dst)
    facts = _check_clips(clips, fps)
    total = sum(c.frames for c in facts)
    rate = facts[0].fps
    with tempfile.TemporaryDirectory(prefix="soundstage-concat-") as tmp, _atomic(dst) as part:
        listing = _write_concat_list(facts, Path(tmp) / "clips.ffconcat")
        # fmt: off
        args = [
            *_concat_input(listing), "-map", "0:v:0", "-c", "copy", "-an", "-sn", "-dn",
            "-map_metadata", "-1", *_timescale(rate), "-f", "mp4", str(part),
        ]
        # fmt: on
        run_ffmpeg(args, duration_s=float(total / rate), on_progress=on_progress)
        got = _count_video_packets(part)
        if got != total:
            raise MediaError(f"concatenation has {got} frames, the clips have {total}")
    return dst


def _check_clips(clips: Sequence[Path], fps: int | None) -> list[_Clip]:
    paths = [Path(p) for p in clips]
    if not paths:
        raise ValueError("no clips to join")
    for p in paths:
        if not p.is_file():
            raise FileNotFoundError(f"no such clip: {p}")
    with ThreadPoolExecutor(max_workers=min(4, len(paths))) as pool:
        facts = list(pool.map(_clip_facts, paths))
    first = facts[0]
    if fps is not None and first.fps != fps:
        raise MediaError(f"{first.path.name} runs at {float(first.fps):g} fps, not {fps}")
    key = (first.codec, first.profile, first.width, first.height, first.pix_fmt, first.fps)
    for c in facts[1:]:
        other = (c.codec, c.profile, c.width, c.height, c.pix_fmt, c.fps)
        if other != key:
            raise MediaError(
                f"{c.path.name} ({_describe(other)}) cannot be joined by stream copy to "
                f"{first.path.name} ({_describe(key)}); normalise it first"
            )
    return facts


def _describe(key: tuple[Any, ...]) -> str:
    codec, profile, w, h, pix, fps = key
    return f"{codec} {profile} {w}x{h} {pix} {float(fps):g} fps"


def _clip_facts(path: Path) -> _Clip:
    """Codec, size, pixel format, rate and frame count: from the MP4 header when it is
    an H.264 MP4 (microseconds of Python; ffprobe costs ~75 ms of CPU per clip, which
    was most of the time of joining 36 clips), else from ffprobe."""
    try:
        clip = _mp4_h264_clip(path)
    except (OSError, ValueError, IndexError):
        clip = None
    return clip if clip is not None else _probed_clip(path)


def _probed_clip(path: Path) -> _Clip:
    data = _probe_json(
        path,
        "-select_streams",
        "v:0",
        "-show_entries",
        "stream=codec_name,profile,width,height,pix_fmt,r_frame_rate,avg_frame_rate,nb_frames",
    )
    streams = data.get("streams") or []
    if not streams:
        raise MediaError(f"{path.name} has no video stream")
    s = streams[0]
    fps = frame_rate(s.get("r_frame_rate")) or frame_rate(s.get("avg_frame_rate"))
    if fps is None:
        raise MediaError(f"{path.name} has no frame rate")
    frames = finite_number(s.get("nb_frames"))
    count = int(frames) if frames else _count_video_packets(path)
    if count < 1:
        raise MediaError(f"{path.name} has no video frames")
    return _Clip(
        path=path,
        codec=str(s.get("codec_name", "")),
        profile=str(s.get("profile", "")),
        width=int(s.get("width") or 0),
        height=int(s.get("height") or 0),
        pix_fmt=str(s.get("pix_fmt", "")),
        fps=fps,
        frames=count,
    )


_H264_PROFILES = {66: "Baseline", 77: "Main", 88: "Extended", 100: "High", 110: "High 10",
                  122: "High 4:2:2", 244: "High 4:4:4 Predictive"}  # fmt: skip
_PIX_FMTS = {0: "gray", 1: "yuv420p", 2: "yuv422p", 3: "yuv444p"}


def _mp4_h264_clip(path: Path) -> _Clip | None:
    """The first video track of an MP4/MOV if it is H.264 with a constant frame
    duration, read from the moov box; None for anything else."""
    moov = _top_level_box(path, b"moov")
    if moov is None:
        return None
    for trak in _children(moov, b"trak"):
        mdia = _child(trak, b"mdia")
        hdlr = _child(mdia, b"hdlr") if mdia else None
        if mdia is None or hdlr is None or hdlr[8:12] != b"vide":
            continue
        mdhd = _child(mdia, b"mdhd")
        stbl = _child(_child(mdia, b"minf") or b"", b"stbl")
        if mdhd is None or stbl is None:
            return None
        timescale = int.from_bytes(mdhd[20:24] if mdhd[0] == 1 else mdhd[12:16], "big")
        stsd, stts, stsz = (_child(stbl, k) for k in (b"stsd", b"stts", b"stsz"))
        if stsd is None or stts is None or stsz is None or stsd[12:16] not in (b"avc1", b"avc3"):
            return None
        entry = stsd[8 : 8 + int.from_bytes(stsd[8:12], "big")]
        width, height = int.from_bytes(entry[32:34], "big"), int.from_bytes(entry[34:36], "big")
        avcc = _child(entry[86:], b"avcC")
        n_deltas = int.from_bytes(stts[4:8], "big")
        deltas: dict[int, int] = {}
        for i in range(n_deltas):
            at = 8 + 8 * i
            delta = int.from_bytes(stts[at + 4 : at + 8], "big")
            deltas[delta] = deltas.get(delta, 0) + int.from_bytes(stts[at : at + 4], "big")
        frames = int.from_bytes(stsz[8:12], "big")
        if avcc is None or not deltas or not timescale or frames < 1:
            return None
        delta = max(deltas, key=lambda d: deltas[d])
        if len(deltas) > 2 or (len(deltas) == 2 and min(deltas.values()) > 1):
            return None  # variable frame rate (a different last duration is fine)
        profile, chroma, depth = _sps_format(avcc)
        return _Clip(
            path=path,
            codec="h264",
            profile=profile,
            width=width,
            height=height,
            pix_fmt=_PIX_FMTS.get(chroma, "?") + ("" if depth == 8 else f"{depth}le"),
            fps=Fraction(timescale, delta),
            frames=frames,
        )
    return None


def _top_level_box(path: Path, kind: bytes) -> bytes | None:
    with path.open("rb") as fh:
        end = fh.seek(0, os.SEEK_END)
        pos = 0
        while pos + 8 <= end:
            fh.seek(pos)
            head = fh.read(16)
            size, typ = int.from_bytes(head[:4], "big"), head[4:8]
            header = 8
            if size == 1:
                size, header = int.from_bytes(head[8:16], "big"), 16
            elif size == 0:
                size = end - pos
            if size < header:
                return None
            if typ == kind:
                fh.seek(pos + header)
                return fh.read(size - header) if size < 64 << 20 else None
            pos += size
    return None


def _children(body: bytes, kind: bytes) -> Iterator[bytes]:
    pos = 0
    while pos + 8 <= len(body):
        size, typ = int.from_bytes(body[pos : pos + 4], "big"), body[pos + 4 : pos + 8]
        if size < 8:
            return
        if typ == kind:
            yield body[pos + 8 : pos + size]
        pos += size


def _child(body: bytes, kind: bytes) -> bytes | None:
    return next(_children(body, kind), None)


def _sps_format(avcc: bytes) -> tuple[str, int, int]:
    """Profile name, chroma_format_idc and bit depth from the first SPS of an avcC."""
    if avcc[5] & 31 < 1:
        raise ValueError("avcC without an SPS")
    sps = avcc[8 : 8 + int.from_bytes(avcc[6:8], "big")]
    rbsp = sps[1:].replace(b"\x00\x00\x03", b"\x00\x00")
    profile_idc, constraints = rbsp[0], rbsp[1]
    bits = _Bits(rbsp[3:])
    bits.ue()  # seq_parameter_set_id
    chroma, depth = 1, 8
    if profile_idc in (100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135):
        chroma = bits.ue()
        if chroma == 3:
            bits.bit()  # separate_colour_plane_flag
        depth = 8 + bits.ue()
    name = _H264_PROFILES.get(profile_idc, str(profile_idc))
    if profile_idc == 66 and constraints & 0x40:
        name = "Constrained Baseline"
    return name, chroma, depth


class _Bits:
    """Exp-Golomb reader over an RBSP."""

    def __init__(self, data: bytes) -> None:
        self._data, self._pos = data, 0

    def bit(self) -> int:
        byte = self._data[self._pos >> 3]
        value = (byte >> (7 - (self._pos & 7))) & 1
        self._pos += 1
        return value

    def ue(self) -> int:
        zeros = 0
        while self.bit() == 0:
            zeros += 1
            if zeros > 31:
                raise ValueError("bad Exp-Golomb code")
        value = 0
        for _ in range(zeros):
            value = (value << 1) | self.bit()
        return (1 << zeros) - 1 + value


def _write_concat_list(clips: Sequence[_Clip], listing: Path) -> Path:
    """An ffconcat file whose durations add up exactly on the frame grid (see module doc)."""
    lines = ["ffconcat version 1.0"]
    done = 0
    prev_us = 0
    for c in clips:
        done += c.frames
        end_us = round(Fraction(done) / c.fps * 1_000_000)
        quoted = str(c.path.resolve()).replace("'", "'\\''")
        lines += [f"file '{quoted}'", f"duration {(end_us - prev_us) / 1e6:.6f}"]
        prev_us = end_us
    listing.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return listing


def _concat_input(listing: Path) -> list[str]:
    return ["-f", "concat", "-safe", "0", "-i", str(listing)]


def _timescale(fps: Fraction) -> list[str]:
    if fps.denominator == 1:
        return ["-video_track_timescale", str(fps.numerator * 1000)]
    return []


# ----------------------------------------------------------------------------- mux


def mux_song(
    video: Path,
    song_audio: Path,
    dst: Path,
    *,
    captions: Sequence[Caption] | None = None,
    subtitle_language: str = "eng",
    audio_bitrate_kbps: int = AUDIO_BITRATE_KBPS,
    metadata: Mapping[str, str] | None = None,
    on_progress: ProgressFn | None = None,
) -> Path:
    """Put ``song_audio`` under ``video`` (stream copy) as an MP4 at ``dst``.

    ``video`` must last the song to within a frame (``round(song s × fps)`` frames).
    ``captions`` (song-relative times) become a soft mov_text subtitle track tagged
    ``subtitle_language`` (ISO 639-2); ``metadata`` (title, artist...) become MP4
    tags. Returns ``dst``; MediaError if the lengths
    disagree or the result's audio and video differ by more than a frame.
    """
    video, dst = Path(video), Path(dst)
    if not video.is_file():
        raise FileNotFoundError(f"no such video: {video}")
    clip = _clip_facts(video)
    _mux(
        ["-i", str(video)],
        clip.frames,
        clip.fps,
        Path(song_audio),
        dst,
        captions=captions,
        language=subtitle_language,
        kbps=audio_bitrate_kbps,
        metadata=metadata,
        on_progress=on_progress,
    )
    return dst


@dataclass(frozen=True)
class _MuxOutcome:
    audio_copied: bool
    subtitles: bool
    sync: dict[str, Any]


def _mux(
    video_input: list[str],
    frames: int,
    fps: Fraction,
    song: Path,
    dst: Path,
    *,
    captions: Sequence[Caption] | None,
    language: str,
    kbps: int,
    metadata: Mapping[str, str] | None,
    on_progress: ProgressFn | None,
) -> _MuxOutcome:
    if not song.is_file():
        raise FileNotFoundError(f"no such song: {song}")
    if not (len(language) == 3 and language.isascii() and language.isalpha()):
        raise ValueError("subtitle_language must be an ISO 639-2 code such as 'eng'")
    audio = _audio_facts(song)
    copy = audio.codec == "aac" and audio.profile == "LC" and audio.in_mp4
    # An MP4's AAC duration comes from its edit list and is exact; other containers
    # count what they hold (MP3: the encoder delay and padding too, ~50 ms), so the
    # song is decoded and its samples counted: the length the workflow planned on.
    seconds = audio.duration_s if copy else decoded_seconds(song, audio.sample_rate)
    song_frames = seconds * fps
    if abs(song_frames - frames) > _AV_TOLERANCE_FRAMES + _EPS:
        raise MediaError(
            f"the video has {frames} frames but the song needs {round(song_frames)} "
            f"({seconds:.3f} s at {float(fps):g} fps)"
        )
    if copy:
        audio_args = ["-c:a", "copy"]
    else:
        audio_args = ["-c:a", "aac", "-b:a", f"{int(kbps)}k"]
        if audio.sample_rate not in (44100, 48000):
            audio_args += ["-ar", "48000"]
        if audio.channels > 2:
            audio_args += ["-ac", "2"]
    lines = [c for c in (captions or ()) if c.text.strip() and c.end > c.start]
    tags = [a for k, v in (metadata or {}).items() for a in ("-metadata", f"{k}={v}")]
    with tempfile.TemporaryDirectory(prefix="soundstage-mux-") as tmp, _atomic(dst) as part:
        inputs = [*video_input, "-i", str(song)]
        maps = ["-map", "0:v:0", "-map", "1:a:0"]
        subs: list[str] = []
        if lines:
            srt = Path(tmp) / "lyrics.srt"
            srt.write_text(_srt(lines), encoding="utf-8")
            inputs += ["-f", "srt", "-i", str(srt)]
            maps += ["-map", "2:s:0"]
            subs = [
                "-c:s", "mov_text", "-metadata:s:s:0", f"language={language.lower()}",
                "-metadata:s:s:0", "handler_name=Lyrics",
            ]  # fmt: skip
        # fmt: off
        args = [
            *inputs, *maps, "-c:v", "copy", *audio_args, *subs,
            "-metadata:s:a:0", "handler_name=Song", "-map_metadata", "-1", *tags,
            *_timescale(fps), "-movflags", "+faststart", "-f", "mp4", str(part),
        ]
        # fmt: on
        run_ffmpeg(args, duration_s=float(frames / fps), on_progress=on_progress)
        sync = av_sync(part)
        if sync["video_frames"] != frames:
            raise MediaError(f"the result has {sync['video_frames']} frames, expected {frames}")
        if abs(sync["offset_frames"]) > _AV_TOLERANCE_FRAMES + _EPS:
            raise MediaError(
                f"audio and video differ by {sync['offset_frames']:.2f} frames in the result"
            )
    return _MuxOutcome(audio_copied=copy, subtitles=bool(lines), sync=sync)


@dataclass(frozen=True)
class _AudioFacts:
    codec: str
    profile: str
    sample_rate: int
    channels: int
    duration_s: float
    in_mp4: bool


def _audio_facts(song: Path) -> _AudioFacts:
    data = _probe_json(
        song,
        "-select_streams",
        "a:0",
        "-show_entries",
        "stream=codec_name,profile,sample_rate,channels,duration:format=duration,format_name",
    )
    streams = data.get("streams") or []
    if not streams:
        raise MediaError(f"{song.name} has no audio stream")
    s, fmt = streams[0], data.get("format") or {}
    duration = finite_number(s.get("duration")) or finite_number(fmt.get("duration"))
    if not duration or duration <= 0:
        raise MediaError(f"{song.name} has no measurable duration")
    return _AudioFacts(
        codec=str(s.get("codec_name", "")),
        profile=str(s.get("profile", "")),
        sample_rate=int(finite_number(s.get("sample_rate")) or 0),
        channels=int(finite_number(s.get("channels")) or 0),
        duration_s=float(duration),
        in_mp4=bool(_MP4_FAMILY & set(str(fmt.get("format_name", "")).split(","))),
    )


def write_webvtt(captions: Sequence[Caption], path: Path) -> Path:
    """Write ``captions`` (seconds from the start of the video) as a WebVTT file."""
    path = Path(path)
    cues = ["WEBVTT", ""]
    for i, c in enumerate(_ordered(captions), 1):
        cues += [str(i), f"{_ts(c.start, '.')} --> {_ts(c.end, '.')}", _cue_text(c.text), ""]
    with _atomic(path) as part:
        part.write_text("\n".join(cues), encoding="utf-8")
    return path


def _srt(captions: Sequence[Caption]) -> str:
    """SubRip text for ffmpeg's SRT reader, which reads ``<...>`` as markup (and drops
    unknown tags), does not decode ``&lt;`` and reads ``\\N`` as a line break: angle
    brackets become ‹ › and a backslash is followed by a word joiner, so text stays
    literal."""
    out: list[str] = []
    for i, c in enumerate(_ordered(captions), 1):
        lines = [ln.strip() for ln in c.text.strip().splitlines() if ln.strip()]
        text = "\n".join(lines).replace("<", "\u2039").replace(">", "\u203a")
        text = text.replace("\\", "\\\u2060")
        out += [str(i), f"{_ts(c.start, ',')} --> {_ts(c.end, ',')}", text, ""]
    return "\n".join(out)


def _ordered(captions: Sequence[Caption]) -> list[Caption]:
    kept = [
        Caption(max(0.0, c.start), c.end, c.text)
        for c in captions
        if c.text.strip() and c.end > max(0.0, c.start)
    ]
    return sorted(kept, key=lambda c: (c.start, c.end))


def _cue_text(text: str) -> str:
    """WebVTT cue text: no blank lines (they end a cue), markup characters escaped."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return "\n".join(lines).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _ts(seconds: float, sep: str) -> str:
    ms = max(0, round(seconds * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


# ----------------------------------------------------------------------------- poster


def extract_poster(
    video: Path, at_s: float, dst: Path, *, width: int | None = None, quality: int = 3
) -> Path:
    """Write the frame shown at ``at_s`` seconds as a JPEG (scaled to ``width`` if given)."""
    video, dst = Path(video), Path(dst)
    if not video.is_file():
        raise FileNotFoundError(f"no such video: {video}")
    if width is not None and (width < 16 or width % 2):
        raise ValueError("width must be even and at least 16")
    if not math.isfinite(at_s) or at_s < 0:
        raise ValueError("at_s must be a time in seconds >= 0")
    clip = _clip_facts(video)
    last = (clip.frames - 1) / clip.fps
    at = min(Fraction(at_s).limit_denominator(1_000_000), last)
    vf = ["-vf", f"scale={width}:-2:flags=lanczos"] if width else []
    # fmt: off
    args = [
        "-ss", f"{float(at):.6f}", "-i", str(video), "-map", "0:v:0", "-frames:v", "1", *vf,
        "-c:v", "mjpeg", "-q:v", str(int(quality)), "-f", "image2", "-update", "1",
    ]
    # fmt: on
    with _atomic(dst) as part:
        run_ffmpeg([*args, str(part)])
        if not part.is_file() or part.stat().st_size == 0:
            raise MediaError(f"no frame at {at_s:.3f} s in {video.name}")
    return dst


# ----------------------------------------------------------------------------- compose


def compose_video(
    clips: Sequence[Path],
    song_audio: Path,
    dst: Path,
    *,
    fps: int,
    captions: Sequence[Caption] | None = None,
    poster: Path | None = None,
    poster_at_s: float | None = None,
    poster_width: int | None = None,
    webvtt: Path | None = None,
    subtitle_language: str = "eng",
    audio_bitrate_kbps: int = AUDIO_BITRATE_KBPS,
    metadata: Mapping[str, str] | None = None,
    on_progress: Callable[[float], None] | None = None,
) -> ComposeResult:
    """Join ``clips`` and lay ``song_audio`` under them in one pass; see the module doc.

    ``captions`` (song-relative) become a soft subtitle track and, with ``webvtt``,
    a WebVTT file. ``poster`` is a JPEG path for a frame at ``poster_at_s`` (default:
    the middle of the clip playing at 40 % of the song, away from any flash).
    Progress: 0.05 clips checked, up to 0.9 while muxing, 0.95 poster, 1.0 done.
    """
    dst, song = Path(dst), Path(song_audio)
    report = on_progress or (lambda _f: None)
    report(0.0)
    facts = _check_clips(clips, fps)
    frames = sum(c.frames for c in facts)
    starts: list[int] = []
    at = 0
    for c in facts:
        starts.append(at)
        at += c.frames
    report(0.05)
    written: list[Path] = []
    try:
        with tempfile.TemporaryDirectory(prefix="soundstage-compose-") as tmp:
            listing = _write_concat_list(facts, Path(tmp) / "clips.ffconcat")
            outcome = _mux(
                _concat_input(listing),
                frames,
                Fraction(fps),
                song,
                dst,
                captions=captions,
                language=subtitle_language,
                kbps=audio_bitrate_kbps,
                metadata=metadata,
                on_progress=lambda f: report(0.05 + 0.85 * f),
            )
        written.append(dst)
        report(0.9)
        if webvtt is not None:
            written.append(write_webvtt(captions or (), webvtt))
        if poster is not None:
            at_s = poster_at_s if poster_at_s is not None else _poster_time(starts, frames, fps)
            written.append(extract_poster(dst, at_s, poster, width=poster_width))
        report(0.95)
    except BaseException:
        for p in written:
            p.unlink(missing_ok=True)
        raise
    sync = outcome.sync
    report(1.0)
    return ComposeResult(
        path=dst,
        width=facts[0].width,
        height=facts[0].height,
        fps=fps,
        frames=frames,
        duration_s=frames / fps,
        audio_duration_s=float(sync["audio_duration_s"]),
        av_offset_frames=float(sync["offset_frames"]),
        audio_copied=outcome.audio_copied,
        clip_starts=tuple(starts),
        subtitles=outcome.subtitles,
        poster=Path(poster) if poster is not None else None,
        webvtt=Path(webvtt) if webvtt is not None else None,
        size_bytes=dst.stat().st_size,
    )


def _poster_time(starts: Sequence[int], frames: int, fps: int) -> float:
    """Middle of the clip that plays at 40 % of the video: clear of flashes and fades."""
    target = 0.4 * frames
    ends = [*starts[1:], frames]
    for s, e in zip(starts, ends, strict=True):
        if s <= target < e:
            return (s + e) / 2 / fps
    return frames / 2 / fps


# ----------------------------------------------------------------------------- helpers


def _check_size(width: int, height: int) -> None:
    if width < 16 or height < 16 or width % 2 or height % 2:
        raise ValueError("width and height must be even and at least 16")


@contextmanager
def _atomic(dst: Path) -> Iterator[Path]:
    """A hidden temporary path beside ``dst``; renamed to ``dst`` if the block succeeds."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    part = dst.with_name(f".{dst.name}.{secrets.token_hex(4)}.part")
    try:
        yield part
        os.replace(part, dst)
    finally:
        part.unlink(missing_ok=True)


def _probe_json(path: Path, *args: str) -> dict[str, Any]:
    try:
        raw = run_probe(["-v", "error", "-print_format", "json", *args, str(path)])
        return json.loads(raw or "{}")
    except (MediaError, json.JSONDecodeError) as exc:
        raise MediaError(f"{path.name} is not media ffprobe can read: {exc}") from exc


def _count_video_packets(path: Path) -> int:
    data = _probe_json(
        path, "-select_streams", "v:0", "-count_packets", "-show_entries", "stream=nb_read_packets"
    )
    streams = data.get("streams") or []
    return int(finite_number(streams[0].get("nb_read_packets")) or 0) if streams else 0
