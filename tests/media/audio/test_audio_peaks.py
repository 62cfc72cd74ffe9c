"""Waveform peaks: one max amplitude per bucket, streamed from any decodable file."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from soundstage.media.audio.peaks import waveform_peaks

SR = 44100


def _write(path, signal: np.ndarray) -> None:
    sf.write(path, signal.astype(np.float32), SR)


def test_peaks_follow_the_envelope_bucket_by_bucket(tmp_path):
    t = np.arange(SR * 40) / SR
    gain = np.select([t < 10, t < 30], [0.1, 0.5], 0.9)  # three plateaus over 40 s
    _write(tmp_path / "steps.wav", np.sin(2 * np.pi * 110 * t) * gain)
    peaks = waveform_peaks(tmp_path / "steps.wav", 40.0, points=40)
    assert peaks.shape == (40,) and peaks.dtype == np.float32
    np.testing.assert_allclose(peaks[1:9], 0.1, atol=0.01)
    np.testing.assert_allclose(peaks[11:29], 0.5, atol=0.02)
    np.testing.assert_allclose(peaks[31:39], 0.9, atol=0.03)


def test_a_short_burst_lands_in_its_own_bucket_across_decode_chunks(tmp_path):
    signal = np.zeros(SR * 75)  # longer than one 30 s decode chunk at the peaks rate
    burst = np.arange(int(SR * 0.02))  # 20 ms of 200 Hz: survives the low peaks sample rate
    signal[int(SR * 61.5) + burst] = 0.8 * np.sin(2 * np.pi * 200 * burst / SR)
    _write(tmp_path / "burst.wav", signal)
    peaks = waveform_peaks(tmp_path / "burst.wav", 75.0, points=75)
    assert int(np.argmax(peaks)) == 61
    assert peaks[61] > 0.6 and np.count_nonzero(peaks > 0.05) <= 2


def test_audio_past_the_stated_duration_folds_into_the_last_bucket(tmp_path):
    _write(tmp_path / "loud.wav", np.full(SR * 4, 0.6))
    peaks = waveform_peaks(tmp_path / "loud.wav", 2.0, points=10)
    assert peaks.shape == (10,) and float(peaks[-1]) == pytest.approx(0.6, abs=0.02)


@pytest.mark.parametrize(("duration_s", "points"), [(0.0, 10), (10.0, 0)])
def test_bad_parameters_are_refused(tmp_path, duration_s, points):
    _write(tmp_path / "a.wav", np.zeros(SR))
    with pytest.raises(ValueError):
        waveform_peaks(tmp_path / "a.wav", duration_s, points)
