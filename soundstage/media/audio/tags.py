"""Metadata tags (title, artist, album, comment, year, front cover) via mutagen.

MP3 and WAV get ID3v2.4 frames (TIT2, TPE1, TALB, COMM, TDRC, APIC), M4A the
iTunes atoms (©nam, ©ART, ©alb, ©cmt, ©day, covr), FLAC Vorbis comments
(TITLE, ARTIST, ALBUM, COMMENT, DATE) and a PICTURE block. Fields passed as
``None`` are left as they are. Tags are written in place: tag the temporary
file before publishing it if the file must appear complete at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mutagen import MutagenError
from mutagen.flac import FLAC, Picture
from mutagen.id3 import APIC, COMM, ID3, TALB, TDRC, TIT2, TPE1, ID3NoHeaderError
from mutagen.mp4 import MP4, MP4Cover
from mutagen.wave import WAVE

from soundstage.media.audio.errors import AudioError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
COVER_TYPE_FRONT = 3


class TagError(AudioError):
    """The file type is not supported or the tags could not be written."""


def _kind(path: Path) -> str:
    """'mp3', 'm4a', 'flac' or 'wav' from the file's first bytes."""
    with path.open("rb") as f:
        head = f.read(12)
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "mp3"
    if head[4:8] == b"ftyp":
        return "m4a"
    if head.startswith(b"fLaC"):
        return "flac"
    if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return "wav"
    raise TagError(f"{path}: unsupported file type for tags")


def _cover(cover_png: Path | None) -> bytes | None:
    if cover_png is None:
        return None
    data = Path(cover_png).read_bytes()
    if not data.startswith(PNG_SIGNATURE):
        raise TagError(f"{cover_png}: not a PNG file")
    return data


def write_tags(
    path: Path,
    *,
    title: str,
    artist: str,
    album: str | None = None,
    comment: str | None = None,
    year: int | None = None,
    cover_png: Path | None = None,
) -> None:
    """Write tags into an MP3, M4A, FLAC or WAV file (format sniffed from content)."""
    path = Path(path)
    fields = {"title": title, "artist": artist, "album": album, "comment": comment}
    fields["year"] = str(year) if year is not None else None
    cover = _cover(cover_png)
    writer = {"mp3": _write_id3, "wav": _write_id3, "m4a": _write_mp4, "flac": _write_flac}
    try:
        writer[_kind(path)](path, fields, cover)
    except MutagenError as exc:
        raise TagError(f"{path}: cannot write tags: {exc}") from exc


def _write_id3(path: Path, fields: dict[str, str | None], cover: bytes | None) -> None:
    if _kind(path) == "wav":
        wave = WAVE(path)
        if wave.tags is None:
            wave.add_tags()
        tags = wave.tags
    else:
        try:
            tags = ID3(path)
        except ID3NoHeaderError:
            tags = ID3()
    frames = {"title": TIT2, "artist": TPE1, "album": TALB, "year": TDRC}
    for key, frame in frames.items():
        if fields[key] is not None:
            tags.setall(frame.__name__, [frame(encoding=3, text=[fields[key]])])
    if fields["comment"] is not None:
        tags.setall("COMM", [COMM(encoding=3, lang="eng", desc="", text=[fields["comment"]])])
    if cover is not None:
        apic = APIC(encoding=3, mime="image/png", type=COVER_TYPE_FRONT, desc="Cover", data=cover)
        tags.setall("APIC", [apic])
    if _kind(path) == "wav":
        wave.save(v2_version=4)
    else:
        tags.save(path, v2_version=4)


def _write_mp4(path: Path, fields: dict[str, str | None], cover: bytes | None) -> None:
    mp4 = MP4(path)
    if mp4.tags is None:
        mp4.add_tags()
    atoms = {"title": "\xa9nam", "artist": "\xa9ART", "album": "\xa9alb", "comment": "\xa9cmt"}
    atoms["year"] = "\xa9day"
    for key, atom in atoms.items():
        if fields[key] is not None:
            mp4.tags[atom] = [fields[key]]
    if cover is not None:
        mp4.tags["covr"] = [MP4Cover(cover, imageformat=MP4Cover.FORMAT_PNG)]
    mp4.save()


