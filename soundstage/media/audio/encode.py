"""Streaming encoders: float32 PCM piped to FFmpeg, files published atomically.

Each target gets its own FFmpeg process fed by its own writer thread through
a bounded queue, so `AudioWriter.write` returns at once while the encoders
run on the other core(s). (FFmpeg 5.1 runs all the encoders of one process
in a single thread, so one process per target is never slower and uses a
second idle core when there is one; it also keeps failures and stderr
separate.)

Files are written under a temporary name in the destination folder and
renamed onto their path only when the ``with`` block ended without an
exception and every FFmpeg exited 0. Otherwise FFmpeg is killed and the
temporary files are deleted: there is never a half-written file at a final
path.

Formats:
- ``mp3``: libmp3lame CBR ``bitrate_kbps``, ``-compression_level mp3_quality``
  (0 best/slowest ... 9 fastest), Xing/LAME header for exact length.
- ``aac``: FFmpeg's native AAC in an .m4a (``ipod`` muxer, brand M4A) with
  faststart. ``aac_coder=fast`` (about 2x faster than the default twoloop)
  with intensity stereo off: at 256-320 kbps the bits are there, and IS
  only blurs the stereo image.
- ``flac`` / ``wav``: 16 bit (TPDF-dithered) or 24 bit.
"""

from __future__ import annotations

import contextlib
import os
import queue
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Literal

import numpy as np

from soundstage.media.audio.errors import AudioEncodeError, stderr_tail

FFMPEG = "ffmpeg"
Format = Literal["mp3", "aac", "flac", "wav"]
FORMATS: tuple[str, ...] = ("mp3", "aac", "flac", "wav")
_PIECE_FRAMES = 65536  # queue items are at most this long (0.5 MB of stereo float32)
_QUEUE_BLOCKS = 32  # items buffered per encoder before `write` waits (<= 16 MB, shared)


@dataclass(frozen=True)
class EncodeTarget:
    """One output file: where, which format, and the format's settings."""

    path: Path
    format: Format
    bitrate_kbps: int = 320
    mp3_quality: int = 5
    bit_depth: int = 16

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))
        if self.format not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}, not {self.format!r}")
        if self.format in ("flac", "wav") and self.bit_depth not in (16, 24):
            raise ValueError("bit_depth must be 16 or 24")
        if self.format in ("mp3", "aac") and not 32 <= self.bitrate_kbps <= 512:
            raise ValueError("bitrate_kbps must be within 32..512")
        if self.format == "mp3" and (self.bitrate_kbps > 320 or not 0 <= self.mp3_quality <= 9):
            raise ValueError("mp3 needs bitrate_kbps <= 320 and mp3_quality within 0..9")


def codec_args(target: EncodeTarget) -> list[str]:
    """FFmpeg output options (codec, settings, muxer) for a target."""
    if target.format == "mp3":
        return ["-c:a", "libmp3lame", "-b:a", f"{target.bitrate_kbps}k",
                "-compression_level", str(target.mp3_quality), "-f", "mp3"]  # fmt: skip
    if target.format == "aac":
        return ["-c:a", "aac", "-b:a", f"{target.bitrate_kbps}k", "-aac_coder", "fast",
                "-aac_is", "0", "-movflags", "+faststart", "-f", "ipod"]  # fmt: skip
    if target.bit_depth == 16:
        pcm = ["-af", "aresample=dither_method=triangular", "-sample_fmt", "s16"]
    else:
        pcm = ["-sample_fmt", "s32", "-bits_per_raw_sample", "24"]
    if target.format == "flac":
        return [*pcm, "-c:a", "flac", "-f", "flac"]
    codec = "pcm_s16le" if target.bit_depth == 16 else "pcm_s24le"
    return [*pcm, "-c:a", codec, "-rf64", "auto", "-f", "wav"]


