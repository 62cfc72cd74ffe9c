"""Measuring that a rendered clip answers the beats, from the decoded video.

The measure (used by the tests and the benchmark, and usable on any clip):

* decode the clip to small grayscale frames (`decode_gray`, ffmpeg, area scaling);
* ``diff[k]`` = mean absolute luminance change from frame k-1 to frame k (0..255);
* a beat on frame *b* scores the mean of ``diff[b .. b+window]`` (the jump into the
  beat frame and the next ``window`` frames);
* the baseline is the median of ``diff`` over the frames that are in no beat's
  window and past the clip's entry transition;
* a beat *responds* when its score is at least ``min_ratio`` x the baseline and
  at least ``min_level`` luminance levels (so a nearly static picture cannot pass
  with an invisible flicker).

Beats on frame 0 (no previous frame) or too close to the end are not scored.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from soundstage.media.video._ffmpeg import MediaError


@dataclass(frozen=True)
class BeatResponse:
    ratios: tuple[float, ...]  # score / baseline for each scored beat
    scores: tuple[float, ...]  # mean |ΔY| at each scored beat, 0..255
    baseline: float  # median |ΔY| between beats
    responding: float  # fraction of scored beats that respond

    @property
    def median_ratio(self) -> float:
        return float(np.median(self.ratios)) if self.ratios else 0.0


def decode_gray(path: Path, width: int = 96, height: int = 54) -> np.ndarray:
    """All frames of ``path`` as (n, height, width) uint8 luminance."""
    cmd = [
        "ffmpeg", "-v", "error", "-nostdin", "-i", str(path),
        "-vf", f"scale={width}:{height}:flags=area,format=gray",
        "-f", "rawvideo", "-",
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, check=False)
    if done.returncode != 0:
        raise MediaError(done.stderr.decode("utf-8", "replace").strip()[-2000:])
    data = np.frombuffer(done.stdout, dtype=np.uint8)
    return data.reshape(-1, height, width)


def beat_response(
    frames: np.ndarray,
    beat_frames: list[int] | np.ndarray,
    *,
    window: int = 2,
    skip_start: int = 0,
    min_ratio: float = 1.5,
    min_level: float = 2.0,
) -> BeatResponse:
    """Score each beat of ``frames`` (n, h, w) against the between-beat baseline."""
    lum = frames.astype(np.float32)
    diff = np.zeros(len(lum), dtype=np.float32)
    diff[1:] = np.abs(lum[1:] - lum[:-1]).mean(axis=(1, 2))
    n = len(diff)
    beats = sorted({int(b) for b in beat_frames if int(b) >= 1 and int(b) + window < n})
    near = np.zeros(n, dtype=bool)
    near[: max(1, skip_start)] = True  # frame 0 has no previous frame
    for b in {int(b) for b in beat_frames}:
        near[max(0, b) : max(0, b + 2 * window + 1)] = True
    between = diff[~near]
    baseline = float(np.median(between)) if len(between) else 0.0
    scores = [float(diff[b : b + window + 1].mean()) for b in beats]
    ratios = [s / max(baseline, 1e-3) for s in scores]
    ok = [r >= min_ratio and s >= min_level for r, s in zip(ratios, scores, strict=True)]
    return BeatResponse(tuple(ratios), tuple(scores), baseline, float(np.mean(ok)) if ok else 0.0)
