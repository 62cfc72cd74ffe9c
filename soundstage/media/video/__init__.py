"""FFmpeg video: probing media files, a still image plus audio as an MP4, and music-video
assembly (conforming clips, joining them by stream copy, muxing the song) with the
measurements that prove the result (cuts, beat response, A/V sync)."""

from soundstage.media.video._ffmpeg import MediaError
from soundstage.media.video.compose import (
    ComposeResult,
    compose_video,
    concat_clips,
    extract_poster,
    mux_song,
    normalize_clip,
    write_webvtt,
)
from soundstage.media.video.measure import av_sync, beat_response, cut_alignment, detect_cuts
from soundstage.media.video.probe import AudioStreamInfo, MediaInfo, VideoStreamInfo, probe
from soundstage.media.video.still import render_still_video

__all__ = [
    "AudioStreamInfo",
    "ComposeResult",
    "MediaError",
    "MediaInfo",
    "VideoStreamInfo",
    "av_sync",
    "beat_response",
    "compose_video",
    "concat_clips",
    "cut_alignment",
    "detect_cuts",
    "extract_poster",
    "mux_song",
    "normalize_clip",
    "probe",
    "render_still_video",
    "write_webvtt",
]
