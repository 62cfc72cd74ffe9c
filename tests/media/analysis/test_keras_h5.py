"""_keras_h5: Keras HDF5 models evaluated in NumPy, checked against direct loop implementations."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from soundstage.media.analysis._keras_h5 import UnsupportedModel, load_keras_h5

RNG = np.random.default_rng(3)


def _layer(kind: str, name: str, inputs: list[str] | None, **config) -> dict:
    spec = {"class_name": kind, "config": {"name": name, **config}}
    if inputs is not None:
        spec["inbound_nodes"] = [[[i, 0, 0, {}] for i in inputs]] if inputs else []
    return spec


def _write(path, layers: list[dict], weights: dict[str, dict[str, np.ndarray]], functional=True):
    config: dict = {"layers": layers}
    if functional:
        config["input_layers"] = [[layers[0]["config"]["name"], 0, 0]]
        config["output_layers"] = [[layers[-1]["config"]["name"], 0, 0]]
    model = {"class_name": "Functional" if functional else "Sequential", "config": config}
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = json.dumps(model).encode()
        group = f.create_group("model_weights")
        for name, values in weights.items():
            inner = group.create_group(name).create_group(name)
            for key, value in values.items():
                inner.create_dataset(f"{key}:0", data=value.astype(np.float32))


def _conv_same(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Keras 'same' cross-correlation, by explicit loops."""
    kh, kw, _, out = kernel.shape
    b, h, w, _ = x.shape
    pad = np.pad(x, ((0, 0), ((kh - 1) // 2, kh // 2), ((kw - 1) // 2, kw // 2), (0, 0)))
    y = np.zeros((b, h, w, out))
    for i in range(h):
        for j in range(w):
            patch = pad[:, i : i + kh, j : j + kw, :]
            y[:, i, j, :] = np.tensordot(patch, kernel, axes=([1, 2, 3], [0, 1, 2]))
    return y + bias


def _elu(x):
    return np.where(x > 0, x, np.exp(np.minimum(x, 0)) - 1)


def test_functional_model_matches_direct_computation(tmp_path):
    """Batch norm, a long filter (FFT path), a short one, concat, pooling, dense softmax."""
    bn = {k: RNG.random(2) + 0.5 for k in ("gamma", "moving_variance")}
    bn |= {k: RNG.standard_normal(2) for k in ("beta", "moving_mean")}
    long_k, long_b = RNG.standard_normal((1, 12, 2, 3)), RNG.standard_normal(3)
    short_k, short_b = RNG.standard_normal((2, 3, 2, 3)), RNG.standard_normal(3)
    dense_k, dense_b = RNG.standard_normal((2 * 10 * 6, 5)), RNG.standard_normal(5)
    layers = [
        _layer("InputLayer", "in", []),
        _layer("BatchNormalization", "bn", ["in"], axis=[3], epsilon=0.001),
        _layer("Conv2D", "long", ["bn"], kernel_size=[1, 12], padding="same", activation="elu"),
        _layer("Conv2D", "short", ["bn"], kernel_size=[2, 3], padding="same", activation="relu"),
        _layer("Concatenate", "cat", ["long", "short"], axis=-1),
        _layer("AveragePooling2D", "avg", ["cat"], pool_size=[2, 1], strides=[2, 1]),
        _layer("MaxPooling2D", "max", ["avg"], pool_size=[1, 2], strides=[1, 2]),
        _layer("Flatten", "flat", ["max"]),
        _layer("Dropout", "drop", ["flat"], rate=0.5),
        _layer("Dense", "dense", ["drop"], units=5, activation="softmax"),
    ]
    weights = {
        "bn": bn,
        "long": {"kernel": long_k, "bias": long_b},
        "short": {"kernel": short_k, "bias": short_b},
        "dense": {"kernel": dense_k, "bias": dense_b},
    }
    path = tmp_path / "model.h5"
    _write(path, layers, weights)
    x = RNG.standard_normal((3, 4, 20, 2)).astype(np.float32)

    got = load_keras_h5(path).predict(x)

    norm = (x - bn["moving_mean"]) / np.sqrt(bn["moving_variance"] + 0.001) * bn["gamma"]
    norm = norm + bn["beta"]
    a = _elu(_conv_same(norm, long_k, long_b))
    b = np.maximum(_conv_same(norm, short_k, short_b), 0)
    cat = np.concatenate([a, b], axis=-1)
    avg = cat.reshape(3, 2, 2, 20, 6).mean(axis=2)
    mx = avg.reshape(3, 2, 10, 2, 6).max(axis=3)
    logits = mx.reshape(3, -1) @ dense_k + dense_b
    want = np.exp(logits - logits.max(axis=1, keepdims=True))
    want /= want.sum(axis=1, keepdims=True)
    assert got.shape == (3, 5)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_sequential_model_without_inbound_nodes(tmp_path):
    kernel, bias = RNG.standard_normal((1, 1, 1, 4)), RNG.standard_normal(4)
    layers = [
        _layer("Conv2D", "c", None, kernel_size=[1, 1], padding="valid", activation="linear"),
        _layer("GlobalAveragePooling2D", "g", None),
        _layer("Activation", "a", None, activation="softmax"),
    ]
    path = tmp_path / "seq.h5"
    _write(path, layers, {"c": {"kernel": kernel, "bias": bias}}, functional=False)
    x = RNG.standard_normal((2, 3, 5, 1)).astype(np.float32)
    got = load_keras_h5(path).predict(x)
    logits = (x[..., 0].mean(axis=(1, 2)))[:, None] * kernel[0, 0, 0] + bias
    want = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_unsupported_layers_and_options_are_refused(tmp_path):
    path = tmp_path / "lstm.h5"
    _write(path, [_layer("InputLayer", "in", []), _layer("LSTM", "rnn", ["in"])], {})
    with pytest.raises(UnsupportedModel, match="LSTM"):
        load_keras_h5(path)
    strided = [
        _layer("InputLayer", "in", []),
        _layer("Conv2D", "c", ["in"], kernel_size=[1, 1], strides=[2, 2], padding="valid"),
    ]
    kernel = {"kernel": np.ones((1, 1, 1, 1)), "bias": np.zeros(1)}
    _write(path, strided, {"c": kernel})
    with pytest.raises(UnsupportedModel, match="stride"):
        load_keras_h5(path).predict(np.ones((1, 2, 2, 1)))
