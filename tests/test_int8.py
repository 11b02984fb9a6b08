"""The int8 FaceNet option meets its bar on every CPU: 25/25 on the 5-celebrity val photos, distances within 0.02 of
fp32; where a CPU cannot hold that, FaceGate says so and embeds with fp32."""

from __future__ import annotations

import json
import logging

import numpy as np
import onnx
import pytest
from conftest import celebrity_photos
from sklearn.svm import SVC

from facegate import FaceGate, cpu, onnx_session
from facegate.embed import Embedder
from facegate.errors import ModelError
from facegate.models import ModelFiles, facenet_int8
from facegate.models.facenet_int8 import cpu_signature, facenet_for_precision, pair_distance_gaps, quantise_facenet


@pytest.fixture(scope="module")
def int8(models: ModelFiles) -> FaceGate:
    fg = FaceGate(precision="int8")
    _ = fg.embedder  # builds (and checks) the int8 model on first use
    return fg


def largest_faces(fg: FaceGate, models: ModelFiles, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Aligned largest-face crops of one split (photos without a face left out) and their labels."""
    crops, labels = [], []
    for path in celebrity_photos(models, split):
        found = fg.represent(path)
        if found:
            crops.append(found[0].crop)
            labels.append(path.parent.name)
    return np.stack(crops), np.asarray(labels)


@pytest.fixture(scope="module")
def faces(fg: FaceGate, models: ModelFiles) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{split: (largest-face crops, labels)}, detected and aligned once for every test of this module."""
    return {split: largest_faces(fg, models, split) for split in ("train", "val")}


def test_int8_model_is_quantised_and_cached(int8: FaceGate, models: ModelFiles) -> None:
    assert int8.embedder.model == models.facenet_int8
    ops = {node.op_type for node in onnx.load(str(models.facenet_int8)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear", "Conv"} <= ops
    assert models.facenet_int8.stat().st_size < models.facenet.stat().st_size / 2


def test_int8_keeps_every_val_photo_right(int8: FaceGate, faces: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    (train, y_train), (val, y_val) = faces["train"], faces["val"]
    x_train, x_val = int8.embedder.embed(train), int8.embedder.embed(val)
    assert len(y_val) == 25
    assert (SVC(kernel="linear").fit(x_train, y_train).predict(x_val) == y_val).sum() == 25


def test_int8_pair_distances_stay_within_0_02_of_fp32(
    int8: FaceGate, fg: FaceGate, faces: dict[str, tuple[np.ndarray, np.ndarray]]
) -> None:
    crops = faces["val"][0]
    ours, reference = int8.embedder.embed(crops), fg.embedder.embed(crops)

    assert pair_distance_gaps(ours, reference).max() <= 0.02
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_too_few_calibration_faces_is_a_clear_error(models: ModelFiles, tmp_path) -> None:
    with pytest.raises(ModelError, match="at least"):
        quantise_facenet(models.facenet, np.zeros((3, 160, 160, 3), np.uint8), tmp_path / "x.onnx")


def test_unknown_precision_is_refused() -> None:
    with pytest.raises(ValueError, match="precision"):
        FaceGate(precision="fp16")  # type: ignore[arg-type]


def test_the_check_on_this_cpu_is_recorded_once(int8: FaceGate, models: ModelFiles) -> None:
    checks = json.loads(models.int8_checks.read_text())
    assert 0.0 < checks[cpu_signature()] <= facenet_int8.MAX_DISTANCE_GAP
    assert "avx2" in cpu.instruction_sets() or not cpu.instruction_sets()  # x86 CI machines all have AVX2


def test_int8_that_is_off_on_this_cpu_falls_back_to_fp32_and_says_why(
    int8: FaceGate, models: ModelFiles, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(facenet_int8, "MAX_DISTANCE_GAP", 0.0)
    with caplog.at_level(logging.WARNING, logger="facegate"):
        assert facenet_for_precision(models, "int8") == models.facenet
    assert "int8 FaceNet is off on this CPU" in caplog.text and "using fp32 instead" in caplog.text


@pytest.mark.parametrize(
    ("flags", "saturates"),
    [
        (("avx2",), True),
        (("avx2", "avx512f"), True),
        (("avx2", "avx512f", "avx512_vnni"), False),
        (("avx2", "avx_vnni"), False),
        ((), False),
    ],
)
def test_cpus_whose_int8_kernels_saturate(
    flags: tuple[str, ...], saturates: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cpu, "instruction_sets", lambda: flags)
    assert cpu.int8_saturates() is saturates


def test_exact_int8_products_hold_the_bar_too(
    int8: FaceGate,
    fg: FaceGate,
    models: ModelFiles,
    faces: dict[str, tuple[np.ndarray, np.ndarray]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What an AVX2-only CPU runs (u8×u8 products), forced here: the same model stays within 0.02 of fp32."""
    monkeypatch.setattr(onnx_session, "int8_saturates", lambda: True)
    exact = Embedder(models.facenet_int8)
    assert exact._session.get_session_options().get_session_config_entry("session.x64quantprecision") == "1"
    crops = faces["val"][0]
    assert pair_distance_gaps(exact.embed(crops), fg.embedder.embed(crops)).max() <= 0.02
