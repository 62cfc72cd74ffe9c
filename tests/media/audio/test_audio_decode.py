"""Decoding and probing through FFmpeg."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from soundstage.media.audio.decode import (
    AudioDecodeError,
    probe_audio,
    read_audio,
    read_chunks,
)


@pytest.fixture
def float_wav(tmp_path, sig):
    x = sig.music(3.0)
    path = tmp_path / "in put.wav"  # a space, to check quoting
    sf.write(path, x, sig.fs, subtype="FLOAT")
    return path, x


def test_chunks_have_the_requested_size_and_exact_content(float_wav):
    path, x = float_wav
    chunks = list(read_chunks(path, chunk_frames=50000))
    assert [len(c) for c in chunks[:-1]] == [50000] * (len(chunks) - 1)
    assert 0 < len(chunks[-1]) <= 50000
    assert all(c.dtype == np.float32 and c.shape[1] == 2 for c in chunks)
    np.testing.assert_array_equal(np.concatenate(chunks), x)


def test_resampling_and_channel_mapping(float_wav):
    path, x = float_wav
    y = read_audio(path, sample_rate=22050, channels=1)
    assert y.shape == (len(x) // 2, 1)
    mono_mean = x.mean(axis=1)[::2]
    assert np.corrcoef(y[100:-100, 0], mono_mean[100:-100])[0, 1] > 0.99


def test_stopping_early_is_clean(float_wav):
    path, _ = float_wav
    gen = read_chunks(path, chunk_frames=1000)
    first = next(gen)
    gen.close()  # kills FFmpeg, no exception
    assert first.shape == (1000, 2)


def test_probe(float_wav):
    path, x = float_wav
    info = probe_audio(path)
    assert info.sample_rate == 44100 and info.channels == 2
    assert info.codec == "pcm_f32le" and info.format_name == "wav"
    assert info.duration_s == pytest.approx(len(x) / 44100, abs=1e-6)
    assert info.bitrate_kbps == pytest.approx(44100 * 2 * 32 / 1000, rel=0.01)


@pytest.mark.parametrize("content", [b"", b"not audio at all\n" * 100, bytes(range(256)) * 64])
def test_garbage_raises_clear_errors(tmp_path, content):
    path = tmp_path / "bad.mp3"
    path.write_bytes(content)
    with pytest.raises(AudioDecodeError, match=r"bad\.mp3"):
        probe_audio(path)
    with pytest.raises(AudioDecodeError, match=r"bad\.mp3"):
        read_audio(path)


def test_missing_and_non_audio_files(tmp_path, sig):
    with pytest.raises(AudioDecodeError, match="no such file"):
        probe_audio(tmp_path / "missing.wav")
    png = tmp_path / "image.png"
    from PIL import Image

    Image.new("RGB", (8, 8)).save(png)
    with pytest.raises(AudioDecodeError, match="no audio stream"):
        probe_audio(png)
