"""Audio I/O and measurement shared by every engine.

Pure functions and small classes: float32 arrays shaped (frames, channels),
paths and explicit parameters in; results out. FFmpeg does the decoding and
encoding; everything long-running streams in chunks with flat memory.
"""

from soundstage.media.audio.decode import AudioInfo, probe_audio, read_audio, read_chunks
from soundstage.media.audio.encode import AudioWriter, EncodeTarget, encode_array, write_wav
from soundstage.media.audio.errors import AudioDecodeError, AudioEncodeError, AudioError
from soundstage.media.audio.limiter import TruePeakLimiter
from soundstage.media.audio.loudness import LoudnessMeter, LoudnessReport, measure, measure_file
from soundstage.media.audio.tags import TagError, read_tags, write_tags

__all__ = [
    "AudioDecodeError",
    "AudioEncodeError",
    "AudioError",
    "AudioInfo",
    "AudioWriter",
    "EncodeTarget",
    "LoudnessMeter",
    "LoudnessReport",
    "TagError",
    "TruePeakLimiter",
    "encode_array",
    "measure",
    "measure_file",
    "probe_audio",
    "read_audio",
    "read_chunks",
    "read_tags",
    "write_tags",
    "write_wav",
]
