"""LFW verification: the pairs protocol, metrics, the feature cache, and a real run on fold 1 of pairs.txt."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facegate.cli import main
from facegate.detect.base import Face
from facegate.experiments import lfw_benchmark as bench
from facegate.experiments.feature_cache import (
    FEATURES_VERSION,
    FeatureCache,
    code_version,
    faces_from_array,
    faces_to_array,
    model_key,
)
from facegate.experiments.lfw import CENTRE_BOX, configured_lfw, lfw_dir, median_box, read_pairs, subject
from facegate.models import cache_dir
from facegate.models.store import CONVERTER_VERSION

HAVE_LFW = configured_lfw() is not None
needs_lfw = pytest.mark.skipif(not HAVE_LFW, reason="LFW data not present (set $FACEGATE_LFW)")


def face(x1: float, y1: float, x2: float, y2: float, landmarks: bool = False) -> Face:
    points = np.arange(10, dtype=np.float32).reshape(5, 2) + x1 if landmarks else None
    return Face(box=(x1, y1, x2, y2), score=0.9, landmarks=points)


# --- protocol and metrics, no models -------------------------------------------------------------------------


@needs_lfw
def test_pairs_txt_has_ten_balanced_folds() -> None:
    pairs = read_pairs(lfw_dir() / "pairs.txt")
    assert len(pairs) == 6000
    for fold in range(10):
        in_fold = [p for p in pairs if p.fold == fold]
        assert sum(p.same for p in in_fold) == 300 and sum(not p.same for p in in_fold) == 300


def test_subject_is_the_face_nearest_the_centre_not_the_largest() -> None:
    big_corner = face(0, 0, 150, 150)
    small_centre = face(90, 90, 160, 160)
    assert subject([big_corner, small_centre], 250, 250) is small_centre
    assert subject([], 250, 250) is None


def test_median_box() -> None:
    assert median_box([face(0, 0, 10, 10), face(2, 2, 12, 14), face(4, 1, 11, 12)]) == (2.0, 1.0, 11.0, 12.0)


def test_faces_round_trip_through_arrays() -> None:
    faces = [face(1.5, 2, 30, 40, landmarks=True), face(5, 6, 7, 8)]
    back = faces_from_array(faces_to_array(faces))
    assert [f.box for f in back] == [f.box for f in faces]
    assert np.allclose(back[0].landmarks, faces[0].landmarks) and back[1].landmarks is None
    assert faces_to_array([]).shape == (0, 15) and faces_from_array(faces_to_array([])) == []


def test_best_threshold_separates_and_splits_the_gap() -> None:
    distances = np.array([0.2, 0.5, 0.6, 1.0, 1.4, 1.5])
    same = np.array([True, True, True, False, False, False])
    t = bench.best_threshold(distances, same)
    assert 0.6 < t < 1.0 and bench.accuracy(distances, same, t) == 1.0
    # one same pair far away: the best threshold still keeps the other five right
    same_far = np.array([True, True, False, False, False, True])
    assert bench.accuracy(distances, same_far, bench.best_threshold(distances, same_far)) == pytest.approx(5 / 6)


def test_best_threshold_never_splits_ties() -> None:
    distances = np.array([0.5, 0.5, 0.5, 0.5])
    same = np.array([True, False, True, True])
    t = bench.best_threshold(distances, same)
    assert t > 0.5 and bench.accuracy(distances, same, t) == 0.75


def test_evaluate_scores_each_fold_with_a_threshold_from_the_others() -> None:
    rng = np.random.default_rng(0)
    same = np.tile([True, False], 500)
    distances = np.where(same, rng.normal(0.8, 0.1, same.size), rng.normal(1.3, 0.1, same.size))
    metrics = bench.evaluate(distances, same, np.arange(same.size) % 10)
    assert metrics.fold_accuracies.shape == (10,) and metrics.accuracy > 0.97
    assert 0.95 < metrics.threshold < 1.15 and metrics.auc > 0.99
    assert metrics.tar[0.01] >= metrics.tar[0.001]


def test_feature_cache_computes_once_per_file_content(tmp_path: Path) -> None:
    files = []
    for name, content in (("a.bin", b"first"), ("b.bin", b"second"), ("a_copy.bin", b"first")):
        (tmp_path / name).write_bytes(content)
        files.append(tmp_path / name)
    calls: list[list[Path]] = []

    def lengths(batch: list[Path]) -> list[np.ndarray]:
        calls.append(batch)
        return [np.array([len(p.read_bytes())], np.float32) for p in batch]

    cache = FeatureCache(tmp_path / "features")
    first = cache.compute("test/length", files, lengths, batch_size=1)
    assert [float(a[0]) for a in first] == [5, 6, 5]
    assert sum(len(b) for b in calls) == 2  # the copy shares the original's entry
    again = FeatureCache(tmp_path / "features").compute("test/length", files, lengths)
    assert len(calls) == 2 and [float(a[0]) for a in again] == [5, 6, 5]
    assert cache.get_many("other/variant", [cache.key(files[0])]) == {}


def test_feature_cache_keeps_code_versions_apart(tmp_path: Path) -> None:
    FeatureCache(tmp_path, version="features0-old").put_many("embed/x", {"key": np.ones(2, np.float32)})
    assert FeatureCache(tmp_path, version="features1-new").get_many("embed/x", ["key"]) == {}
    assert list(FeatureCache(tmp_path, version="features0-old").get_many("embed/x", ["key"])) == ["key"]
    assert FeatureCache(tmp_path).version == code_version()
    assert f"features{FEATURES_VERSION}-converter{CONVERTER_VERSION}-" in code_version()


def test_int8_embeddings_are_keyed_by_cpu_and_fp32_ones_are_not(models) -> None:
    assert model_key(models.facenet) == "facenet"
    assert model_key(models.facenet_int8).startswith("facenet_int8@")


def test_tests_use_a_session_feature_cache_not_the_users(feature_cache_dir: Path) -> None:
    path = FeatureCache().path
    assert path.parent == feature_cache_dir and cache_dir() not in path.parents


# --- a real run: fold 1 of pairs.txt (600 pairs) ---------------------------------------------------------------


@pytest.fixture(scope="module")
def fold1() -> tuple[list, np.ndarray, bench.LFWEmbedder]:
    pairs, folds, _ = bench.protocol_pairs(read_pairs(lfw_dir() / "pairs.txt"), fold=1)
    return pairs, folds, bench.LFWEmbedder(FeatureCache())


@needs_lfw
@pytest.mark.slow
def test_fold1_default_variant_verifies_like_the_published_model(fold1) -> None:
    """Measured on fold 1 (Intel Xeon, 2026-12): 98.83% (7 of 600 pairs wrong), AUC 0.99958, TAR 99.00% at FAR 1%
    and 95.33% at 0.1%, threshold 1.097, no fallback among 807 photos. The bars allow three more wrong pairs."""
    pairs, folds, embedder = fold1
    result = bench.run_variant(embedder, pairs, folds, bench.VARIANTS[bench.DEFAULT_VARIANT])
    assert len(pairs) == 600 and result.photos == len(bench.unique_files(pairs))
    assert result.metrics.accuracy >= 0.983
    assert result.metrics.auc >= 0.999
    assert result.metrics.tar[0.01] >= 0.98 and result.metrics.tar[0.001] >= 0.93
    assert 1.0 < result.metrics.threshold < 1.2
    faces = embedder.subjects(bench.unique_files(pairs), "mtcnn")
    assert result.fallbacks == sum(f is None for f in faces) <= 0.005 * result.photos
    assert f"| {result.fallbacks} / {result.photos} |" in bench.results_table([result])


@needs_lfw
@pytest.mark.slow
def test_centre_box_is_where_mtcnn_finds_the_subject(fold1) -> None:
    pairs, _, embedder = fold1
    found = [f for f in embedder.subjects(bench.unique_files(pairs), "mtcnn") if f is not None]
    assert np.allclose(median_box(found), CENTRE_BOX, atol=4)


@needs_lfw
@pytest.mark.slow
def test_fresh_cache_computes_then_hits_with_identical_embeddings(fold1, tmp_path: Path) -> None:
    pairs, _, _embedder = fold1
    faceless = tmp_path / "faceless.jpg"  # no face to find: must fall back to the centre box, not be dropped
    Image.new("RGB", (250, 250), (128, 128, 128)).save(faceless)
    sample = [faceless, *bench.unique_files(pairs)[:23]]
    variant = bench.VARIANTS["warp+flip"]
    fresh = bench.LFWEmbedder(FeatureCache(tmp_path))
    first, first_fallback = fresh.embeddings(sample, variant)
    assert fresh.cache.misses > 0 and first_fallback.tolist() == [True] + [False] * 23
    assert np.allclose(np.linalg.norm(first, axis=1), 1, atol=1e-5)
    rerun = bench.LFWEmbedder(FeatureCache(tmp_path))
    second, _ = rerun.embeddings(sample, variant)
    assert rerun.cache.misses == 0 and rerun.cache.hits > 0
    assert np.array_equal(first, second)
    plain, _ = rerun.embeddings(sample, bench.VARIANTS["warp"])
    assert np.allclose(second, plain, atol=0.2) and not np.allclose(second, plain, atol=1e-4)


@needs_lfw
@pytest.mark.slow
def test_benchmark_command_writes_report_and_plot(fold1, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["benchmark", "lfw", "--fold", "1", "--variants", "warp", "--no-devtrain", "--out", str(tmp_path)]) == 0
    text = (tmp_path / "lfw.md").read_text()
    assert "MTCNN + warp (default)" in text and "99.38%" in text and "fold 1 only" in text
    assert (tmp_path / "lfw_roc.png").read_bytes()[:4] == b"\x89PNG"
    assert "Accuracy (mean ± std)" in capsys.readouterr().out
