"""Receiving and checking uploaded audio, before anything is stored.

`receive_upload` streams a multipart/form-data body straight into a temporary
file (python-multipart's push parser, one network chunk at a time), counting
the file's bytes and stopping with 413 as soon as it passes the limit, so an
upload is never held in memory. `inspect_audio` then asks ffprobe what the file
really is and refuses, with a message naming the file, anything that is not a
supported, readable, non-empty audio file of an accepted length, or whose
extension says something else than its content.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from soundstage.platform.errors import AppError

# Detected format → (label, canonical extension, media type).
FORMATS: dict[str, tuple[str, str, str]] = {
    "mp3": ("MP3", "mp3", "audio/mpeg"),
    "wav": ("WAV", "wav", "audio/wav"),
    "m4a": ("M4A", "m4a", "audio/mp4"),
    "flac": ("FLAC", "flac", "audio/flac"),
    "ogg": ("OGG", "ogg", "audio/ogg"),
}
EXTENSIONS = {
    ".mp3": "mp3", ".wav": "wav", ".wave": "wav", ".m4a": "m4a", ".mp4": "m4a",
    ".flac": "flac", ".ogg": "ogg", ".oga": "ogg", ".opus": "ogg",
}  # fmt: skip
ACCEPTED = "MP3, WAV, M4A, FLAC or OGG"
FILE_FIELD = "file"
MAX_FORM_OVERHEAD = 1 << 20  # room for the other form fields and multipart headers
COVER_EXTENSIONS = {"image/jpeg": "jpg", "image/jpg": "jpg", "image/png": "png"}


class UnsupportedMedia(AppError):
    status = 415


class TooLarge(AppError):
    status = 413


class Unprocessable(AppError):
    status = 422


@dataclass
class Upload:
    """A received file in a temporary path, with the form's text fields."""

    path: Path
    filename: str
    size_bytes: int = 0
    fields: dict[str, str] = field(default_factory=dict)


@dataclass
class AudioFacts:
    """What an accepted upload is, from ffprobe and its tags."""

    format: str
    content_type: str
    codec: str
    duration_s: float
    sample_rate: int
    channels: int
    bitrate_kbps: float | None
    tags: dict[str, Any]
    cover: bytes | None = None
    cover_ext: str | None = None


def human_bytes(n: int) -> str:
    if n >= 1 << 20:
        return f"{n / (1 << 20):.3g} MB"
    if n >= 1 << 10:
        return f"{n / (1 << 10):.3g} KB"
    return f"{n} bytes"


def clean_filename(raw: str | None) -> str:
    """The base name of a client-given file name, without control characters."""
    name = re.split(r"[/\\]", raw or "")[-1]
    name = "".join(c for c in name if c.isprintable()).strip()
    if len(name) > 255:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 250 - len(ext)] + dot + ext) if dot and len(ext) < 10 else name[:255]
    return name or "upload"


@contextlib.asynccontextmanager
async def receive_upload(
    request: Request,
    tmp_dir: Path,
    max_bytes: int,
    text_fields: dict[str, int] | None = None,
) -> AsyncIterator[Upload]:
    """Stream the `file` part of a multipart body into `tmp_dir`; the file is removed on exit.

    `text_fields` maps the text fields kept to their maximum length in characters;
    other fields are skipped without being kept.
    """
    text_fields = text_fields or {}
    content_type, options = parse_options_header(request.headers.get("content-type"))
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise UnsupportedMedia(f"send the audio as multipart/form-data with a {FILE_FIELD!r} field")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes + MAX_FORM_OVERHEAD:
        raise TooLarge(f"{FILE_FIELD}: the upload is over the {human_bytes(max_bytes)} limit")

    tmp_dir.mkdir(parents=True, exist_ok=True)
    upload = Upload(path=tmp_dir / f"upload-{uuid.uuid4().hex}.part", filename="")
    reader = _PartReader(upload, max_bytes, text_fields)
    parser = MultipartParser(boundary, reader.callbacks())
    try:
        try:
            async for chunk in request.stream():
                parser.write(chunk)
            parser.finalize()
        finally:
            reader.close()
        if not reader.got_file:
            raise Unprocessable(f"{FILE_FIELD}: an audio file is required ({ACCEPTED})")
        for name, data in reader.texts.items():
            upload.fields[name] = data.decode("utf-8", "replace")
        yield upload
    finally:
        upload.path.unlink(missing_ok=True)


