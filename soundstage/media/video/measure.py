"""Measuring a finished music video: where its cuts are, whether they sit on beats, whether
the picture reacts to beats, and whether sound and picture end together.

These are the proofs used by tests and benchmarks; they look only at the decoded file.
All assume a constant frame rate (what `compose` writes): frame ``i`` is shown at
``i / fps`` seconds.

**Cuts** (`detect_cuts`). The video is decoded by ffmpeg to small RGB frames (160 px
wide by default, area-averaged, so grain and compression noise mostly vanish). For
each frame ``i`` against frame ``i-1`` two distances are taken:

* ``pix`` — the mean absolute luma difference / 255 (what changed where), and
* ``hist`` — half the L1 distance between joint RGB histograms of 8x8x8 bins
  (what colours are present; 0 = same, 1 = disjoint), blind to motion.

The score is ``0.5 * hist + 0.5 * min(1, 3 * pix)``. Frame ``i`` starts a new shot when

1. its score is at least ``min_score`` and at least ``adaptive_ratio`` times the
   *local baseline*, the median score of the frames within ``window_s`` on either side
   (the frame and its direct neighbours left out) — fast motion raises the baseline,
   so busy footage needs a bigger jump to count as a cut;
2. it is the highest score within ``min_gap_s`` on either side (a fade or a flash after a
   cut spreads change over a few frames; only the strongest counts). The cut is placed at
   the start of the run of frames leading up to it that score at least ``min_score``
   and half its score: a cut into a flash that starts brighter than the new shot (a pale
   shot cut to a dark one) changes most on the second or third frame, but began on the
   first; and
3. with ``ignore_flashes`` (default), the change *persists*: the frame before the cut
   against the frame ``flash_s`` after it still scores at least ``min_score``. A flash or a one-frame glitch
   inside a shot returns to what was there before, a cut does not. Changes within
   ``flash_s`` of the first frame are then not cuts either: they are the opening flash.

The time of a cut is the start time of the new shot's first frame.

**Alignment** (`cut_alignment`): for each cut, the signed distance to the nearest beat in
frames; the maximum and median absolute distance and the share within one frame.

**Beat response** (`beat_response`): the per-frame change ``c[i]`` = mean absolute luma
difference between frames ``i`` and ``i-1`` (grey, 160 px wide). A beat at ``b`` lands on
frame ``k = round(b·fps)``; its response is the mean of ``c[k..k+window_frames]`` and its
ratio that response over the *baseline*, the median of ``c`` over all frames outside
every beat window and its decay (floored at 0.25 grey levels, so a still picture gives
ratios near 0 rather than noise divided by noise). A beat "responds" when its ratio is
at least ``threshold`` (1.5) and its change at least ``min_level`` (2) grey levels.

**A/V sync** (`av_sync`): ffprobe counts the video packets (``-count_packets``, one per
frame; ``nb_frames`` from the header is reported too) and gives the video duration as
frames / frame rate. The audio duration is the stream's, which in an MP4 comes from the
edit list: AAC encoders prepend ~1024 "priming" samples and pad the last packet, and the
edit list tells players to skip both. The audio is also decoded and its samples
counted: ffmpeg skips the priming but plays the padding, so ``audio_padding_s`` =
decoded − stream lies in [0, one AAC packet) when the priming is handled, and would be
a packet or more when it is not. The offset (audio − video) is reported in seconds and
in frames, and its absolute value in frames as ``difference_frames``.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from soundstage.media.video._ffmpeg import MediaError, frame_rate, run_probe

_HIST_BITS = 3  # per channel: 8 x 8 x 8 joint histogram


# ----------------------------------------------------------------------------- decoding


def _video_facts(video: Path) -> tuple[int, int, Fraction]:
    raw = run_probe(
        [
            "-v", "error", "-select_streams", "v:0", "-print_format", "json", "-show_entries",
            "stream=width,height,r_frame_rate,avg_frame_rate", str(video),
        ]
    )  # fmt: skip
    streams = json.loads(raw or "{}").get("streams") or []
    if not streams:
        raise MediaError(f"{video.name} has no video stream")
    s = streams[0]
    fps = frame_rate(s.get("r_frame_rate")) or frame_rate(s.get("avg_frame_rate"))
    if fps is None:
        raise MediaError(f"{video.name} has no frame rate")
    return int(s["width"]), int(s["height"]), fps


def _frames(video: Path, width: int, *, gray: bool) -> Iterator[np.ndarray]:
    """Decoded frames as uint8 arrays of ``width`` x (proportional even height)."""
    video = Path(video)
    if not video.is_file():
        raise FileNotFoundError(f"no such video: {video}")
    iw, ih, _ = _video_facts(video)
    height = max(2, round(width * ih / iw / 2) * 2)
    pix_fmt, depth = ("gray", 1) if gray else ("rgb24", 3)
    size = width * height * depth
    # fmt: off
    cmd = [
        "ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-i", str(video), "-map", "0:v:0",
        "-vf", f"scale={width}:{height}:flags=area,format={pix_fmt}", "-fps_mode", "passthrough",
        "-f", "rawvideo", "-pix_fmt", pix_fmt, "pipe:1",
    ]
    # fmt: on
    shape = (height, width) if gray else (height, width, 3)
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err)
        assert proc.stdout is not None
        try:
            while True:
                buf = proc.stdout.read(size)
                if len(buf) < size:
                    break
                yield np.frombuffer(buf, np.uint8).reshape(shape)
        finally:
            proc.stdout.close()
            code = proc.wait() if proc.poll() is not None else _stop(proc)
        if code != 0:
            err.seek(0)
            tail = err.read().decode("utf-8", "replace").strip().splitlines()[-5:]
            raise MediaError(f"cannot decode {video.name}: " + " / ".join(tail))


def _stop(proc: subprocess.Popen[bytes]) -> int:
    proc.kill()
    proc.wait()
    return 0  # stopped on purpose by the consumer


# ----------------------------------------------------------------------------- cuts


def detect_cuts(
    video: Path,
    *,
    width: int = 160,
    min_score: float = 0.12,
    adaptive_ratio: float = 3.0,
    window_s: float = 1.0,
    min_gap_s: float = 0.25,
    ignore_flashes: bool = True,
    flash_s: float = 0.3,
) -> list[float]:
    """Start times (s) of the shots after each hard cut in ``video``; see the module doc."""
    video = Path(video)
    if not video.is_file():
        raise FileNotFoundError(f"no such video: {video}")
    fps = _video_facts(video)[2]
    lag = max(1, round(flash_s * float(fps)))
    scores: list[float] = [0.0]
    persist: list[float] = []  # persist[i-1]: frame i-1 against frame i+lag
    recent: deque[tuple[np.ndarray, np.ndarray]] = deque(maxlen=lag + 2)
    for frame in _frames(video, width, gray=False):
        feats = _features(frame)
        if recent:
            scores.append(_distance(recent[-1], feats))
        recent.append(feats)
        if len(recent) == lag + 2:
            persist.append(_distance(recent[0], feats))
    n = len(scores)
    if n < 2:
        return []
    last = recent[-1]
    for i in range(len(persist) + 1, n):  # frames too close to the end: against the last
        persist.append(_distance(recent[i - 1 - (n - len(recent))], last))
    score = np.asarray(scores)
    win = max(2, round(window_s * float(fps)))
    gap = max(1, round(min_gap_s * float(fps)))
    cuts: list[float] = []
    for i in range(1, n):
        s = score[i]
        if s < min_score:
            continue
        lo, hi = max(1, i - win), min(n, i + win + 1)
        around = np.concatenate([score[lo : max(lo, i - 1)], score[min(hi, i + 2) : hi]])
        baseline = float(np.median(around)) if around.size else 0.0
        if s < adaptive_ratio * baseline:
            continue
        near = score[max(1, i - gap) : min(n, i + gap + 1)]
        if s < near.max() or (np.flatnonzero(near == s)[0] + max(1, i - gap) != i):
            continue  # not the strongest nearby (ties: the first one)
        start = i
        while start > max(1, i - gap) and score[start - 1] >= max(min_score, 0.5 * s):
            start -= 1  # the change began earlier: a cut into a flash or a fast fade
        if ignore_flashes and (start <= lag or persist[start - 1] < min_score):
            continue  # a transient, or the opening flash (no earlier shot to cut from)
        cuts.append(float(start / fps))
    return cuts


def _features(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    luma = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    q = (rgb >> (8 - _HIST_BITS)).astype(np.int32)
    idx = (q[..., 0] << (2 * _HIST_BITS)) | (q[..., 1] << _HIST_BITS) | q[..., 2]
    hist = np.bincount(idx.ravel(), minlength=1 << (3 * _HIST_BITS)).astype(np.float32)
    return luma.astype(np.float32), hist / hist.sum()


def _distance(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> float:
    pix = float(np.mean(np.abs(a[0] - b[0]))) / 255.0
    hist = 0.5 * float(np.abs(a[1] - b[1]).sum())
    return 0.5 * hist + 0.5 * min(1.0, 3.0 * pix)


def cut_alignment(cuts: Sequence[float], beats: Sequence[float], fps: float) -> dict[str, Any]:
    """How far each cut is from its nearest beat, in frames.

    Returns ``n_cuts``, ``offsets_frames`` (signed, cut minus beat), ``max_offset_frames``,
    ``median_offset_frames`` (absolute) and ``within_1_frame`` (share of cuts at most one
    frame from a beat); the last three are None when there are no cuts.
    """
    if not beats:
        raise ValueError("no beats to align with")
    if fps <= 0:
        raise ValueError("fps must be positive")
    grid = np.sort(np.asarray(beats, dtype=float))
    offsets: list[float] = []
    for cut in cuts:
        j = int(np.searchsorted(grid, cut))
        near = [grid[k] for k in (j - 1, j) if 0 <= k < grid.size]
        beat = min(near, key=lambda b: abs(cut - b))
        offsets.append(round((cut - beat) * fps, 6))
    absolute = np.abs(offsets)
    return {
        "n_cuts": len(offsets),
        "offsets_frames": offsets,
        "max_offset_frames": float(absolute.max()) if offsets else None,
        "median_offset_frames": float(np.median(absolute)) if offsets else None,
        "within_1_frame": float(np.mean(absolute <= 1.0 + 1e-6)) if offsets else None,
    }


# ----------------------------------------------------------------------------- beats


def frame_changes(frames: Iterable[np.ndarray]) -> np.ndarray:
    """Per-frame change: mean absolute difference from the previous frame (0 for the first)."""
    change = [0.0]
    prev: np.ndarray | None = None
    for frame in frames:
        cur = frame.astype(np.int16)
        if prev is not None:
            change.append(float(np.mean(np.abs(cur - prev))))
        prev = cur
    return np.asarray(change[: max(1, len(change))], dtype=np.float64)


def score_beats(
    change: np.ndarray,
    beat_frames: Iterable[int],
    *,
    window_frames: int = 2,
    threshold: float = 1.5,
    min_level: float = 2.0,
    skip_start: int = 0,
    floor: float = 0.25,
) -> dict[str, Any]:
    """Score each beat frame of a `frame_changes` series against the between-beat baseline.

    The baseline leaves out every beat's window and its decay (``2 × window_frames``
    after the beat) and the first ``skip_start`` frames (an entry transition). A beat
    responds when its ratio is at least ``threshold`` and its change at least
    ``min_level`` grey levels, so a nearly still picture cannot pass on flicker.
    """
    c = np.asarray(change, dtype=np.float64)
    n = c.size
    wanted = {int(k) for k in beat_frames}
    starts = sorted(k for k in wanted if k >= 1 and k + window_frames < n)
    near = np.zeros(n, dtype=bool)
    near[: max(1, skip_start)] = True  # frame 0 has no previous frame
    for k in wanted:
        near[max(0, k) : max(0, k + 2 * window_frames + 1)] = True
    between = c[~near]
    baseline = float(np.median(between)) if between.size else 0.0
    base = max(baseline, floor)
    levels = [float(np.mean(c[k : k + window_frames + 1])) for k in starts]
    ratios = [level / base for level in levels]
    responds = [r >= threshold and lv >= min_level for r, lv in zip(ratios, levels, strict=True)]
    return {
        "n_beats": len(ratios),
        "ratios": [round(r, 4) for r in ratios],
        "median_ratio": float(np.median(ratios)) if ratios else None,
        "fraction": float(np.mean(responds)) if responds else None,
        "baseline": baseline,
        "threshold": threshold,
    }


def beat_response(
    video: Path,
    beats: Sequence[float],
    fps: float,
    *,
    window_frames: int = 2,
    threshold: float = 1.5,
    min_level: float = 2.0,
    width: int = 160,
) -> dict[str, Any]:
    """How strongly the picture changes on each beat compared with between beats.

    Returns ``n_beats`` (beats inside the video, after its first frame), ``ratios`` (one
    per such beat), ``median_ratio``, ``fraction`` (share of them that respond, see
    `score_beats`), ``baseline`` (median between-beat change in grey levels) and
    ``threshold``.
    """
    if fps <= 0:
        raise ValueError("fps must be positive")
    change = frame_changes(_frames(Path(video), width, gray=True))
    frames = {round(b * fps) for b in beats}
    return score_beats(
        change, frames, window_frames=window_frames, threshold=threshold, min_level=min_level
    )


def decode_gray(video: Path, width: int = 96) -> np.ndarray:
    """Every frame of ``video`` as (n, height, width) uint8 grey levels (height in proportion)."""
    return np.stack(list(_frames(Path(video), width, gray=True)))


# ----------------------------------------------------------------------------- sync


def av_sync(path: Path, *, decode_audio: bool = True) -> dict[str, Any]:
    """Video and audio durations of ``path`` and how far apart they end.

    Returns ``fps``, ``video_frames`` (packets counted), ``video_nb_frames`` (header),
    ``video_duration_s`` (frames / fps), ``video_start_s``, ``audio_duration_s`` (the
    stream's, edit list applied; the decoded length if the container has none),
    ``audio_start_s``, ``audio_decoded_s`` and ``audio_padding_s`` (decoded − stream;
    None with ``decode_audio=False``), ``offset_s`` and ``offset_frames`` (audio minus
    video duration, signed) and ``difference_frames`` (its absolute value). MediaError if
    the file lacks a video or an audio stream.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    raw = run_probe(
        [
            "-v", "error", "-count_packets", "-print_format", "json", "-show_entries",
            "stream=codec_type,r_frame_rate,avg_frame_rate,nb_frames,nb_read_packets,"
            "duration,start_time,sample_rate,time_base", str(path),
        ]
    )  # fmt: skip
    streams = json.loads(raw or "{}").get("streams") or []
    v = next((s for s in streams if s.get("codec_type") == "video"), None)
    a = next((s for s in streams if s.get("codec_type") == "audio"), None)
    if v is None or a is None:
        raise MediaError(f"{path.name} needs both a video and an audio stream")
    fps = frame_rate(v.get("r_frame_rate")) or frame_rate(v.get("avg_frame_rate"))
    if fps is None:
        raise MediaError(f"{path.name} has no video frame rate")
    frames = int(v.get("nb_read_packets") or 0)
    video_s = float(frames / fps)
    stream_s = _float(a.get("duration"))
    decoded = decoded_seconds(path, int(a.get("sample_rate") or 0)) if decode_audio else None
    audio_s = stream_s if stream_s is not None else decoded
    if audio_s is None:
        raise MediaError(f"{path.name} has no measurable audio duration")
    diff = audio_s - video_s
    return {
        "fps": float(fps),
        "video_frames": frames,
        "video_nb_frames": int(v["nb_frames"]) if str(v.get("nb_frames", "")).isdigit() else None,
        "video_duration_s": video_s,
        "video_start_s": _float(v.get("start_time")) or 0.0,
        "audio_duration_s": audio_s,
        "audio_start_s": _float(a.get("start_time")) or 0.0,
        "audio_decoded_s": decoded,
        "audio_padding_s": None if decoded is None or stream_s is None else decoded - stream_s,
        "offset_s": diff,
        "offset_frames": diff * float(fps),
        "difference_frames": abs(diff) * float(fps),
    }


def decoded_seconds(path: Path, sample_rate: int) -> float:
    """Seconds of audio a player gets from ``path``'s first audio stream (samples counted)."""
    if sample_rate <= 0:
        raise MediaError(f"{path.name} has no audio sample rate")
    # fmt: off
    cmd = [
        "ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-i", str(path), "-map", "0:a:0",
        "-ac", "1", "-ar", str(sample_rate), "-f", "s16le", "pipe:1",
    ]
    # fmt: on
    total = 0
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err)
        assert proc.stdout is not None
        while chunk := proc.stdout.read(1 << 20):
            total += len(chunk)
        code = proc.wait()
        if code != 0:
            err.seek(0)
            raise MediaError(f"cannot decode the audio of {path.name}: {err.read()[-400:]!r}")
    return total / 2 / sample_rate


def _float(text: object) -> float | None:
    try:
        return float(str(text))
    except ValueError:
        return None
