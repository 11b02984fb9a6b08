"""Open-set nearest-neighbour identification and threshold calibration."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from facegate.match.decision import UNKNOWN
from facegate.match.nearest import NearestNeighbourIdentifier, calibrate_threshold, pairwise_distances
from facegate.match.operating_point import prior_distance


def unit(*values: float) -> np.ndarray:
    v = np.asarray(values, np.float32)
    return v / np.linalg.norm(v)


GALLERY = np.stack([unit(1, 0, 0), unit(1, 0.1, 0), unit(0, 1, 0)])
LABELS = ["ann", "ann", "bob"]


def test_nearest_sample_names_the_face_and_far_faces_are_unknown() -> None:
    model = NearestNeighbourIdentifier(threshold=0.5).fit(GALLERY, LABELS)
    probes = np.stack([unit(1, 0.05, 0), unit(0.1, 1, 0), unit(0, 0, 1)])
    decisions = model.decide(probes)
    assert [d.label for d in decisions] == ["ann", "bob", UNKNOWN]
    assert decisions[2].candidate in {"ann", "bob"} and not decisions[2].known
    assert decisions[2].distance == pytest.approx(np.sqrt(2), abs=1e-5)
    assert list(model.predict(probes)) == ["ann", "bob", UNKNOWN]
    assert model.decide(np.zeros((0, 3), np.float32)) == []


def test_estimator_conventions() -> None:
    model = NearestNeighbourIdentifier()
    assert model.get_params() == {"fpir": 1e-3, "threshold": None, "model": "facenet"}
    assert not hasattr(model, "index_")  # the constructor stores parameters only
    with pytest.raises(NotFittedError):
        model.predict(GALLERY)
    assert model.fit(GALLERY, LABELS) is model
    assert list(model.classes_) == ["ann", "bob"]
    assert clone(model).get_params() == model.get_params()
    assert model.score(GALLERY, LABELS) == 1.0


@pytest.mark.parametrize("X, y", [(np.zeros((0, 3)), []), (GALLERY, ["ann"]), (GALLERY, ["ann", "bob", UNKNOWN])])
def test_fit_refuses_bad_input(X: np.ndarray, y: list[str]) -> None:
    with pytest.raises(ValueError):
        NearestNeighbourIdentifier().fit(X, y)


def test_pairwise_distances_match_numpy() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(4, 5)).astype(np.float32), rng.normal(size=(3, 5)).astype(np.float32)
    expected = np.linalg.norm(a[:, None] - b[None], axis=2)
    np.testing.assert_allclose(pairwise_distances(a, b), expected, rtol=1e-5, atol=1e-5)


def test_calibrate_threshold_meets_the_target_rate_with_the_widest_margin() -> None:
    genuine = np.array([0.4, 0.6, 0.8, 1.15])
    impostor = np.array([1.2, 1.0, 1.3, 1.4, 1.5, 1.6, 1.7, 1.8, 1.9, 2.0])
    strict = calibrate_threshold(genuine, impostor, fpir=0.0)
    assert strict == pytest.approx((0.8 + 1.0) / 2)
    assert (impostor <= strict).mean() == 0.0
    loose = calibrate_threshold(genuine, impostor, fpir=0.1)  # one impostor search in ten may be accepted
    assert loose == pytest.approx((1.15 + 1.2) / 2)
    assert (impostor <= loose).mean() <= 0.1
    with pytest.raises(ValueError):
        calibrate_threshold(genuine, [], fpir=0.1)


@pytest.mark.slow
def test_the_default_operating_point_separates_the_celebrity_photos() -> None:
    """Each val photo searched against the others: enrolled people found, left-out people refused."""
    from facegate import FaceGate
    from facegate.gallery.folders import embed_gallery_folder

    fg = FaceGate()
    gallery = embed_gallery_folder(fg, fg.models.celebrity / "val")
    labels = np.asarray(gallery.labels)
    distances = pairwise_distances(gallery.embeddings, gallery.embeddings)
    np.fill_diagonal(distances, np.inf)
    genuine = np.array([distances[i, labels == labels[i]].min() for i in range(len(labels))])
    impostor = np.array([distances[i, labels != labels[i]].min() for i in range(len(labels))])
    threshold = NearestNeighbourIdentifier().fit(gallery.embeddings, labels).distance_threshold_
    assert threshold == pytest.approx(prior_distance(1e-3, 25))  # the default operating point over 25 photos
    assert len(labels) == 25 and not gallery.skipped
    assert (impostor <= threshold).mean() == 0.0
    assert (genuine > threshold).mean() <= 0.15  # 3 of 25 at the union bound over the 25 photos
    assert genuine.max() < calibrate_threshold(genuine, impostor, fpir=0.0) < impostor.min()
