"""The fast forms the MTCNN converter writes compute exactly what PReLU and the 2-way softmax compute."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper

from facegate.models.mtcnn_onnx import _Net

RNG = np.random.default_rng(7)


def run(net: _Net, output: str, x: np.ndarray) -> np.ndarray:
    """Run the nodes `net` built on input "x" and return `output`."""
    graph = helper.make_graph(
        net.nodes,
        "t",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, None)],
        net.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


def test_prelu_matches_its_definition_for_any_slope() -> None:
    alpha = np.array([-1.3, -0.2, 0.0, 0.25, 1.0, 1.3], np.float32)  # the weights hold slopes < 0 and > 1
    x = RNG.normal(0, 3, (2, 6, 5, 7)).astype(np.float32)
    net = _Net([alpha.reshape(1, 1, 6)])
    out = run(net, net.prelu("x", 0), x)
    np.testing.assert_allclose(out, np.where(x > 0, x, alpha[:, None, None] * x), rtol=1e-6, atol=1e-6)
    flat = _Net([alpha.reshape(1, 1, 6)], spatial=False)
    out = run(flat, flat.prelu("x", 0), x[:, :, 0, 0].copy())
    np.testing.assert_allclose(out, np.where(x[:, :, 0, 0] > 0, x[:, :, 0, 0], alpha * x[:, :, 0, 0]), atol=1e-6)


def softmax_face(logits: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=axis, keepdims=True))
    return np.take(e / e.sum(axis=axis, keepdims=True), [1], axis=axis)


def test_face_probability_is_the_softmax_of_the_face_class() -> None:
    x = RNG.normal(0, 1, (3, 8, 4, 5)).astype(np.float32)
    kernel = RNG.normal(0, 2, (1, 1, 8, 2)).astype(np.float32)  # the file's (w, h, in, out) 1×1 conv
    bias = np.array([0.3, -0.5], np.float32)
    net = _Net([])
    out = run(net, net.face_probability("x", kernel, bias, conv=True), x)
    logits = np.einsum("nchw,co->nohw", x, kernel[0, 0]) + bias[None, :, None, None]
    np.testing.assert_allclose(out, softmax_face(logits, axis=1), rtol=1e-5, atol=1e-6)

    features = RNG.normal(0, 1, (6, 16)).astype(np.float32)
    weights = RNG.normal(0, 2, (16, 2)).astype(np.float32)
    dense = _Net([])
    out = run(dense, dense.face_probability("x", weights, bias, conv=False), features)
    np.testing.assert_allclose(out, softmax_face(features @ weights + bias, axis=1), rtol=1e-5, atol=1e-6)
