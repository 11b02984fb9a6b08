"""The int8 FaceNet option meets its bar: 25/25 on the 5-celebrity val photos, distances within 0.02 of fp32."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from sklearn.svm import SVC

from facegate import FaceGate
from facegate.errors import ModelError
from facegate.models import ModelFiles
from facegate.models.facenet_int8 import quantise_facenet

from conftest import celebrity_photos


@pytest.fixture(scope="module")
def int8(models: ModelFiles) -> FaceGate:
    fg = FaceGate(precision="int8")
    fg.embedder  # builds the int8 model on first use
    return fg


def largest_faces(fg: FaceGate, models: ModelFiles, split: str) -> tuple[list[np.ndarray], np.ndarray]:
    """Aligned largest-face crops of one split (photos without a face left out) and their labels."""
    crops, labels = [], []
    for path in celebrity_photos(models, split):
        found = fg.represent(path)
        if found:
            crops.append(found[0].crop)
            labels.append(path.parent.name)
    return crops, np.asarray(labels)


def test_int8_model_is_quantised_and_cached(int8: FaceGate, models: ModelFiles) -> None:
    assert int8.embedder.model == models.facenet_int8
    ops = {node.op_type for node in onnx.load(str(models.facenet_int8)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear", "Conv"} <= ops
    assert models.facenet_int8.stat().st_size < models.facenet.stat().st_size / 2


def test_int8_keeps_every_val_photo_right(int8: FaceGate, fg: FaceGate, models: ModelFiles) -> None:
    train, y_train = largest_faces(fg, models, "train")
    val, y_val = largest_faces(fg, models, "val")
    x_train, x_val = int8.embedder.embed(np.stack(train)), int8.embedder.embed(np.stack(val))
    assert len(y_val) == 25
    assert (SVC(kernel="linear").fit(x_train, y_train).predict(x_val) == y_val).sum() == 25


def test_int8_pair_distances_stay_within_0_02_of_fp32(int8: FaceGate, fg: FaceGate, models: ModelFiles) -> None:
    crops = np.stack(largest_faces(fg, models, "val")[0])
    ours, reference = int8.embedder.embed(crops), fg.embedder.embed(crops)

    def pair_distances(x: np.ndarray) -> np.ndarray:
        return np.linalg.norm(x[:, None] - x[None], axis=2)[np.triu_indices(len(x), 1)]

    gap = np.abs(pair_distances(ours) - pair_distances(reference))
    assert gap.max() <= 0.02
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_too_few_calibration_faces_is_a_clear_error(models: ModelFiles, tmp_path) -> None:
    with pytest.raises(ModelError, match="at least"):
        quantise_facenet(models.facenet, np.zeros((3, 160, 160, 3), np.uint8), tmp_path / "x.onnx")


def test_unknown_precision_is_refused() -> None:
    with pytest.raises(ValueError, match="precision"):
        FaceGate(precision="fp16")  # type: ignore[arg-type]
