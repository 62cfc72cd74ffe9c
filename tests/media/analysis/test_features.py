"""Block-wise frame features and shared spectrogram helpers: same values, bounded memory.

The block-wise code paths must give the values of the straightforward
whole-signal formulas (checked with blocks forced small), and the derived
features must not allocate signal-sized temporaries (checked with tracemalloc,
which sees numpy's buffers).
"""

from __future__ import annotations

import tracemalloc

import librosa
import numpy as np
import pytest
from analysis_signals import SR, rock_like, speech_like
from scipy.fft import dct

from soundstage.media.analysis import _onset, features
from soundstage.media.analysis.analyze import analyze_signal
from soundstage.media.analysis.features import EPS, compute_features


@pytest.fixture
def small_blocks(monkeypatch):
    """Force several blocks on short signals."""
    monkeypatch.setattr(features, "MEL_BLOCK", 37)
    monkeypatch.setattr(features, "HPSS_BLOCK", 53)
    monkeypatch.setattr(_onset, "_SCAN_SAMPLES", 1000)
    monkeypatch.setattr(_onset, "_FFT_ROWS", 7)


def test_derived_features_match_whole_signal_formulas(small_blocks):
    y = rock_like(4) + speech_like(4, seed=2)
    f = compute_features(y)
    db = 10.0 * np.log10(np.maximum(f.mel, EPS))
    db = np.maximum(db, db.max() - 80.0).astype(np.float32)
    np.testing.assert_array_equal(f.mel_db, db)
    np.testing.assert_allclose(f.mfcc, dct(db, axis=0, type=2, norm="ortho")[:13], atol=1e-3)
    flux = np.maximum(0.0, np.diff(db, axis=1)).mean(axis=0)
    np.testing.assert_allclose(f.onset_env, np.concatenate([[0.0], flux]), atol=1e-5)
    g = compute_features(y)  # without the cached log-mel: computed block by block
    np.testing.assert_allclose(g.mfcc, f.mfcc, atol=1e-3)
    np.testing.assert_array_equal(g.onset_env, f.onset_env)


def test_hpss_frames_are_the_sums_of_the_full_split(small_blocks):
    f = compute_features(rock_like(4))
    harm_sum, perc_sum, voice_sum = f.hpss_frames  # block by block, no full H and P
    g = compute_features(rock_like(4))
    harm, perc = g.hpss
    assert harm.shape == perc.shape == g.mel.shape
    np.testing.assert_allclose(harm + perc, g.mel, rtol=1e-4, atol=1e-9)
    np.testing.assert_allclose(harm_sum, harm.sum(axis=0), rtol=1e-5)
    np.testing.assert_allclose(perc_sum, perc.sum(axis=0), rtol=1e-5)
    voice = g.band(*features.VOICE_BAND_HZ)
    np.testing.assert_allclose(voice_sum, harm[voice].sum(axis=0), rtol=1e-5)
    np.testing.assert_array_equal(np.stack(g.hpss_frames), np.stack(f.hpss_frames))


def test_derived_features_need_no_full_size_temporaries(monkeypatch):
    """hpss_frames, MFCC and onset envelope allocate less than one log-mel-sized array
    beyond their outputs (the whole-signal versions held H, P and the log-mel: 3×)."""
    monkeypatch.setattr(features, "MEL_BLOCK", 128)
    monkeypatch.setattr(features, "HPSS_BLOCK", 128)
    f = compute_features(rock_like(240))
    tracemalloc.start()
    try:
        _ = f.hpss_frames, f.mfcc, f.onset_env
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    outputs = 3 * f.n_frames * 4 + f.mfcc.nbytes + f.onset_env.nbytes
    assert peak - outputs < f.mel.nbytes


def test_stft_blocks_match_librosa_power_spectrogram(small_blocks):
    y = speech_like(3)
    for n_fft, hop in ((2048, 512), (4096, 1024)):
        blocks = list(_onset.stft_blocks(y, n_fft, hop, block_frames=11))
        power = np.concatenate(blocks, axis=1)
        ref = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop, pad_mode="constant")) ** 2
        assert power.shape == ref.shape
        np.testing.assert_allclose(power, ref, rtol=1e-3, atol=1e-6 * ref.max())


def test_reduce_spectrogram_keeps_per_frame_and_per_block_reducers(small_blocks):
    y = speech_like(2)
    blocks = list(_onset.stft_blocks(y, 2048, 512))
    per_frame, per_block = _onset.reduce_spectrogram(
        y, 2048, 512, [lambda p: p[:3], lambda p: p.sum(axis=1, keepdims=True)]
    )
    np.testing.assert_array_equal(per_frame, np.concatenate([b[:3] for b in blocks], axis=1))
    assert per_block.shape == (1025, len(blocks))


def test_resample_is_librosas_soxr_mq():
    y = speech_like(1.3)
    for sr, target in ((22050, 11025), (44100, 22050), (16000, 22050)):
        ref = librosa.resample(y, orig_sr=sr, target_sr=target, res_type="soxr_mq")
        np.testing.assert_array_equal(_onset.resample(y, sr, target), ref)


def test_whole_signal_checks(small_blocks):
    y = rock_like(1)
    assert _onset.signal_rms(y) == pytest.approx(float(np.sqrt(np.mean(y.astype(float) ** 2))))
    assert _onset.signal_rms(np.zeros(0, np.float32)) == 0.0
    assert _onset.all_finite(y)
    y[-3] = np.inf
    assert not _onset.all_finite(y)
    out = _onset.to_mono_rate(y, SR, SR)
    assert np.isfinite(out).all() and out[-3] == 0.0


def test_non_finite_input_is_cleaned_without_touching_the_callers_array():
    y = rock_like(6)
    y[1000:1100] = np.nan
    y[5000] = np.inf
    result = analyze_signal(y, SR)
    assert np.isnan(y[1000]) and np.isinf(y[5000])  # the caller's samples are left alone
    assert result.loudness_lufs is not None and np.isfinite(result.loudness_lufs)
    assert all(np.isfinite(v) for v in result.descriptors.values())
    resampled = analyze_signal(y[::2].copy(), SR // 2)  # cleaned before resampling
    assert resampled.duration_s == pytest.approx(6.0, abs=0.01)


def test_serial_steps_for_long_signals_give_the_same_result(monkeypatch):
    from soundstage.media.analysis import analyze

    y = rock_like(8)
    together = analyze_signal(y, SR)
    monkeypatch.setattr(analyze, "SERIAL_ABOVE_S", 0.0)
    one_by_one = analyze_signal(y, SR)
    assert one_by_one == together


def test_decoded_non_finite_samples_become_silence(tmp_path):
    sf = pytest.importorskip("soundfile")
    from soundstage.media.analysis.analyze import decode_mono
    from soundstage.media.audio.decode import ffmpeg_available

    if not ffmpeg_available():
        pytest.skip("needs ffmpeg")
    y = rock_like(3)
    y[SR : SR + 50] = np.nan
    path = tmp_path / "nan.wav"
    sf.write(path, y, SR, subtype="FLOAT")
    decoded = decode_mono(path, channels=1, duration_s=3.0)
    assert np.isfinite(decoded).all()
    assert len(decoded) == len(y)
