"""The one encoding every music-video clip shares, so clips concatenate by stream copy.

Embedded clips are encoded with these arguments straight from rendered frames;
provider clips are re-encoded to them by normalisation. Each clip starts on a
keyframe, so a concatenation cut lands exactly on the clip's first frame.
"""

from __future__ import annotations

PIX_FMT = "yuv420p"
# ultrafast: a 10 s 1080p30 clip costs ~5 CPU-s instead of ~16 with veryfast, at the same
# CRF quality (PSNR > 51 dB either way) for files ~1.7x larger (docs/visuals.md).
X264_PRESET = "ultrafast"
X264_CRF = 21


def clip_video_args(fps: int, *, preset: str = X264_PRESET, crf: int = X264_CRF) -> list[str]:
    """ffmpeg output arguments for a clip's video stream (no audio)."""
    return [
        "-an",
        "-c:v",
        "libx264",
        "-preset",
        preset,
        "-crf",
        str(crf),
        "-pix_fmt",
        PIX_FMT,
        "-r",
        str(fps),
        "-g",
        str(fps * 2),
        "-video_track_timescale",
        str(fps * 1000),
        "-movflags",
        "+faststart",
    ]
