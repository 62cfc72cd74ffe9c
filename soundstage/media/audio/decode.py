"""Decoding and probing through FFmpeg: any format in, float32 frames out.

`read_chunks` streams fixed-size chunks from an ``ffmpeg ... -f f32le -`` pipe,
so memory stays flat whatever the duration. FFmpeg's stderr goes to a
temporary file (a chatty corrupt file can never fill a pipe and deadlock us)
and its tail ends up in `AudioDecodeError`.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from shutil import which

import numpy as np

from soundstage.media.audio.errors import AudioDecodeError, stderr_tail

FFMPEG = "ffmpeg"
FFPROBE = "ffprobe"


@dataclass
class AudioInfo:
    """What ffprobe says about the first audio stream of a file."""

    duration_s: float
    sample_rate: int
    channels: int
    codec: str
    bitrate_kbps: float | None
    format_name: str
    tags: dict[str, str] = field(default_factory=dict)


def ffmpeg_url(path: Path) -> str:
    """A path as an FFmpeg URL that is never read as an option or a protocol."""
    return "file:" + str(Path(path).absolute())


def probe_audio(path: Path | str) -> AudioInfo:
    """Probe a file with ffprobe; raise `AudioDecodeError` unless it holds audio."""
    path = Path(path)
    if not path.is_file():
        raise AudioDecodeError(f"{path}: no such file")
    cmd = [FFPROBE, "-v", "error", "-print_format", "json", "-show_format", "-show_streams"]
    try:
        proc = subprocess.run([*cmd, ffmpeg_url(path)], capture_output=True, check=False)
    except OSError as exc:
        raise AudioDecodeError(f"cannot start {FFPROBE}: {exc}") from exc
    if proc.returncode != 0:
        raise AudioDecodeError(f"{path}: ffprobe failed: {stderr_tail(proc.stderr)}")
    data = json.loads(proc.stdout or b"{}")
    streams = [s for s in data.get("streams", []) if s.get("codec_type") == "audio"]
    if not streams:
        raise AudioDecodeError(f"{path}: no audio stream")
    info = _info(streams[0], data.get("format", {}))
    if info.codec == "mp3" and info.sample_rate:
        exact = mp3_gapless_frames(path)
        if exact is not None and abs(exact / info.sample_rate - info.duration_s) < 0.2:
            info.duration_s = exact / info.sample_rate
    return info


def mp3_gapless_frames(path: Path) -> int | None:
    """Exact sample count of an MP3 from its Xing/Info + LAME tag, if it has one.

    Containers report MP3 durations including the encoder delay and padding
    (up to two frames too long); decoders trim them using this tag.
    """
    with Path(path).open("rb") as f:
        head = f.read(10)
        start = 0
        if head[:3] == b"ID3" and len(head) == 10:
            size = (head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9]
            start = 10 + size + (10 if head[5] & 0x10 else 0)
        f.seek(start)
        frame = f.read(256)
    if len(frame) < 4 or frame[0] != 0xFF or frame[1] & 0xE0 != 0xE0:
        return None
    per_frame = 1152 if frame[1] & 0x18 == 0x18 else 576  # MPEG-1 vs MPEG-2/2.5 layer III
    at = max(frame.find(b"Xing"), frame.find(b"Info"))
    if at < 0:
        return None
    flags = int.from_bytes(frame[at + 4 : at + 8], "big")
    if not flags & 1:
        return None
    frames = int.from_bytes(frame[at + 8 : at + 12], "big")
    lame = at + 12 + (4 if flags & 2 else 0) + (100 if flags & 4 else 0) + (4 if flags & 8 else 0)
    tag = frame[lame + 21 : lame + 24]
    if len(tag) < 3 or not frame[lame : lame + 4].isalpha():
        return None
    delay = (tag[0] << 4) | (tag[1] >> 4)
    padding = ((tag[1] & 0x0F) << 8) | tag[2]
    total = frames * per_frame - delay - padding
    return total if total > 0 else None


def _info(stream: dict, fmt: dict) -> AudioInfo:
    duration = _number(stream.get("duration")) or _number(fmt.get("duration")) or 0.0
    bitrate = _number(stream.get("bit_rate")) or _number(fmt.get("bit_rate"))
    tags = {k.lower(): str(v) for k, v in fmt.get("tags", {}).items()}
    tags.update({k.lower(): str(v) for k, v in stream.get("tags", {}).items()})
    return AudioInfo(
        duration_s=duration,
        sample_rate=int(stream.get("sample_rate", 0)),
        channels=int(stream.get("channels", 0)),
        codec=str(stream.get("codec_name", "")),
        bitrate_kbps=bitrate / 1000.0 if bitrate else None,
        format_name=str(fmt.get("format_name", "")),
        tags=tags,
    )


def _number(value: object) -> float | None:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def read_chunks(
    path: Path | str,
    sample_rate: int = 44100,
    channels: int = 2,
    chunk_frames: int = 441000,
) -> Iterator[np.ndarray]:
    """Yield float32 (frames, channels) chunks of `chunk_frames` (the last may be shorter).

    FFmpeg resamples and up/down-mixes to `sample_rate` and `channels`.
    Stopping the iteration early kills FFmpeg. Raises `AudioDecodeError` if
    FFmpeg fails.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioDecodeError(f"{path}: no such file")
    cmd = [FFMPEG, "-nostdin", "-hide_banner", "-v", "error", "-i", ffmpeg_url(path)]
    cmd += ["-map", "0:a:0", "-vn", "-f", "f32le", "-ac", str(channels)]
    cmd += ["-ar", str(sample_rate), "-acodec", "pcm_f32le", "pipe:1"]
    chunk_bytes = chunk_frames * channels * 4
    with tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err
            )
        except OSError as exc:
            raise AudioDecodeError(f"cannot start {FFMPEG}: {exc}") from exc
        assert proc.stdout is not None
        try:
            while True:
                buf = _read_exact(proc.stdout, chunk_bytes)
                usable = len(buf) // (channels * 4) * channels * 4
                if usable:
                    frames = np.frombuffer(buf, dtype="<f4", count=usable // 4)
                    yield frames.reshape(-1, channels)
                if len(buf) < chunk_bytes:
                    break
            if proc.wait() != 0:
                err.seek(0)
                raise AudioDecodeError(f"{path}: ffmpeg failed: {stderr_tail(err.read())}")
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.stdout.close()
            proc.wait()


def _read_exact(stream, size: int) -> bytearray:
    """Read `size` bytes unless the stream ends first."""
    buf = bytearray(size)
    view = memoryview(buf)
    got = 0
    while got < size:
        n = stream.readinto(view[got:])
        if not n:
            break
        got += n
    del view
    return buf[:got] if got < size else buf


def read_audio(path: Path | str, sample_rate: int = 44100, channels: int = 2) -> np.ndarray:
    """Decode a whole (short) file to float32 (frames, channels)."""
    chunks = list(read_chunks(path, sample_rate, channels, chunk_frames=sample_rate * 60))
    if not chunks:
        return np.zeros((0, channels), dtype=np.float32)
    return np.concatenate(chunks) if len(chunks) > 1 else chunks[0]


def ffmpeg_available() -> bool:
    """Whether both ffmpeg and ffprobe can be found on PATH."""
    return which(FFMPEG) is not None and which(FFPROBE) is not None