class _PartReader:
    """python-multipart callbacks: the file part goes to disk, kept text fields to memory."""

    def __init__(self, upload: Upload, max_bytes: int, text_fields: dict[str, int]) -> None:
        self.upload, self.max_bytes, self.text_fields = upload, max_bytes, text_fields
        self.texts: dict[str, bytearray] = {}
        self.got_file = False
        self._file: Any = None
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._headers: dict[bytes, bytes] = {}
        self._target: str | None = None  # "file", a text field name, or None (skipped)

    def callbacks(self) -> dict[str, Any]:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda d, s, e: self._header_field.extend(d[s:e]),
            "on_header_value": lambda d, s, e: self._header_value.extend(d[s:e]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }

    def _part_begin(self) -> None:
        self._headers, self._target = {}, None

    def _header_end(self) -> None:
        self._headers[bytes(self._header_field).lower()] = bytes(self._header_value)
        self._header_field.clear()
        self._header_value.clear()

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition"))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        if name == FILE_FIELD:
            if self.got_file:
                raise Unprocessable(f"{FILE_FIELD}: send one file per upload")
            self.got_file = True
            self.upload.filename = clean_filename(
                filename.decode("utf-8", "replace") if filename is not None else None
            )
            self._file = self.upload.path.open("wb")
            self._target = FILE_FIELD
        elif name in self.text_fields:  # a plain field, or a small text file
            self.texts[name] = bytearray()
            self._target = name

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._target == FILE_FIELD:
            self.upload.size_bytes += end - start
            if self.upload.size_bytes > self.max_bytes:
                raise TooLarge(
                    f"{FILE_FIELD}: {self.upload.filename} is over the "
                    f"{human_bytes(self.max_bytes)} upload limit"
                )
            self._file.write(data[start:end])
        elif self._target is not None:
            text = self.texts[self._target]
            text.extend(data[start:end])
            limit = self.text_fields[self._target]
            if len(text) > 4 * limit or len(text.decode("utf-8", "ignore")) > limit:
                raise Unprocessable(f"{self._target}: at most {limit} characters")

    def _part_end(self) -> None:
        if self._target == FILE_FIELD:
            self._file.close()
            self._file = None
        self._target = None

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


# ----------------------------------------------------------------------------- checks


def detected_format(format_name: str, codec: str) -> str | None:
    """Our format name for what ffprobe found, or None when it is not one we accept."""
    names = set(format_name.split(","))
    if "mp3" in names or (codec == "mp3" and not names & {"wav", "mov", "ogg"}):
        return "mp3"
    if "wav" in names:
        return "wav"
    if "flac" in names:
        return "flac"
    if "ogg" in names:
        return "ogg"
    if "mov" in names or "mp4" in names or "m4a" in names:
        return "m4a"
    return None


def _minutes(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def inspect_audio(
    path: Path, filename: str, max_duration_s: float, *, with_cover: bool = True
) -> AudioFacts:
    """Probe an uploaded file; raise `Unprocessable` (422) naming the file if it is refused."""
    from soundstage.media.audio.decode import probe_audio, read_chunks
    from soundstage.media.audio.errors import AudioDecodeError

    if path.stat().st_size == 0:
        raise Unprocessable(f"{filename} is empty (0 bytes)")
    claimed = EXTENSIONS.get(Path(filename).suffix.lower())
    if claimed is None:
        raise Unprocessable(
            f"{filename}: unsupported file type; upload {ACCEPTED} audio "
            f"(one of {', '.join(sorted(EXTENSIONS))})"
        )
    try:
        info = probe_audio(path)
    except AudioDecodeError:
        raise Unprocessable(
            f"{filename} is not a readable audio file (corrupt, or not audio at all)"
        ) from None
    actual = detected_format(info.format_name, info.codec)
    if actual is None:
        raise Unprocessable(
            f"{filename} is {info.codec or 'unknown'} audio in a "
            f"{info.format_name or 'unknown'} container, which is not supported; "
            f"upload {ACCEPTED} audio"
        )
    if actual != claimed:
        label, ext = FORMATS[actual][0], FORMATS[actual][1]
        raise Unprocessable(
            f"{filename} is really {label} audio, not {FORMATS[claimed][0]}; "
            f"rename it with a .{ext} extension or upload the right file"
        )
    if info.duration_s <= 0 or info.sample_rate <= 0 or info.channels <= 0:
        raise Unprocessable(f"{filename} holds no audio (zero duration)")
    if info.duration_s > max_duration_s:
        raise Unprocessable(
            f"{filename} is {_minutes(info.duration_s)} long; songs can be at most "
            f"{max_duration_s:g} s ({_minutes(max_duration_s)})"
        )
    try:  # ffprobe reads headers only: decode the first seconds to be sure there is audio
        chunks = read_chunks(path, 8000, 1, chunk_frames=8000 * 5)
        first = next(chunks, None)
        chunks.close()
    except AudioDecodeError:
        first = None
    if first is None or len(first) == 0:
        raise Unprocessable(f"{filename} is corrupt: its audio cannot be decoded")

    tags, cover, cover_ext = _tags(path, info.tags, with_cover)
    return AudioFacts(
        format=actual, content_type=FORMATS[actual][2], codec=info.codec,
        duration_s=info.duration_s, sample_rate=info.sample_rate, channels=info.channels,
        bitrate_kbps=info.bitrate_kbps, tags=tags, cover=cover, cover_ext=cover_ext,
    )  # fmt: skip


def _tags(
    path: Path, probed: dict[str, str], with_cover: bool
) -> tuple[dict[str, Any], bytes | None, str | None]:
    """Title, artist, album, comment, year (mutagen, else ffprobe) and the front cover."""
    from soundstage.media.audio.tags import read_tags

    try:
        read = read_tags(path)
    except Exception:  # tags are a bonus: OGG, odd or broken tags are simply not read
        read = {}
    tags: dict[str, Any] = {}
    for name in ("title", "artist", "album", "comment", "year"):
        value = read.get(name)
        if value is None:
            value = probed.get("date" if name == "year" else name)
        if value not in (None, ""):
            tags[name] = value
    cover, mime = read.get("cover"), (read.get("cover_mime") or "").lower()
    if not with_cover or not cover:
        return tags, None, None
    ext = COVER_EXTENSIONS.get(mime)
    if ext is None:
        ext = "png" if cover.startswith(b"\x89PNG") else "jpg" if cover[:2] == b"\xff\xd8" else None
    return tags, (cover if ext else None), ext
