"""Convert a TensorFlow.js graph model (model.json + weight .bin files) to ONNX without TensorFlow.

model.json holds `modelTopology.node`, a list of TensorFlow nodes `{name, op, input, attr}` in topological order,
and `weightsManifest`: groups of weight specs `{name, shape, dtype, quantization?}` whose bytes lie back to back in
the group's .bin files, in manifest order. Weights quantised to float16 are read as float16 and widened.

The ONNX graph takes the model's NHWC input and works in NCHW inside (one Transpose at the start): 4-d tensors are
NCHW, per-channel constants become (C, 1, 1), and axes of reductions over 4-d tensors are remapped. Only the ops of
the small CNNs we convert are known (Conv2D, DepthwiseConv2dNative and _FusedConv2D with BiasAdd [+ Relu], MaxPool,
Add/AddV2, Mul, Relu, Minimum, Maximum, Mean, Reshape to a flat vector, _FusedMatMul with BiasAdd [+ Relu], Sigmoid,
Softmax, Identity); anything else is a ModelError.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from math import prod
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from facegate.errors import ModelError

OPSET = 17
NHWC_TO_NCHW = {0: 0, 1: 2, 2: 3, 3: 1}
_DTYPES = {"float32": np.float32, "int32": np.int32}
_STORED = {"float16": np.float16}  # quantisation dtypes we can read


@dataclass(frozen=True)
class TfjsGraph:
    """A TF.js graph model read from disk: its nodes (Const nodes included) and every weight by name."""

    nodes: list[dict[str, Any]]
    weights: dict[str, np.ndarray]


def read_weights(manifest: list[dict[str, Any]], folder: Path) -> dict[str, np.ndarray]:
    """Every weight of the manifest, in its declared dtype and shape (float16-quantised ones widened to float32)."""
    weights: dict[str, np.ndarray] = {}
    for group in manifest:
        data = b"".join((folder / path).read_bytes() for path in group["paths"])
        offset = 0
        for spec in group["weights"]:
            dtype = np.dtype(_DTYPES[spec["dtype"]])
            quantised = spec.get("quantization")
            if quantised is not None and quantised.get("dtype") not in _STORED:
                raise ModelError(f"{spec['name']}: unsupported weight quantisation {quantised}")
            stored = np.dtype(_STORED[quantised["dtype"]]) if quantised else dtype
            count = prod(spec["shape"])
            raw = np.frombuffer(data, stored, count, offset)
            weights[spec["name"]] = raw.astype(dtype).reshape(spec["shape"])
            offset += count * stored.itemsize
        if offset != len(data):
            raise ModelError(f"{group['paths']}: {len(data)} bytes, but the manifest describes {offset}")
    return weights


def read_graph(model_json: Path) -> TfjsGraph:
    """Nodes and weights of the TF.js graph model at `model_json` (its .bin files lie beside it)."""
    model = json.loads(model_json.read_text())
    if model.get("format") != "graph-model":
        raise ModelError(f"{model_json.name} is not a TF.js graph model (format {model.get('format')!r})")
    return TfjsGraph(model["modelTopology"]["node"], read_weights(model["weightsManifest"], model_json.parent))


def attr_text(node: dict[str, Any], key: str) -> str:
    """A string attribute (stored base64-encoded), e.g. padding "SAME"."""
    return base64.b64decode(node["attr"][key]["s"]).decode()


def attr_ints(node: dict[str, Any], key: str) -> list[int]:
    """An int-list attribute, e.g. strides [1, 2, 2, 1]."""
    return [int(i) for i in node["attr"][key]["list"].get("i", [])]


def fused_ops(node: dict[str, Any]) -> list[str]:
    """What a _FusedMatMul adds after the product, e.g. ["BiasAdd", "Relu"]."""
    return [base64.b64decode(s).decode() for s in node["attr"]["fused_ops"]["list"].get("s", [])]


@dataclass
class _Builder:
    """ONNX nodes and initialisers, and the rank of every tensor made so far (4-d tensors are NCHW)."""

    weights: Mapping[str, np.ndarray]
    nodes: list[onnx.NodeProto] = field(default_factory=list)
    inits: list[onnx.TensorProto] = field(default_factory=list)
    rank: dict[str, int] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)

    def weight(self, name: str) -> np.ndarray:
        if name not in self.weights:
            raise ModelError(f"{name}: not a constant of the model")
        self.used.add(name)
        return self.weights[name]

    def constant(self, name: str, value: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(np.asarray(value, order="C"), name))
        return name

    def node(self, op: str, inputs: list[str], output: str, rank: int, **attrs: Any) -> str:
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        self.rank[output] = rank
        return output

    def operand(self, name: str, other_rank: int) -> str:
        """A node input: a tensor already made, or a constant laid out to broadcast against a tensor of that rank."""
        if name in self.rank:
            return name
        value = self.weight(name).astype(np.float32)
        if other_rank == 4 and value.ndim == 1:  # per-channel: along C of NCHW
            value = value.reshape(-1, 1, 1)
        elif value.ndim > 1:
            raise ModelError(f"{name}: constant of shape {value.shape} in an element-wise op")
        return self.constant(f"{name}.c", value)


def _conv(b: _Builder, node: dict[str, Any], depthwise: bool, bias: str | None = None) -> str:
    """Conv2D (kernel kh, kw, in, out) or DepthwiseConv2dNative (kh, kw, in, multiplier), NHWC → ONNX Conv, with
    the bias of a fused BiasAdd when given."""
    if attr_text(node, "data_format") != "NHWC" or set(attr_ints(node, "dilations")) != {1}:
        raise ModelError(f"{node['name']}: only NHWC convolutions without dilation are supported")
    x, kernel_name = node["input"][:2]
    kernel = b.weight(kernel_name)
    kh, kw, cin, cout = kernel.shape
    strides = attr_ints(node, "strides")[1:3]
    if depthwise:
        onnx_kernel, group = kernel.transpose(2, 3, 0, 1).reshape(cin * cout, 1, kh, kw), cin
    else:
        onnx_kernel, group = kernel.transpose(3, 2, 0, 1), 1
    inputs = [b.operand(x, 4), b.constant(f"{node['name']}.W", onnx_kernel.astype(np.float32))]
    if bias is not None:
        inputs.append(b.constant(f"{node['name']}.B", b.weight(bias).astype(np.float32)))
    return b.node("Conv", inputs, node["name"], 4, kernel_shape=[kh, kw], strides=strides, group=group, **_pads(node))


def _pads(node: dict[str, Any]) -> dict[str, Any]:
    """ONNX padding attributes for a TF "SAME" or "VALID" convolution or pooling (TF pads the odd pixel at the end)."""
    padding = attr_text(node, "padding")
    if padding not in ("SAME", "VALID"):
        raise ModelError(f"{node['name']}: unsupported padding {padding}")
    return {"auto_pad": "SAME_UPPER"} if padding == "SAME" else {"pads": [0, 0, 0, 0]}


def _fused_conv(b: _Builder, node: dict[str, Any]) -> str:
    """_FusedConv2D: Conv2D + BiasAdd [+ Relu] (TF.js folds them, and a batch norm before them, into one node)."""
    ops = fused_ops(node)
    if ops[:1] != ["BiasAdd"] or ops[1:] not in ([], ["Relu"]) or len(node["input"]) != 3:
        raise ModelError(f"{node['name']}: unsupported _FusedConv2D {ops}")
    name = node["name"]
    conv = _conv(b, {**node, "name": f"{name}.conv" if ops[1:] else name}, False, bias=node["input"][2])
    return b.node("Relu", [conv], name, 4) if ops[1:] else conv


def _max_pool(b: _Builder, node: dict[str, Any]) -> str:
    """MaxPool over an NHWC window (batch and channel sizes 1) → ONNX MaxPool."""
    ksize, strides = attr_ints(node, "ksize"), attr_ints(node, "strides")
    if attr_text(node, "data_format") != "NHWC" or ksize[0::3] != [1, 1] or strides[0::3] != [1, 1]:
        raise ModelError(f"{node['name']}: only NHWC spatial max pooling is supported")
    (x,) = node["input"]
    return b.node("MaxPool", [x], node["name"], 4, kernel_shape=ksize[1:3], strides=strides[1:3], **_pads(node))


def _reshape(b: _Builder, node: dict[str, Any]) -> str:
    """Reshape to a shape of rank below 4 (Keras's Flatten): a 4-d input goes back to NHWC first, so the values
    come out in TensorFlow's order."""
    x, shape_name = node["input"]
    shape = b.weight(shape_name).astype(np.int64)
    if shape.ndim != 1 or len(shape) >= 4:
        raise ModelError(f"{node['name']}: only reshapes to rank 1-3 are supported, not {shape.tolist()}")
    if b.rank[x] == 4:
        x = b.node("Transpose", [x], f"{node['name']}.nhwc", 4, perm=[0, 2, 3, 1])
    return b.node("Reshape", [x, b.constant(f"{shape_name}.shape", shape)], node["name"], len(shape))


def _elementwise(op: str) -> Callable[[_Builder, dict[str, Any]], str]:
    """Add, Mul, Minimum, Maximum: two operands, either of which may be a constant."""

    def emit(b: _Builder, node: dict[str, Any]) -> str:
        made = [b.rank[name] for name in node["input"] if name in b.rank]
        if not made:
            raise ModelError(f"{node['name']}: element-wise op on constants only")
        rank = max(made)
        return b.node(op, [b.operand(name, rank) for name in node["input"]], node["name"], rank)

    return emit


def _unary(op: str, **attrs: Any) -> Callable[[_Builder, dict[str, Any]], str]:
    """Relu, Sigmoid, Softmax (over the last axis, as TensorFlow's), Identity."""

    def emit(b: _Builder, node: dict[str, Any]) -> str:
        (x,) = node["input"]
        return b.node(op, [x], node["name"], b.rank[x], **attrs)

    return emit


def _mean(b: _Builder, node: dict[str, Any]) -> str:
    """Mean over constant axes; NHWC axes of a 4-d input are mapped to NCHW."""
    x, axes_name = node["input"]
    axes = [int(a) % b.rank[x] for a in b.weight(axes_name)]
    if b.rank[x] == 4:
        axes = [NHWC_TO_NCHW[a] for a in axes]
    keep = bool(node["attr"].get("keep_dims", {}).get("b", False))
    return b.node(
        "ReduceMean",
        [x],
        node["name"],
        b.rank[x] if keep else b.rank[x] - len(axes),
        axes=sorted(axes),
        keepdims=int(keep),
    )


def _fused_matmul(b: _Builder, node: dict[str, Any]) -> str:
    """x @ kernel + bias [then Relu] on a 2-d input (TF.js's _FusedMatMul)."""
    ops = fused_ops(node)
    x, kernel, *rest = node["input"]
    if b.rank[x] != 2 or ops[:1] != ["BiasAdd"] or ops[1:] not in ([], ["Relu"]) or len(rest) != 1:
        raise ModelError(f"{node['name']}: unsupported _FusedMatMul {ops}")
    if node["attr"].get("transpose_a", {}).get("b") or node["attr"].get("transpose_b", {}).get("b"):
        raise ModelError(f"{node['name']}: transposed _FusedMatMul is not supported")
    w = b.constant(f"{kernel}.W", b.weight(kernel).astype(np.float32))
    bias = b.constant(f"{rest[0]}.B", b.weight(rest[0]).astype(np.float32))
    name = node["name"]
    out = b.node("Gemm", [x, w, bias], name if not ops[1:] else f"{name}.linear", 2)
    return b.node("Relu", [out], name, 2) if ops[1:] else out


def _clip(b: _Builder, node: dict[str, Any]) -> str:
    """The clamp `_fuse_clamps` made of Relu → Minimum(hi) → Maximum(lo)."""
    x, lo, hi = node["input"]
    return b.node("Clip", [x, b.operand(lo, 0), b.operand(hi, 0)], node["name"], b.rank[x])


def _clamp_chain(
    node: dict[str, Any], by_name: Mapping[str, dict[str, Any]], uses: Mapping[str, int]
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The Relu and Minimum nodes ahead of a Maximum when the three form Relu → Minimum → Maximum, used only there."""
    if node["op"] != "Maximum":
        return None
    minimum = by_name.get(node["input"][0], {})
    relu = by_name.get(minimum.get("input", [""])[0], {}) if minimum.get("op") == "Minimum" else {}
    if relu.get("op") != "Relu" or uses[relu["name"]] != 1 or uses[minimum["name"]] != 1:
        return None
    return relu, minimum


def _fuse_clamps(nodes: list[dict[str, Any]], weights: Mapping[str, np.ndarray]) -> list[dict[str, Any]]:
    """Relu → Minimum(hi) → Maximum(lo) chains (Keras's ReLU6) as one clamp node: max(min(relu(x), hi), lo) is
    clip(x, lo, hi) for 0 ≤ lo ≤ hi. ONNX Runtime fuses a Clip into the Conv before it (2× faster on 2 cores)."""
    by_name = {n["name"]: n for n in nodes}
    uses = Counter(i for n in nodes for i in n.get("input", []))
    fused: list[dict[str, Any]] = []
    dropped: set[str] = set()
    for node in nodes:
        chain = _clamp_chain(node, by_name, uses)
        lo, hi = (node["input"][1], chain[1]["input"][1]) if chain else ("", "")
        if chain is None or not 0.0 <= float(weights[lo]) <= float(weights[hi]):
            fused.append(node)
            continue
        dropped.update(n["name"] for n in chain)
        fused.append({"name": node["name"], "op": "_Clip", "input": [chain[0]["input"][0], lo, hi]})
    return [n for n in fused if n["name"] not in dropped]


_OPS: dict[str, Callable[[_Builder, dict[str, Any]], str]] = {
    "_Clip": _clip,
    "Conv2D": lambda b, n: _conv(b, n, depthwise=False),
    "DepthwiseConv2dNative": lambda b, n: _conv(b, n, depthwise=True),
    "_FusedConv2D": _fused_conv,
    "MaxPool": _max_pool,
    "Reshape": _reshape,
    "Add": _elementwise("Add"),
    "AddV2": _elementwise("Add"),
    "Identity": _unary("Identity"),
    "Mul": _elementwise("Mul"),
    "Minimum": _elementwise("Min"),
    "Maximum": _elementwise("Max"),
    "Relu": _unary("Relu"),
    "Sigmoid": _unary("Sigmoid"),
    "Softmax": _unary("Softmax", axis=-1),
    "Mean": _mean,
    "_FusedMatMul": _fused_matmul,
}


def _graph(graph: TfjsGraph, outputs: Mapping[str, str], input_name: str, size: int) -> onnx.GraphProto:
    """The ONNX graph of the TF.js nodes; `outputs` maps TF.js node names to the ONNX output names."""
    b = _Builder(graph.weights)
    placeholders = [n for n in graph.nodes if n["op"] == "Placeholder"]
    if len(placeholders) != 1:
        raise ModelError(f"expected one input, found {len(placeholders)}")
    b.node("Transpose", [input_name], placeholders[0]["name"], 4, perm=[0, 3, 1, 2])
    for node in _fuse_clamps(graph.nodes, graph.weights):
        if node["op"] in ("Const", "Placeholder"):
            continue
        if node["op"] not in _OPS:
            raise ModelError(f"{node['name']}: unsupported TF.js op {node['op']}")
        _OPS[node["op"]](b, node)
    unused = set(graph.weights) - b.used
    if unused:
        raise ModelError(f"{len(unused)} weights of the model were not used, e.g. {sorted(unused)[:3]}")
    for tf_name, onnx_name in outputs.items():
        b.node("Identity", [tf_name], onnx_name, b.rank[tf_name])
    return helper.make_graph(
        b.nodes,
        "tfjs_graph_model",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, ["N", size, size, 3])],
        [
            helper.make_tensor_value_info(name, TensorProto.FLOAT, ["N"] + [None] * (b.rank[name] - 1))
            for name in outputs.values()
        ],
        b.inits,
    )


def convert_tfjs(
    model_json: Path, onnx_path: Path, outputs: Mapping[str, str], input_name: str = "crops", size: int = 224
) -> dict[str, int]:
    """Convert the TF.js graph model at `model_json` (N×size×size×3 NHWC input) into ONNX at `onnx_path`.

    outputs: TF.js node name → ONNX output name. Returns counts (nodes, weights); raises ModelError on any op,
    attribute or weight this converter does not understand, or a weight left unused.
    """
    graph = read_graph(model_json)
    model = helper.make_model(
        _graph(graph, outputs, input_name, size),
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="facegate",
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx_path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, onnx_path)
    return {"nodes": len(graph.nodes), "weights": len(graph.weights)}
