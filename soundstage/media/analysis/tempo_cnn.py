"""Tempo class probabilities from a CNN trained on real recordings (TempoCNN).

The model is Schreiber & Müller's single-step tempo classifier ("A single-step
approach to musical tempo estimation using a convolutional neural network",
ISMIR 2018), model file ``cnn.h5`` of the ``tempocnn`` package (AGPL-3.0),
trained on annotated commercial and dance recordings. It maps 11.9 s of a
40-band mel spectrogram to probabilities of 256 tempo classes, 30–285 BPM.
rhythm.py uses it to choose the metrical level (the octave), where hand-made
rules are weakest; the exact tempo and the beats still come from our own
signal processing. Only the model file is used, evaluated by `_keras_h5`.

When the package is not installed, `tempo_distribution` returns None and
rhythm falls back to its rules alone.
"""

from __future__ import annotations

import functools
from pathlib import Path

import librosa
import numpy as np

from soundstage.media.analysis._keras_h5 import KerasModel, load_keras_h5
from soundstage.media.analysis._models import shipped_file

MODEL_SR = 11025
N_FFT = 1024
HOP = 512
N_MELS = 40
FMIN, FMAX = 20.0, 5000.0
WINDOW = 256  # frames per model input (≈ 11.9 s)
MIN_BPM = 30.0  # class k is MIN_BPM + k
MAX_WINDOWS = 12  # evenly spread over the file: bounded cost for long files


def default_model_path() -> Path | None:
    """The model file inside the installed tempocnn wheel, or None."""
    return shipped_file("tempocnn", "models", "cnn.h5")


@functools.lru_cache(maxsize=2)
def _model(path: str) -> KerasModel:
    return load_keras_h5(path)


def class_bpms() -> np.ndarray:
    """Tempo (BPM) of each output class."""
    return MIN_BPM + np.arange(256, dtype=float)


def tempo_distribution(
    y: np.ndarray, sr: int, *, model_path: Path | str | None = None
) -> np.ndarray | None:
    """Mean class probabilities (256, for `class_bpms()`) over the file, or None without a model.

    `y` is mono. Up to `MAX_WINDOWS` windows of 11.9 s, evenly spread, are
    classified and their probabilities averaged; shorter input is zero-padded
    as the model's authors do.
    """
    path = Path(model_path) if model_path is not None else default_model_path()
    if path is None or not path.is_file():
        return None
    windows = _windows(y, sr)
    peak = float(windows.max())
    if peak <= 0:
        return None
    from threadpoolctl import threadpool_limits

    # The model's matrices are small: one BLAS thread is faster than several
    # contending with the rest of the analysis (2.5× measured on 2 cores).
    with threadpool_limits(limits=1, user_api="blas"):
        probabilities = _model(str(path)).predict(windows / peak)
    return probabilities.mean(axis=0)


def _windows(y: np.ndarray, sr: int) -> np.ndarray:
    """(n, 40, 256, 1) mel windows at a hop of half a window, at most `MAX_WINDOWS`.

    Each window is cut from the signal before resampling, so a long file never
    has a second full-length copy.
    """
    span = round(WINDOW * HOP / MODEL_SR * sr)  # samples of one window at `sr`
    starts = np.arange(0, max(len(y) - span, 0) + 1, span // 2)
    if len(starts) > MAX_WINDOWS:
        starts = starts[np.linspace(0, len(starts) - 1, MAX_WINDOWS).round().astype(int)]
    return np.stack([_mel(y[s : s + span], sr) for s in starts])[..., None]


def _mel(y: np.ndarray, sr: int) -> np.ndarray:
    """The model's input: a 40-band magnitude mel spectrogram, padded or cut to 256 frames."""
    y = librosa.resample(np.asarray(y, dtype=np.float32), orig_sr=sr, target_sr=MODEL_SR)
    mel = librosa.feature.melspectrogram(
        y=y,
        sr=MODEL_SR,
        n_fft=N_FFT,
        hop_length=HOP,
        power=1.0,
        n_mels=N_MELS,
        fmin=FMIN,
        fmax=FMAX,
    )
    mel = np.pad(mel, ((0, 0), (0, max(0, WINDOW - mel.shape[1]))))
    return mel[:, :WINDOW].astype(np.float32)
