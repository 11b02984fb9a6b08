"""Convert the MTCNN weights of the `mtcnn` 0.1.0 wheel (one .npy) into three ONNX networks.

The original networks ran on transposed images (x and y swapped). Our graphs take images in normal
orientation: NCHW float32 RGB with pixels scaled as (x - 127.5) / 128. The weight remapping that achieves this
(kernel axes 3,2,1,0; first dense layer rows permuted from (W,H,C) to (C,H,W)) is described in DESIGN.md §3.

Outputs: P-Net `prob` (N,1,h,w) and `reg` (N,4,h,w); R-Net `prob` (N,1), `reg` (N,4); O-Net adds
`landmarks` (N,10) as x1..x5 then y1..y5, relative to the box. PReLU and the 2-way softmax are written in
equivalent forms that ONNX Runtime runs much faster (see `_Net.prelu`, `_Net.face_probability`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from facegate.errors import ModelError

INPUT_NAME = "image"
OPSET = 17

# (kind, argument) per stage, in the order the weights are stored. conv: kernel+bias; prelu: alphas;
# pool: (kernel, stride); flatten; dense: weights+bias. Heads are listed separately.
_BODIES: dict[str, list[tuple[str, tuple[int, int] | None]]] = {
    "pnet": [
        ("conv", None),
        ("prelu", None),
        ("pool", (2, 2)),
        ("conv", None),
        ("prelu", None),
        ("conv", None),
        ("prelu", None),
    ],
    "rnet": [
        ("conv", None),
        ("prelu", None),
        ("pool", (3, 2)),
        ("conv", None),
        ("prelu", None),
        ("pool", (3, 2)),
        ("conv", None),
        ("prelu", None),
        ("flatten", None),
        ("dense", None),
        ("prelu", None),
    ],
    "onet": [
        ("conv", None),
        ("prelu", None),
        ("pool", (3, 2)),
        ("conv", None),
        ("prelu", None),
        ("pool", (3, 2)),
        ("conv", None),
        ("prelu", None),
        ("pool", (2, 2)),
        ("conv", None),
        ("prelu", None),
        ("flatten", None),
        ("dense", None),
        ("prelu", None),
    ],
}
_HEADS: dict[str, list[str]] = {"pnet": ["prob", "reg"], "rnet": ["prob", "reg"], "onet": ["prob", "reg", "landmarks"]}
INPUT_SIZE: dict[str, int | None] = {"pnet": None, "rnet": 24, "onet": 48}


@dataclass
class _Net:
    """Builds one network, consuming the stage's weight list front to back."""

    weights: list[np.ndarray]
    nodes: list[onnx.NodeProto] = field(default_factory=list)
    inits: list[onnx.TensorProto] = field(default_factory=list)
    taken: int = 0
    spatial: bool = True  # False once flattened
    channels: int = 0  # output channels of the last conv, to reorder the first dense layer's rows

    def take(self) -> np.ndarray:
        if self.taken >= len(self.weights):
            raise ModelError("the MTCNN weight list is shorter than the network needs")
        w = np.asarray(self.weights[self.taken], dtype=np.float32)
        self.taken += 1
        return w

    def const(self, name: str, value: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(value, dtype=np.float32), name))
        return name

    def node(self, op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def conv(self, x: str, i: int) -> str:
        kernel = self.take().transpose(3, 2, 1, 0)  # file axes: (w, h, in, out) -> (out, in, h, w)
        self.channels = kernel.shape[0]
        bias = self.take()
        return self.node(
            "Conv",
            [x, self.const(f"conv{i}.W", kernel), self.const(f"conv{i}.B", bias)],
            f"conv{i}",
            kernel_shape=list(kernel.shape[2:]),
        )

    def prelu(self, x: str, i: int) -> str:
        """PReLU as a·x + (1 − a)·relu(x): the same function, but ONNX Runtime runs the PRelu op 2–4× slower than
        these (it becomes per-channel 1×1 convolutions in its blocked layout); MTCNN's time halves."""
        alpha = self.take().reshape(-1)
        shape = (-1, 1, 1) if self.spatial else (-1,)
        scaled = self.node("Mul", [x, self.const(f"prelu{i}.alpha", alpha.reshape(shape))], f"prelu{i}.ax")
        rectified = self.node("Relu", [x], f"prelu{i}.relu")
        rest = self.node("Mul", [rectified, self.const(f"prelu{i}.rest", (1 - alpha).reshape(shape))], f"prelu{i}.rx")
        return self.node("Add", [scaled, rest], f"prelu{i}")

    def head(self, x: str, name: str, weights: np.ndarray, bias: np.ndarray, conv: bool) -> str:
        """An output layer: P-Net's 1×1 conv (file kernel (w, h, in, out)) or a dense layer (in, out)."""
        if conv:
            return self.node(
                "Conv",
                [x, self.const(f"{name}.W", weights.transpose(3, 2, 1, 0)), self.const(f"{name}.B", bias)],
                name,
                kernel_shape=[1, 1],
            )
        mm = self.node("MatMul", [x, self.const(f"{name}.W", weights)], f"{name}.mm")
        return self.node("Add", [mm, self.const(f"{name}.B", bias)], name)

    def face_probability(self, x: str, weights: np.ndarray, bias: np.ndarray, conv: bool) -> str:
        """Softmax over (not face, face), kept for "face", as sigmoid(z_face − z_not): one logit instead of two,
        no softmax pass. `weights` are the head's (…, 2) kernel or dense matrix, `bias` its 2 biases."""
        logit = self.head(x, "prob.logit", weights[..., 1:] - weights[..., :1], bias[1:] - bias[:1], conv)
        return self.node("Sigmoid", [logit], "prob")

    def dense(self, x: str, i: int, first: bool) -> str:
        w = self.take()
        if first:  # rows stored as (W, H, C) of the transposed image -> ONNX Flatten order (C, H, W)
            side = round((w.shape[0] / self.channels) ** 0.5)
            w = w.reshape(side, side, self.channels, -1).transpose(2, 1, 0, 3).reshape(w.shape[0], -1)
        b = self.take()
        mm = self.node("MatMul", [x, self.const(f"dense{i}.W", w)], f"dense{i}.mm")
        return self.node("Add", [mm, self.const(f"dense{i}.B", b)], f"dense{i}")


def _build(stage: str, weights: list[np.ndarray]) -> onnx.ModelProto:
    net = _Net(list(weights))
    x = INPUT_NAME
    dense_seen = False
    for i, (kind, arg) in enumerate(_BODIES[stage]):
        if kind == "conv":
            x = net.conv(x, i)
        elif kind == "prelu":
            x = net.prelu(x, i)
        elif kind == "pool":
            assert arg is not None
            k, s = arg
            x = net.node("MaxPool", [x], f"pool{i}", kernel_shape=[k, k], strides=[s, s], ceil_mode=1)
        elif kind == "flatten":
            x = net.node("Flatten", [x], f"flatten{i}", axis=1)
            net.spatial = False
        elif kind == "dense":
            x = net.dense(x, i, first=not dense_seen)
            dense_seen = True
    outputs = []
    for head in _HEADS[stage]:
        w, b = net.take(), net.take()
        if head == "prob":
            outputs.append(net.face_probability(x, w, b, conv=stage == "pnet"))
        else:
            outputs.append(net.head(x, head, w, b, conv=stage == "pnet"))
    if net.taken != len(weights):
        raise ModelError(f"{stage}: {len(weights) - net.taken} MTCNN weights left unused")

    if stage == "pnet":
        in_shape: list[int | str] = ["N", 3, "H", "W"]
        out_shapes: dict[str, list[int | str]] = {"prob": ["N", 1, "h", "w"], "reg": ["N", 4, "h", "w"]}
    else:
        side = INPUT_SIZE[stage] or 0  # only P-Net, handled above, takes any size
        in_shape = ["N", 3, side, side]
        out_shapes = {"prob": ["N", 1], "reg": ["N", 4], "landmarks": ["N", 10]}
    graph = helper.make_graph(
        net.nodes,
        f"mtcnn_{stage}",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, in_shape)],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, out_shapes[o]) for o in outputs],
        net.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="facegate")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def convert_mtcnn(npy_path: Path, out_dir: Path) -> dict[str, Path]:
    """Write pnet.onnx, rnet.onnx and onet.onnx from the weights file; return their paths."""
    try:
        stages = np.load(npy_path, allow_pickle=True).item()
    except Exception as exc:  # a pickle that is not the expected dict
        raise ModelError(f"{npy_path} is not an MTCNN weights file: {exc}") from exc
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for stage in ("pnet", "rnet", "onet"):
        paths[stage] = out_dir / f"mtcnn_{stage}.onnx"
        onnx.save(_build(stage, stages[stage]), paths[stage])
    return paths
