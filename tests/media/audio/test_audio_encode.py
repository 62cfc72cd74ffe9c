"""Encoders: formats as promised (ffprobe), content round trip, atomic publishing."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from soundstage.media.audio import encode
from soundstage.media.audio.decode import probe_audio, read_audio
from soundstage.media.audio.encode import (
    AudioEncodeError,
    AudioWriter,
    EncodeTarget,
    encode_array,
    write_wav,
)
from soundstage.media.audio.loudness import measure

SECONDS = 4.0


def ffprobe_stream(path: Path) -> dict:
    cmd = ["ffprobe", "-v", "error", "-print_format", "json", "-show_streams", str(path)]
    return json.loads(subprocess.run(cmd, capture_output=True, check=True).stdout)["streams"][0]


def top_level_atoms(path: Path) -> list[str]:
    data, pos, names = path.read_bytes(), 0, []
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos : pos + 4], "big")
        names.append(data[pos + 4 : pos + 8].decode("latin-1"))
        if size < 8:
            break
        pos += size
    return names


@pytest.fixture(scope="module")
def encoded(tmp_path_factory, sig):
    """One AudioWriter, six targets, fed in uneven blocks."""
    folder = tmp_path_factory.mktemp("enc")
    x = sig.music(SECONDS)
    targets = {
        "mp3": EncodeTarget(folder / "t.mp3", "mp3", bitrate_kbps=320, mp3_quality=5),
        "aac": EncodeTarget(folder / "t.m4a", "aac", bitrate_kbps=320),
        "flac16": EncodeTarget(folder / "t.flac", "flac", bit_depth=16),
        "flac24": EncodeTarget(folder / "t24.flac", "flac", bit_depth=24),
        "wav16": EncodeTarget(folder / "t.wav", "wav", bit_depth=16),
        "wav24": EncodeTarget(folder / "sub" / "t24.wav", "wav", bit_depth=24),
    }
    seen_inside: list[str] = []
    with AudioWriter(list(targets.values())) as writer:
        for start in range(0, len(x), 12345):
            writer.write(x[start : start + 12345])
        seen_inside = [p.name for p in folder.rglob("*") if p.is_file() and p.name[0] != "."]
    return x, targets, seen_inside


def test_nothing_appears_at_final_paths_before_exit(encoded):
    _, targets, seen_inside = encoded
    assert seen_inside == []
    for target in targets.values():
        assert target.path.is_file()
    assert not [p for p in targets["mp3"].path.parent.rglob(".*.part")]


@pytest.mark.parametrize(
    ("key", "codec", "extra"),
    [
        ("mp3", "mp3", {}),
        ("aac", "aac", {}),
        ("flac16", "flac", {"bits_per_raw_sample": "16"}),
        ("flac24", "flac", {"bits_per_raw_sample": "24"}),
        ("wav16", "pcm_s16le", {}),
        ("wav24", "pcm_s24le", {}),
    ],
)
def test_ffprobe_sees_the_promised_format(encoded, key, codec, extra):
    _, targets, _ = encoded
    stream = ffprobe_stream(targets[key].path)
    assert stream["codec_name"] == codec
    assert int(stream["sample_rate"]) == 44100
    assert stream["channels"] == 2
    for name, value in extra.items():
        assert stream[name] == value


def test_bitrates(encoded):
    _, targets, _ = encoded
    assert int(ffprobe_stream(targets["mp3"].path)["bit_rate"]) == 320000  # CBR
    aac = int(ffprobe_stream(targets["aac"].path)["bit_rate"])
    assert 200000 < aac <= 330000  # ABR: simple material may use fewer bits


def test_aac_is_faststart_m4a(encoded):
    _, targets, _ = encoded
    atoms = top_level_atoms(targets["aac"].path)
    assert atoms[0] == "ftyp" and atoms.index("moov") < atoms.index("mdat")
    assert probe_audio(targets["aac"].path).tags["major_brand"].strip() == "M4A"


@pytest.mark.parametrize(("key", "slack"), [("mp3", 0), ("aac", 1024), ("flac16", 0), ("wav24", 0)])
def test_durations_are_exact(encoded, key, slack):
    x, targets, _ = encoded
    decoded = read_audio(targets[key].path)
    assert 0 <= len(decoded) - len(x) <= slack  # AAC: FFmpeg keeps the last frame's padding
    assert probe_audio(targets[key].path).duration_s == pytest.approx(SECONDS, abs=1e-6)


@pytest.mark.parametrize(("key", "tolerance"), [("flac24", 2.0**-23), ("wav16", 2.0**-14)])
def test_lossless_content_round_trip(encoded, key, tolerance):
    x, targets, _ = encoded
    decoded = read_audio(targets[key].path)
    assert np.abs(decoded - x).max() <= tolerance * 1.01


@pytest.mark.parametrize("key", ["mp3", "aac"])
def test_lossy_content_keeps_loudness_and_alignment(encoded, key):
    x, targets, _ = encoded
    decoded = read_audio(targets[key].path)[: len(x)]
    assert measure(decoded, 44100).integrated_lufs == pytest.approx(
        measure(x, 44100).integrated_lufs, abs=0.1
    )
    assert np.corrcoef(decoded[:, 0], x[:, 0])[0, 1] > 0.99  # no delay left


def test_exception_in_block_leaves_nothing(tmp_path, sig):
    final = tmp_path / "song.mp3"
    final.write_bytes(b"previous version")
    targets = [EncodeTarget(final, "mp3"), EncodeTarget(tmp_path / "song.flac", "flac")]
    with pytest.raises(KeyError), AudioWriter(targets) as writer:
        writer.write(sig.sine(440.0, 1.0))
        raise KeyError("caller failed mid-way")
    assert final.read_bytes() == b"previous version"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["song.mp3"]


def test_ffmpeg_failure_raises_with_stderr_and_cleans_up(tmp_path, sig, monkeypatch):
    real = encode.codec_args

    def broken(target):
        return (
            ["-c:a", "no_such_encoder", "-f", "flac"] if target.format == "flac" else real(target)
        )

    monkeypatch.setattr(encode, "codec_args", broken)
    targets = [EncodeTarget(tmp_path / "a.wav", "wav"), EncodeTarget(tmp_path / "a.flac", "flac")]
    with pytest.raises(AudioEncodeError, match="no_such_encoder"), AudioWriter(targets) as w:
        for _ in range(50):
            w.write(sig.sine(440.0, 0.5))
    assert list(tmp_path.iterdir()) == []


def test_convenience_functions(tmp_path, sig):
    x = sig.sine(440.0, 0.5, amp=0.25)
    wav = write_wav(tmp_path / "a.wav", x, 48000, bit_depth=24)
    assert probe_audio(wav).sample_rate == 48000
    np.testing.assert_allclose(read_audio(wav, sample_rate=48000), x, atol=2.0**-22)
    mono = encode_array(x[:, 0], 44100, EncodeTarget(tmp_path / "m.flac", "flac"))
    assert probe_audio(mono).channels == 1


def test_invalid_targets_are_refused(tmp_path):
    with pytest.raises(ValueError):
        EncodeTarget(tmp_path / "a.ogg", "ogg")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        EncodeTarget(tmp_path / "a.wav", "wav", bit_depth=8)
    with pytest.raises(ValueError):
        EncodeTarget(tmp_path / "a.mp3", "mp3", bitrate_kbps=500)
    with pytest.raises(ValueError):
        AudioWriter([EncodeTarget(tmp_path / "a.wav", "wav")] * 2)
    with pytest.raises(ValueError), AudioWriter([EncodeTarget(tmp_path / "a.wav", "wav")]) as w:
        w.write(np.zeros((10, 3), np.float32))
    assert list(tmp_path.iterdir()) == []
