"""An independent reference for the TF.js → ONNX converter: the TF.js graph evaluated node by node in numpy.

It shares no code with facegate.models.tfjs_onnx: it reads model.json and the .bin itself, keeps TensorFlow's NHWC
layout throughout, and computes TensorFlow's SAME padding by TensorFlow's formula. Slow (seconds per crop) and
plain on purpose.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np


def load(model_json: Path) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """The graph's nodes and its weights, read from the manifest in order (float16-quantised ones widened)."""
    model = json.loads(model_json.read_text())
    weights: dict[str, np.ndarray] = {}
    for group in model["weightsManifest"]:
        blob = b"".join((model_json.parent / p).read_bytes() for p in group["paths"])
        at = 0
        for spec in group["weights"]:
            stored = spec.get("quantization", {}).get("dtype", spec["dtype"])
            n = int(np.prod(spec["shape"], dtype=np.int64))
            size = {"float16": 2, "float32": 4, "int32": 4}[stored]
            values = np.frombuffer(
                blob[at : at + n * size], dtype={"float16": "<f2", "float32": "<f4", "int32": "<i4"}[stored]
            )
            weights[spec["name"]] = values.astype(spec["dtype"]).reshape(spec["shape"])
            at += n * size
    return model["modelTopology"]["node"], weights


def _same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's SAME padding: output ceil(size / stride), the odd pixel of padding goes after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _patches(x: np.ndarray, kh: int, kw: int, strides: list[int], padding: str) -> np.ndarray:
    """N×OH×OW×kh×kw×C windows of an NHWC tensor."""
    sh, sw = strides[1], strides[2]
    if padding == "SAME":
        (t, bottom), (left, r) = _same_pads(x.shape[1], kh, sh), _same_pads(x.shape[2], kw, sw)
        x = np.pad(x, ((0, 0), (t, bottom), (left, r), (0, 0)))
    windows = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(1, 2))  # N, OH', OW', C, kh, kw
    return windows[:, ::sh, ::sw].transpose(0, 1, 2, 4, 5, 3)


def _text(node: dict[str, Any], key: str) -> str:
    return base64.b64decode(node["attr"][key]["s"]).decode()


def _fused(node: dict[str, Any]) -> list[str]:
    return [base64.b64decode(s).decode() for s in node["attr"]["fused_ops"]["list"]["s"]]


def _strides(node: dict[str, Any]) -> list[int]:
    return [int(i) for i in node["attr"]["strides"]["list"]["i"]]


def evaluate(
    nodes: list[dict[str, Any]], weights: dict[str, np.ndarray], x: np.ndarray, wanted: list[str]
) -> dict[str, np.ndarray]:
    """Run the graph on NHWC float input `x` and return the `wanted` node outputs (float64 throughout)."""
    values: dict[str, np.ndarray] = {n: w.astype(np.float64) for n, w in weights.items()}
    for node in nodes:
        op, name, ins = node["op"], node["name"], [values[i] for i in node.get("input", [])]
        if op == "Const":
            continue
        if op == "Placeholder":
            out = x.astype(np.float64)
        elif op in ("Conv2D", "_FusedConv2D"):
            k = ins[1]
            out = np.einsum(
                "nhwijc,ijco->nhwo",
                _patches(ins[0], k.shape[0], k.shape[1], _strides(node), _text(node, "padding")),
                k,
                optimize=True,
            )
            if op == "_FusedConv2D":  # Conv2D, then BiasAdd [, Relu]
                out = out + ins[2]
                out = np.maximum(out, 0) if "Relu" in _fused(node) else out
        elif op == "DepthwiseConv2dNative":
            k = ins[1][..., 0]  # channel multiplier 1
            out = np.einsum(
                "nhwijc,ijc->nhwc",
                _patches(ins[0], k.shape[0], k.shape[1], _strides(node), _text(node, "padding")),
                k,
                optimize=True,
            )
        elif op == "MaxPool":
            k = [int(i) for i in node["attr"]["ksize"]["list"]["i"]]
            if _text(node, "padding") != "VALID":
                raise NotImplementedError("MaxPool with SAME padding")
            out = _patches(ins[0], k[1], k[2], _strides(node), "VALID").max(axis=(3, 4))
        elif op == "Reshape":
            out = ins[0].reshape([int(i) for i in ins[1]])
        elif op == "Identity":
            out = ins[0]
        elif op in ("Add", "AddV2", "Mul", "Minimum", "Maximum"):
            fn = {"Add": np.add, "AddV2": np.add, "Mul": np.multiply, "Minimum": np.minimum, "Maximum": np.maximum}
            out = fn[op](*ins)
        elif op == "Relu":
            out = np.maximum(ins[0], 0)
        elif op == "Mean":
            out = ins[0].mean(axis=tuple(int(a) for a in ins[1]))
        elif op == "_FusedMatMul":
            out = ins[0] @ ins[1] + ins[2]
            out = np.maximum(out, 0) if "Relu" in _fused(node) else out
        elif op == "Sigmoid":
            out = 1 / (1 + np.exp(-ins[0]))
        elif op == "Softmax":
            e = np.exp(ins[0] - ins[0].max(axis=-1, keepdims=True))
            out = e / e.sum(axis=-1, keepdims=True)
        else:
            raise NotImplementedError(op)
        values[name] = out
    return {w: values[w] for w in wanted}