def _write_flac(path: Path, fields: dict[str, str | None], cover: bytes | None) -> None:
    flac = FLAC(path)
    if flac.tags is None:
        flac.add_tags()
    names = {"title": "TITLE", "artist": "ARTIST", "album": "ALBUM", "comment": "COMMENT"}
    names["year"] = "DATE"
    for key, name in names.items():
        if fields[key] is not None:
            flac.tags[name] = [fields[key]]
    if cover is not None:
        picture = Picture()
        picture.type = COVER_TYPE_FRONT
        picture.mime = "image/png"
        picture.desc = "Cover"
        picture.data = cover
        picture.width, picture.height = _png_size(cover)
        picture.depth = 24
        flac.clear_pictures()
        flac.add_picture(picture)
    flac.save()


def _png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def read_tags(path: Path) -> dict[str, Any]:
    """Read tags back: title, artist, album, comment, year (int), cover (bytes), cover_mime."""
    path = Path(path)
    kind = _kind(path)
    if kind in ("mp3", "wav"):
        return _read_id3(path, kind)
    if kind == "m4a":
        return _read_mp4(path)
    return _read_flac(path)


def _result(title=None, artist=None, album=None, comment=None, year=None, cover=None, mime=None):
    return {
        "title": title,
        "artist": artist,
        "album": album,
        "comment": comment,
        "year": _year(year),
        "cover": cover,
        "cover_mime": mime if cover is not None else None,
    }


def _year(value: object) -> int | None:
    text = str(value or "")[:4]
    return int(text) if text.isdigit() else None


def _read_id3(path: Path, kind: str) -> dict[str, Any]:
    if kind == "wav":
        tags = WAVE(path).tags
    else:
        try:
            tags = ID3(path)
        except ID3NoHeaderError:
            tags = None
    if tags is None:
        return _result()

    def text(frame_id: str) -> str | None:
        frames = tags.getall(frame_id)
        return str(frames[0].text[0]) if frames and frames[0].text else None

    covers = [f for f in tags.getall("APIC") if f.type == COVER_TYPE_FRONT] or tags.getall("APIC")
    cover = covers[0] if covers else None
    return _result(
        text("TIT2"), text("TPE1"), text("TALB"), text("COMM"), text("TDRC"),
        cover.data if cover else None, cover.mime if cover else None,
    )  # fmt: skip


def _read_mp4(path: Path) -> dict[str, Any]:
    tags = MP4(path).tags or {}

    def text(atom: str) -> str | None:
        values = tags.get(atom)
        return str(values[0]) if values else None

    covers = tags.get("covr") or []
    cover = bytes(covers[0]) if covers else None
    mime = None
    if covers:
        mime = "image/png" if covers[0].imageformat == MP4Cover.FORMAT_PNG else "image/jpeg"
    return _result(
        text("\xa9nam"), text("\xa9ART"), text("\xa9alb"), text("\xa9cmt"), text("\xa9day"),
        cover, mime,
    )  # fmt: skip


def _read_flac(path: Path) -> dict[str, Any]:
    flac = FLAC(path)
    tags = flac.tags

    def text(name: str) -> str | None:
        values = tags.get(name) if tags is not None else None
        return str(values[0]) if values else None

    pictures = [p for p in flac.pictures if p.type == COVER_TYPE_FRONT] or flac.pictures
    cover = pictures[0] if pictures else None
    return _result(
        text("TITLE"), text("ARTIST"), text("ALBUM"), text("COMMENT"), text("DATE"),
        cover.data if cover else None, cover.mime if cover else None,
    )  # fmt: skip
