"""Convert Taniai's Keras FaceNet export (facenet_keras.h5) to ONNX without TensorFlow.

The h5 holds the architecture as JSON (`model_config`) and every weight under `model_weights`; we walk the
layers in their stored topological order and emit the equivalent ONNX node(s) for each. The graph takes
prewhitened NHWC float32 crops (N,160,160,3) and returns the raw 128-d embedding (not L2-normalised).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from facegate.errors import ModelError

INPUT_NAME = "crops"
OUTPUT_NAME = "embedding"
OPSET = 17


@dataclass
class _GraphBuilder:
    """Accumulates ONNX nodes and initialisers, and records which h5 weights were consumed."""

    weights: h5py.Group
    nodes: list[onnx.NodeProto] = field(default_factory=list)
    inits: list[onnx.TensorProto] = field(default_factory=list)
    used: set[str] = field(default_factory=set)

    def weight(self, layer: str, name: str) -> np.ndarray:
        """Return weight `name` of `layer` as float32 and mark it used (each may be used only once)."""
        key = f"{layer}/{layer}/{name}:0"
        if key in self.used:
            raise ModelError(f"weight {key} used twice")
        if key not in self.weights:
            raise ModelError(f"weight {key} missing from the h5 file")
        self.used.add(key)
        return np.asarray(self.weights[key], dtype=np.float32)

    def constant(self, name: str, value: np.ndarray) -> str:
        """Add an initialiser and return its name."""
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(value, dtype=np.float32), name))
        return name

    def node(self, op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        """Add one node with a single output and return the output name."""
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output


def _conv(b: _GraphBuilder, name: str, cfg: dict[str, Any], x: str) -> str:
    kernel = b.weight(name, "kernel")  # (kh, kw, in, out)
    kh, kw = kernel.shape[:2]
    strides = list(cfg["strides"])
    if cfg["activation"] != "linear" or cfg["dilation_rate"] != [1, 1]:
        raise ModelError(f"{name}: unsupported activation/dilation")
    if cfg["padding"] == "same":
        if strides != [1, 1] or kh % 2 == 0 or kw % 2 == 0:
            raise ModelError(f"{name}: 'same' padding is only supported for stride 1 and odd kernels")
        pads = [kh // 2, kw // 2, kh // 2, kw // 2]
    elif cfg["padding"] == "valid":
        pads = [0, 0, 0, 0]
    else:
        raise ModelError(f"{name}: unsupported padding {cfg['padding']!r}")
    inputs = [x, b.constant(f"{name}.W", kernel.transpose(3, 2, 0, 1))]
    if cfg["use_bias"]:
        inputs.append(b.constant(f"{name}.B", b.weight(name, "bias")))
    return b.node("Conv", inputs, name, kernel_shape=[kh, kw], strides=strides, pads=pads)


def _batchnorm(b: _GraphBuilder, name: str, cfg: dict[str, Any], x: str) -> str:
    if cfg["scale"]:
        raise ModelError(f"{name}: expected scale=False (no gamma)")
    beta = b.weight(name, "beta")
    mean = b.weight(name, "moving_mean")
    var = b.weight(name, "moving_variance")
    gamma = b.constant(f"{name}.gamma", np.ones_like(beta))
    ins = [x, gamma, b.constant(f"{name}.beta", beta), b.constant(f"{name}.mean", mean), b.constant(f"{name}.var", var)]
    return b.node("BatchNormalization", ins, name, epsilon=float(cfg["epsilon"]))


def _activation(b: _GraphBuilder, name: str, cfg: dict[str, Any], x: str) -> str:
    if cfg["activation"] != "relu":
        raise ModelError(f"{name}: unsupported activation {cfg['activation']!r}")
    return b.node("Relu", [x], name)


def _maxpool(b: _GraphBuilder, name: str, cfg: dict[str, Any], x: str) -> str:
    if cfg["padding"] != "valid":
        raise ModelError(f"{name}: only 'valid' pooling is supported")
    return b.node("MaxPool", [x], name, kernel_shape=list(cfg["pool_size"]), strides=list(cfg["strides"]))


def _dense(b: _GraphBuilder, name: str, cfg: dict[str, Any], x: str) -> str:
    if cfg["use_bias"] or cfg["activation"] != "linear":
        raise ModelError(f"{name}: expected a linear Dense layer without bias")
    return b.node("MatMul", [x, b.constant(f"{name}.W", b.weight(name, "kernel"))], name)


def _global_pool(b: _GraphBuilder, name: str, cfg: dict[str, Any], x: str) -> str:
    pooled = b.node("GlobalAveragePool", [x], f"{name}.pooled")
    return b.node("Flatten", [pooled], name, axis=1)


_SINGLE_INPUT: dict[str, Callable[[_GraphBuilder, str, dict[str, Any], str], str]] = {
    "Conv2D": _conv,
    "BatchNormalization": _batchnorm,
    "Activation": _activation,
    "MaxPooling2D": _maxpool,
    "Dense": _dense,
    "GlobalAveragePooling2D": _global_pool,
}


def _inbound(layer: dict[str, Any]) -> list[str]:
    nodes = layer["inbound_nodes"]
    return [entry[0] for entry in nodes[0]] if nodes else []


def convert_facenet(h5_path: Path, onnx_path: Path) -> dict[str, int]:
    """Convert the Keras h5 at `h5_path` into an ONNX model at `onnx_path`.

    Returns counts (layers, weights) for reporting; raises ModelError when any weight is left unused or the
    graph contains something this converter does not understand.
    """
    with h5py.File(h5_path, "r") as f:
        config = json.loads(f.attrs["model_config"])
        layers = config["config"]["layers"]
        b = _GraphBuilder(f["model_weights"])
        tensor: dict[str, str] = {}
        for layer in layers:
            kind, name, cfg = layer["class_name"], layer["name"], layer["config"]
            inputs = [tensor[n] for n in _inbound(layer)]
            if kind == "InputLayer":
                tensor[name] = b.node("Transpose", [INPUT_NAME], name, perm=[0, 3, 1, 2])
            elif kind in _SINGLE_INPUT:
                tensor[name] = _SINGLE_INPUT[kind](b, name, cfg, inputs[0])
            elif kind == "Concatenate":
                if cfg["axis"] not in (-1, 3):
                    raise ModelError(f"{name}: unsupported concat axis {cfg['axis']}")
                tensor[name] = b.node("Concat", inputs, name, axis=1)
            elif kind == "Lambda":  # residual scale-sum: inputs[0] + inputs[1] * scale
                scale = b.constant(f"{name}.scale", np.array(cfg["arguments"]["scale"], dtype=np.float32))
                scaled = b.node("Mul", [inputs[1], scale], f"{name}.scaled")
                tensor[name] = b.node("Add", [inputs[0], scaled], name)
            elif kind == "Dropout":  # identity at inference
                tensor[name] = inputs[0]
            else:
                raise ModelError(f"{name}: unsupported layer type {kind}")
        all_weights: set[str] = set()
        f["model_weights"].visit(
            lambda k: all_weights.add(k) if isinstance(f["model_weights"][k], h5py.Dataset) else None
        )
        unused = all_weights - b.used
        if unused:
            raise ModelError(f"{len(unused)} weights of the h5 were not used, e.g. {sorted(unused)[:3]}")
        output_layer = config["config"]["output_layers"][0][0]
        b.nodes.append(helper.make_node("Identity", [tensor[output_layer]], [OUTPUT_NAME], name=OUTPUT_NAME))

    graph = helper.make_graph(
        b.nodes,
        "facenet_inception_resnet_v1",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["N", 160, 160, 3])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["N", 128])],
        b.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="facegate")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx_path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, onnx_path)
    return {"layers": len(layers), "weights": len(b.used)}
