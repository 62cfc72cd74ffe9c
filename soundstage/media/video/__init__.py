"""FFmpeg video: probing media files and turning a still image plus audio into an MP4."""

from soundstage.media.video._ffmpeg import MediaError
from soundstage.media.video.probe import AudioStreamInfo, MediaInfo, VideoStreamInfo, probe
from soundstage.media.video.still import render_still_video

__all__ = [
    "AudioStreamInfo",
    "MediaError",
    "MediaInfo",
    "VideoStreamInfo",
    "probe",
    "render_still_video",
]
