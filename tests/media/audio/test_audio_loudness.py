"""Loudness meter: BS.1770 calibration, pyloudnorm and FFmpeg agreement, streaming."""

from __future__ import annotations

import json
import math

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf

from soundstage.media.audio import _oversample as ovs
from soundstage.media.audio.loudness import (
    LoudnessMeter,
    LoudnessReport,
    k_weighting_sos,
    measure,
    measure_file,
)


def test_k_weighting_matches_bs1770_tables_at_48k():
    sos = k_weighting_sos(48000)
    np.testing.assert_allclose(sos[0, :3], [1.53512485958697, -2.69169618940638, 1.19839281085285])
    np.testing.assert_allclose(sos[0, 4:], [-1.69065929318241, 0.73248077421585])
    np.testing.assert_allclose(sos[1, 4:], [-1.99004745483398, 0.99007225036621])


def test_full_scale_997hz_sine_in_one_channel_reads_minus_3_01(sig):
    x = sig.sine(997.0, 5.0, amp=1.0, fs=48000)
    x[:, 1] = 0.0
    assert measure(x, 48000).integrated_lufs == pytest.approx(-3.01, abs=0.02)


@pytest.mark.parametrize("name", ["sine", "pink", "music"])
def test_integrated_agrees_with_pyloudnorm(sig, name):
    x = {
        "sine": sig.sine(440.0, 8.0, amp=0.3),
        "pink": sig.pink(10.0),
        "music": sig.music(20.0),
    }[name]
    ours = measure(x, sig.fs).integrated_lufs
    ref = pyloudnorm.Meter(sig.fs).integrated_loudness(x.astype(np.float64))
    assert ours == pytest.approx(ref, abs=0.1)


@pytest.mark.parametrize("name", ["pink", "music", "steps"])
def test_agrees_with_ffmpeg_ebur128(sig, ebur128, name):
    x = {
        "pink": sig.pink(10.0, rms=0.2),
        "music": sig.music(16.0, gain=2.0),
        "steps": sig.steps([-20.0, -30.0, -20.0], 7.0),
    }[name]
    ours, ref = measure(x, sig.fs), ebur128(x)
    assert ours.integrated_lufs == pytest.approx(ref["I"], abs=0.2)
    assert ours.loudness_range_lu == pytest.approx(ref["LRA"], abs=0.2)
    assert ours.true_peak_dbtp == pytest.approx(ref["TP"], abs=0.2)


def test_loudness_range_of_a_10_lu_step_is_10(sig):
    x = sig.steps([-20.0, -30.0], 20.0)
    assert measure(x, sig.fs).loudness_range_lu == pytest.approx(10.0, abs=0.1)


def test_relative_gate_ignores_silence(sig):
    tone = sig.sine(1000.0, 10.0, amp=0.1)
    padded = np.concatenate([tone, np.zeros_like(tone), tone])
    # Ungated, a third of silence would lower the result by 1.76 LU; only the
    # partly silent blocks at the two edges may count.
    assert measure(padded, sig.fs).integrated_lufs == pytest.approx(
        measure(tone, sig.fs).integrated_lufs, abs=0.1
    )


def test_true_peak_of_quarter_rate_sine_at_45_degrees(sig, ebur128):
    x = sig.fade(sig.sine(sig.fs / 4, 3.0, amp=0.5, phase=math.pi / 4), sig.fs, 0.5)
    report = measure(x, sig.fs)
    assert report.sample_peak_dbfs == pytest.approx(-6.02 - 3.01, abs=0.01)
    assert report.true_peak_dbtp == pytest.approx(-6.02, abs=0.05)
    assert report.true_peak_dbtp == pytest.approx(ebur128(x)["TP"], abs=0.05)


def test_results_do_not_depend_on_block_size(sig):
    x = sig.music(12.0, gain=3.0)
    whole = measure(x, sig.fs)
    rng = np.random.default_rng(0)
    for sizes in ([1, 7, 4410, 99999], list(rng.integers(1, 20000, 50))):
        meter = LoudnessMeter(sig.fs)
        pos, i = 0, 0
        while pos < len(x):
            meter.add(x[pos : pos + int(sizes[i % len(sizes)])])
            pos += int(sizes[i % len(sizes)])
            i += 1
        assert meter.report() == whole


def test_skipping_quiet_regions_keeps_true_peak_exact(sig):
    x = sig.music(6.0, gain=2.0) * np.linspace(0.05, 1.0, int(6.0 * sig.fs))[:, None]
    z = np.concatenate([np.zeros((2, ovs.TAPS - 1), np.float32), x.T.astype(np.float32)], axis=1)
    full = max(float(np.abs(x).max()), float(ovs.interval_peaks(z).max()))
    assert ovs.max_interval_peak(z, float(np.abs(x).max())) == full


def test_silence_is_minus_inf_and_json_safe(sig):
    report = measure(np.zeros((sig.fs * 2, 2), np.float32), sig.fs)
    assert report.integrated_lufs == -math.inf
    assert report.true_peak_dbtp == -math.inf
    assert report.loudness_range_lu == 0.0
    data = report.to_dict()
    assert data["integrated_lufs"] is None and data["duration_s"] == 2.0
    json.dumps(data, allow_nan=False)


def test_report_mid_stream_and_memory_is_one_float_per_100ms(sig):
    x = sig.pink(6.0)
    meter = LoudnessMeter(sig.fs)
    meter.add(x[: 3 * sig.fs])
    first = meter.report()
    meter.add(x[3 * sig.fs :])
    assert first.duration_s == 3.0
    assert meter.report() == measure(x, sig.fs)
    assert len(meter.segments) == 60


def test_mono_and_48k(sig):
    x = sig.sine(1000.0, 5.0, amp=0.25, fs=48000)[:, 0]
    ref = pyloudnorm.Meter(48000).integrated_loudness(x.astype(np.float64))
    assert measure(x, 48000).integrated_lufs == pytest.approx(ref, abs=0.05)


def test_measure_file_matches_in_memory(sig, tmp_path):
    x = sig.music(8.0)
    path = tmp_path / "m.wav"
    sf.write(path, x, sig.fs, subtype="FLOAT")
    from_file = measure_file(path, chunk_s=1.3)
    assert from_file == measure(x, sig.fs)
    assert isinstance(from_file, LoudnessReport)


def test_rejects_wrong_channel_count(sig):
    with pytest.raises(ValueError):
        LoudnessMeter(sig.fs, 2).add(np.zeros((10, 3), np.float32))
