"""Inference of small Keras convolutional models from their HDF5 files, in NumPy.

The tempo model (tempo_cnn.py) ships as a Keras 2 ``.h5`` file. TensorFlow is
~600 MB and takes seconds to import, longer than a whole analysis may take, so
the few layer types such models use are evaluated here: Conv2D ("same" or
"valid" padding, stride 1), BatchNormalization (inference form), average, max
and global-average pooling, Dense, Flatten, Concatenate, Dropout (identity) and
the elu / relu / softmax activations. Convolutions along the time axis use the
FFT, which turns the model's long (up to 256-frame) filters from seconds of
work into milliseconds. Any other layer raises `UnsupportedModel`.

Shapes are channels-last like Keras: (batch, height, width, channels).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

_INPUT = "<input>"  # the model input of a sequential model without an InputLayer


class UnsupportedModel(ValueError):
    """The file holds a layer or option this runner does not implement."""


@dataclass
class _Layer:
    kind: str
    name: str
    config: dict[str, Any]
    inputs: list[str]
    weights: dict[str, np.ndarray] = field(default_factory=dict)


class KerasModel:
    """A functional or sequential Keras model loaded for inference only."""

    def __init__(self, layers: list[_Layer], inputs: list[str], outputs: list[str]):
        self.layers = layers
        self.inputs = inputs
        self.outputs = outputs

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Run the model on a batch (channels-last) and return its single output."""
        values: dict[str, np.ndarray] = {self.inputs[0]: np.asarray(x, dtype=np.float32)}
        for layer in self.layers:
            if layer.kind == "InputLayer":
                continue
            args = [values[name] for name in layer.inputs]
            values[layer.name] = _LAYERS[layer.kind](layer, *args)
        return values[self.outputs[0]]


def load_keras_h5(path: str | Path) -> KerasModel:
    """Read a Keras 2 HDF5 model file (architecture and weights)."""
    import h5py  # imported here: only the optional tempo model needs it

    with h5py.File(path, "r") as f:
        raw = f.attrs["model_config"]
        cfg = json.loads(raw.decode() if isinstance(raw, bytes) else raw)["config"]
        groups = f.get("model_weights", f)
        layers: list[_Layer] = []
        for spec in cfg["layers"]:
            kind, name = spec["class_name"], spec["config"]["name"]
            if kind not in _LAYERS and kind != "InputLayer":
                raise UnsupportedModel(f"layer type {kind} ({name}) is not supported")
            inbound = spec.get("inbound_nodes") or []
            if inbound:
                inputs = [node[0] for node in inbound[0]]
            else:  # a sequential model: each layer reads the previous one
                inputs = [layers[-1].name] if layers else [_INPUT]
            weights = _read_weights(groups[name]) if name in groups else {}
            layers.append(_Layer(kind, name, spec["config"], inputs, weights))
    first = layers[0].name if layers[0].kind == "InputLayer" else _INPUT
    inputs = [node[0] for node in cfg.get("input_layers", [[first]])]
    outputs = [node[0] for node in cfg.get("output_layers", [[layers[-1].name]])]
    return KerasModel(layers, inputs, outputs)


def _read_weights(group: Any) -> dict[str, np.ndarray]:
    """{"kernel": ..., "bias": ..., "gamma": ...} from a layer's group ("<layer>/kernel:0")."""
    weights: dict[str, np.ndarray] = {}

    def visit(key: str, item: Any) -> None:
        if hasattr(item, "shape"):
            weights[key.rsplit("/", 1)[-1].split(":")[0]] = np.asarray(item, dtype=np.float32)

    group.visititems(visit)
    return weights


# --- layers ------------------------------------------------------------------------------


def _activate(x: np.ndarray, name: str | None) -> np.ndarray:
    if name in (None, "linear"):
        return x
    if name == "elu":
        return np.where(x > 0, x, np.expm1(np.minimum(x, 0))).astype(np.float32)
    if name == "relu":
        return np.maximum(x, 0)
    if name == "softmax":
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    raise UnsupportedModel(f"activation {name} is not supported")


def _batch_norm(layer: _Layer, x: np.ndarray) -> np.ndarray:
    axis = layer.config.get("axis", -1)
    axis = axis[0] if isinstance(axis, list) else axis
    if axis not in (-1, x.ndim - 1):
        raise UnsupportedModel(f"batch normalisation over axis {axis} is not supported")
    w = layer.weights
    eps = float(layer.config.get("epsilon", 1e-3))
    scale = w.get("gamma", np.ones_like(w["moving_mean"])) / np.sqrt(w["moving_variance"] + eps)
    shift = w.get("beta", np.zeros_like(w["moving_mean"])) - w["moving_mean"] * scale
    return x * scale + shift