class _Encoder:
    """One FFmpeg process writing one temporary file, fed by a thread."""

    def __init__(self, target: EncodeTarget, sample_rate: int, channels: int) -> None:
        self.target = target
        target.path.parent.mkdir(parents=True, exist_ok=True)
        self.temp = target.path.with_name(f".{target.path.name}.{uuid.uuid4().hex[:8]}.part")
        cmd = [FFMPEG, "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
               "-f", "f32le", "-ar", str(sample_rate), "-ac", str(channels), "-i", "pipe:0",
               "-map", "0:a", *codec_args(target), "file:" + str(self.temp)]  # fmt: skip
        self._stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 (closed in close)
        try:
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._stderr
            )
        except OSError as exc:
            self._stderr.close()
            raise AudioEncodeError(f"cannot start {FFMPEG}: {exc}") from exc
        self.queue: queue.Queue[bytes | None] = queue.Queue(maxsize=_QUEUE_BLOCKS)
        self.failed: BaseException | None = None
        self._thread = threading.Thread(target=self._feed, name="audio-encoder", daemon=True)
        self._thread.start()

    def _feed(self) -> None:
        stdin = self.proc.stdin
        assert stdin is not None
        while (data := self.queue.get()) is not None:
            if self.failed is None:
                try:
                    stdin.write(data)
                except (BrokenPipeError, OSError) as exc:
                    self.failed = exc  # keep draining so `put` never blocks forever
        with contextlib.suppress(OSError):
            stdin.close()

    def put(self, data: bytes) -> None:
        self.queue.put(data)

    def finish(self) -> None:
        """Close the input and wait; raise `AudioEncodeError` unless FFmpeg succeeded."""
        self.queue.put(None)
        self._thread.join()
        code = self.proc.wait()
        if code != 0 or self.failed is not None or not self.temp.is_file():
            raise AudioEncodeError(
                f"{self.target.format} encoding of {self.target.path} failed "
                f"(ffmpeg exit {code}): {self.stderr() or self.failed}"
            )

    def stderr(self) -> str:
        self._stderr.seek(0)
        return stderr_tail(self._stderr.read())

    def abort(self) -> None:
        """Kill FFmpeg, stop the thread, delete the temporary file."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.failed = self.failed or AudioEncodeError("aborted")
        while True:  # make room for the stop mark: queued blocks are dropped
            try:
                self.queue.put_nowait(None)
                break
            except queue.Full:
                with contextlib.suppress(queue.Empty):
                    self.queue.get_nowait()
        self._thread.join()
        self.proc.wait()
        self.close()
        self.temp.unlink(missing_ok=True)

    def close(self) -> None:
        self._stderr.close()


class AudioWriter:
    """Context manager encoding one float32 stream to several files at once.

    >>> with AudioWriter([EncodeTarget(Path("a.mp3"), "mp3")]) as w:  # doctest: +SKIP
    ...     for block in blocks:
    ...         w.write(block)
    """

    def __init__(
        self, targets: Sequence[EncodeTarget], sample_rate: int = 44100, channels: int = 2
    ) -> None:
        if not targets:
            raise ValueError("at least one target is needed")
        if len({t.path.resolve() for t in targets}) != len(targets):
            raise ValueError("targets must have distinct paths")
        self.targets = list(targets)
        self.sample_rate = sample_rate
        self.channels = channels
        self.frames = 0
        self._encoders: list[_Encoder] = []

    def __enter__(self) -> AudioWriter:
        try:
            for target in self.targets:
                self._encoders.append(_Encoder(target, self.sample_rate, self.channels))
        except BaseException:
            self._abort()
            raise
        return self

    def write(self, block: np.ndarray) -> None:
        """Queue a (frames, channels) block for every target (copied; returns quickly)."""
        if not self._encoders:
            raise RuntimeError("AudioWriter is not open; use it in a with block")
        x = np.asarray(block)
        if x.ndim == 1 and self.channels == 1:
            x = x[:, None]
        if x.ndim != 2 or x.shape[1] != self.channels:
            raise ValueError(f"expected a (frames, {self.channels}) block, got {x.shape}")
        for enc in self._encoders:
            if enc.failed is not None or enc.proc.poll() not in (None, 0):
                enc.proc.wait()
                raise AudioEncodeError(
                    f"{enc.target.format} encoder for {enc.target.path} failed: {enc.stderr()}"
                )
        for start in range(0, len(x), _PIECE_FRAMES):  # bounded pieces: bounded queue memory
            data = np.ascontiguousarray(x[start : start + _PIECE_FRAMES], dtype="<f4").tobytes()
            for enc in self._encoders:
                enc.put(data)
        self.frames += len(x)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self._abort()
            return
        try:
            for enc in self._encoders:
                enc.finish()
        except BaseException:
            self._abort()
            raise
        try:
            for enc in self._encoders:
                _fsync(enc.temp)  # contents on disk before the name points at them
                os.replace(enc.temp, enc.target.path)
        except OSError as exc:
            self._abort()
            raise AudioEncodeError(f"cannot publish {enc.target.path}: {exc}") from exc
        for enc in self._encoders:
            enc.close()
        self._encoders = []

    def _abort(self) -> None:
        for enc in self._encoders:
            enc.abort()
        self._encoders = []


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def encode_array(samples: np.ndarray, sample_rate: int, target: EncodeTarget) -> Path:
    """Encode a whole in-memory (frames, channels) array to one target."""
    x = np.asarray(samples)
    channels = 1 if x.ndim == 1 else x.shape[1]
    with AudioWriter([target], sample_rate=sample_rate, channels=channels) as writer:
        writer.write(x)
    return target.path


def write_wav(path: Path, samples: np.ndarray, sample_rate: int, bit_depth: int = 16) -> Path:
    """Write a small array as a 16- or 24-bit WAV (atomically)."""
    return encode_array(samples, sample_rate, EncodeTarget(Path(path), "wav", bit_depth=bit_depth))
