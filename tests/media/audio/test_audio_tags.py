"""Tags written with write_tags and read back with mutagen itself."""

from __future__ import annotations

import io

import numpy as np
import pytest
from mutagen.flac import FLAC
from mutagen.id3 import ID3
from mutagen.mp4 import MP4, MP4Cover
from mutagen.wave import WAVE
from PIL import Image

from soundstage.media.audio.decode import probe_audio
from soundstage.media.audio.encode import EncodeTarget, encode_array
from soundstage.media.audio.tags import TagError, read_tags, write_tags

FIELDS = {"title": "Nocturne — «Ø»", "artist": "Soundstage", "album": "Night", "comment": "hi"}


@pytest.fixture(scope="module")
def cover(tmp_path_factory):
    path = tmp_path_factory.mktemp("cover") / "cover.png"
    Image.new("RGB", (64, 48), (200, 30, 90)).save(path)
    return path


def make(tmp_path, fmt: str, name: str):
    x = np.zeros((44100 // 2, 2), np.float32)
    return encode_array(x, 44100, EncodeTarget(tmp_path / name, fmt))  # type: ignore[arg-type]


def test_mp3_id3v24_frames(tmp_path, cover):
    path = make(tmp_path, "mp3", "a.mp3")
    write_tags(path, **FIELDS, year=2024, cover_png=cover)
    id3 = ID3(path)
    assert id3.version[:2] == (2, 4)
    assert str(id3["TIT2"]) == FIELDS["title"] and str(id3["TPE1"]) == "Soundstage"
    assert str(id3["TALB"]) == "Night" and str(id3["TDRC"]) == "2024"
    assert id3.getall("COMM")[0].text == ["hi"]
    apic = id3.getall("APIC")[0]
    assert apic.type == 3 and apic.mime == "image/png" and apic.data == cover.read_bytes()
    assert probe_audio(path).duration_s == pytest.approx(0.5, abs=1e-6)  # still decodable


def test_m4a_atoms(tmp_path, cover):
    path = make(tmp_path, "aac", "a.m4a")
    write_tags(path, **FIELDS, year=2024, cover_png=cover)
    tags = MP4(path).tags
    assert tags["\xa9nam"] == [FIELDS["title"]] and tags["\xa9ART"] == ["Soundstage"]
    assert tags["\xa9alb"] == ["Night"] and tags["\xa9day"] == ["2024"]
    assert tags["\xa9cmt"] == ["hi"]
    covr = tags["covr"][0]
    assert covr.imageformat == MP4Cover.FORMAT_PNG and bytes(covr) == cover.read_bytes()
    assert probe_audio(path).codec == "aac"


def test_flac_vorbis_comments_and_picture(tmp_path, cover):
    path = make(tmp_path, "flac", "a.flac")
    write_tags(path, **FIELDS, year=2024, cover_png=cover)
    flac = FLAC(path)
    assert flac["TITLE"] == [FIELDS["title"]] and flac["DATE"] == ["2024"]
    pic = flac.pictures[0]
    assert pic.type == 3 and (pic.width, pic.height) == (64, 48)
    assert Image.open(io.BytesIO(pic.data)).size == (64, 48)


def test_wav_id3_chunk(tmp_path):
    path = make(tmp_path, "wav", "a.wav")
    write_tags(path, title="T", artist="A")
    assert str(WAVE(path).tags["TIT2"]) == "T"


@pytest.mark.parametrize(("fmt", "name"), [("mp3", "b.mp3"), ("aac", "b.m4a"), ("flac", "b.flac")])
def test_read_tags_round_trip_and_none_keeps_fields(tmp_path, cover, fmt, name):
    path = make(tmp_path, fmt, name)
    assert read_tags(path)["title"] is None
    write_tags(path, **FIELDS, year=2023, cover_png=cover)
    write_tags(path, title="Renamed", artist="Soundstage")  # album etc. stay
    tags = read_tags(path)
    assert tags["title"] == "Renamed" and tags["album"] == "Night" and tags["year"] == 2023
    assert tags["comment"] == "hi"
    assert tags["cover"] == cover.read_bytes() and tags["cover_mime"] == "image/png"


def test_refuses_non_png_cover_and_unknown_files(tmp_path):
    path = make(tmp_path, "mp3", "a.mp3")
    jpeg = tmp_path / "c.jpg"
    Image.new("RGB", (4, 4)).save(jpeg, format="JPEG")
    with pytest.raises(TagError):
        write_tags(path, title="t", artist="a", cover_png=jpeg)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(TagError):
        write_tags(text, title="t", artist="a")