def _conv2d(layer: _Layer, x: np.ndarray) -> np.ndarray:
    c = layer.config
    if tuple(c.get("strides", (1, 1))) != (1, 1) or tuple(c.get("dilation_rate", (1, 1))) != (
        1,
        1,
    ):
        raise UnsupportedModel(f"{layer.name}: only stride 1 and no dilation are supported")
    kernel = layer.weights["kernel"]  # (kh, kw, in, out)
    kh, kw = kernel.shape[:2]
    if c.get("padding", "valid") == "same":
        x = np.pad(
            x, ((0, 0), ((kh - 1) // 2, kh // 2), ((kw - 1) // 2, kw // 2), (0, 0))
        )  # Keras puts the extra row/column of an even kernel after
    out_h, out_w = x.shape[1] - kh + 1, x.shape[2] - kw + 1
    y = _correlate(x, kernel, out_h, out_w)
    if "bias" in layer.weights:
        y = y + layer.weights["bias"]
    return _activate(y, c.get("activation"))


def _correlate(x: np.ndarray, kernel: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """Valid cross-correlation of (b, h, w, in) with (kh, kw, in, out)."""
    kh, kw = kernel.shape[:2]
    if kw <= 8:  # short filters: a sum of shifted matrix products
        rows = x.shape[0] * out_h * out_w
        y = np.zeros((rows, kernel.shape[3]), dtype=np.float32)
        for i in range(kh):
            for j in range(kw):
                # 2-D products: NumPy's broadcast 4-D matmul is ~40× slower.
                y += x[:, i : i + out_h, j : j + out_w, :].reshape(rows, -1) @ kernel[i, j]
        return y.reshape(x.shape[0], out_h, out_w, -1)
    n = 1 << int(np.ceil(np.log2(x.shape[2] + kw)))
    spectrum = np.fft.rfft(x, n=n, axis=2)  # (b, h, f, in)
    # Correlation = convolution with the time-reversed filter.
    filters = np.fft.rfft(kernel[:, ::-1], n=n, axis=1)  # (kh, f, in, out)
    total = None
    for i in range(kh):
        part = np.einsum("bhfc,fco->bhfo", spectrum[:, i : i + out_h], filters[i], optimize=True)
        total = part if total is None else total + part
    full = np.fft.irfft(total, n=n, axis=2)
    return full[:, :, kw - 1 : kw - 1 + out_w].astype(np.float32)


def _pool(layer: _Layer, x: np.ndarray, reduce: Any) -> np.ndarray:
    c = layer.config
    ph, pw = c["pool_size"]
    sh, sw = c.get("strides") or (ph, pw)
    if c.get("padding", "valid") != "valid" or (sh, sw) != (ph, pw):
        raise UnsupportedModel(f"{layer.name}: only non-overlapping valid pooling is supported")
    b, h, w, ch = x.shape
    h2, w2 = h // ph, w // pw
    blocks = x[:, : h2 * ph, : w2 * pw].reshape(b, h2, ph, w2, pw, ch)
    return reduce(blocks, axis=(2, 4))


def _dense(layer: _Layer, x: np.ndarray) -> np.ndarray:
    y = np.ascontiguousarray(x) @ layer.weights["kernel"]
    if "bias" in layer.weights:
        y = y + layer.weights["bias"]
    return _activate(y, layer.config.get("activation"))


_LAYERS: dict[str, Any] = {
    "BatchNormalization": _batch_norm,
    "Conv2D": _conv2d,
    "AveragePooling2D": lambda layer, x: _pool(layer, x, np.mean),
    "MaxPooling2D": lambda layer, x: _pool(layer, x, np.max),
    "GlobalAveragePooling2D": lambda layer, x: x.mean(axis=(1, 2)),
    "Dense": _dense,
    "Flatten": lambda layer, x: x.reshape(x.shape[0], -1),
    "Dropout": lambda layer, x: x,
    "Activation": lambda layer, x: _activate(x, layer.config.get("activation")),
    "Concatenate": lambda layer, *xs: np.concatenate(xs, axis=layer.config.get("axis", -1)),
}
