"""Open-set 1-nearest-neighbour identification: the nearest enrolled sample names the face, if it is near enough.

Works with any number of samples per person, down to one photo each (the original video demo's gallery).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from facegate.match.decision import UNKNOWN, Decision
from facegate.match.operating_point import DEFAULT_FPIR, check_fpir, gallery_comparisons, prior_distance
from facegate.match.vector_index import VectorIndex, squared_distances


def pairwise_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances between the rows of `a` (N×D) and `b` (M×D) as an N×M float32 matrix."""
    return np.sqrt(np.maximum(squared_distances(a, b), 0.0)).astype(np.float32)


def calibrate_threshold(genuine: np.ndarray, impostor: np.ndarray, fpir: float = 0.01) -> float:
    """Distance threshold whose false-positive identification rate on `impostor` is at most `fpir`.

    genuine: nearest-sample distances of searches whose person is enrolled; impostor: of searches whose person is
    not. The threshold lies midway between the largest genuine distance that stays accepted and the first
    impostor distance that must be refused, so it keeps the widest margin on both sides.
    """
    genuine, impostor = np.sort(np.asarray(genuine, np.float64)), np.sort(np.asarray(impostor, np.float64))
    if not len(impostor):
        raise ValueError("calibrate_threshold needs at least one impostor distance")
    if not 0.0 <= fpir < 1.0:
        raise ValueError(f"fpir must be in [0, 1), got {fpir}")
    allowed = int(np.floor(fpir * len(impostor)))  # impostor searches that may be accepted
    bound = impostor[allowed]  # the first one that must be refused: the threshold stays strictly below it
    accepted = genuine[genuine < bound]
    low = accepted[-1] if len(accepted) else 0.0
    return float((low + bound) / 2)


class NearestNeighbourIdentifier(ClassifierMixin, BaseEstimator):
    """1-NN over enrolled unit embeddings; a face farther than the distance threshold from every sample is UNKNOWN.

    fpir: the false-accept target; the threshold is the model's prior distance for it over the enrolled photos
    (FaceNet: 0.884 for 10 people with one photo each at the default 1e-3; see operating_point).
    threshold: a fixed distance instead (overrides fpir).
    model: the embedding model ("facenet" or "vggface2") whose prior distances apply.
    The samples go into a VectorIndex: exact search for small galleries, FAISS for large ones.
    Fitted: distance_threshold_ (the distance in force).
    """

    def __init__(self, fpir: float = DEFAULT_FPIR, threshold: float | None = None, model: str = "facenet") -> None:
        self.fpir = fpir
        self.threshold = threshold
        self.model = model

    def fit(self, X: np.ndarray, y: np.ndarray | list[str]) -> NearestNeighbourIdentifier:
        """Enrol the samples X (N×D embeddings) with their person labels y."""
        X = np.asarray(X, np.float32)
        labels = np.asarray(y, dtype=str)
        if X.ndim != 2 or not len(X):
            raise ValueError(f"expected a non-empty N×D array of embeddings, got shape {X.shape}")
        if len(labels) != len(X):
            raise ValueError(f"{len(X)} embeddings but {len(labels)} labels")
        if UNKNOWN in labels:
            raise ValueError(f"{UNKNOWN!r} is reserved for faces that match nobody; rename that person")
        self.index_ = VectorIndex(dim=X.shape[1])
        self.index_.add(np.arange(len(X)), X)
        self.labels_ = labels
        self.classes_ = np.unique(labels)
        self.n_features_in_ = X.shape[1]
        self.distance_threshold_ = (
            prior_distance(
                check_fpir(self.fpir), gallery_comparisons(np.unique(labels, return_counts=True)[1]), self.model
            )
            if self.threshold is None
            else float(self.threshold)
        )
        return self

    def decide(self, X: np.ndarray) -> list[Decision]:
        """One Decision per row of X: the nearest sample's person, or UNKNOWN beyond the threshold."""
        check_is_fitted(self)
        X = np.asarray(X, np.float32).reshape(-1, self.n_features_in_)
        if not len(X):
            return []
        distances, nearest = self.index_.search(X, 1)
        out = []
        for row, distance in zip(nearest[:, 0], distances[:, 0].tolist()):
            candidate = str(self.labels_[row])
            label = candidate if distance <= self.distance_threshold_ else UNKNOWN
            out.append(Decision(label=label, candidate=candidate, probability=1.0, distance=distance))
        return out

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Person labels for the rows of X, UNKNOWN where nobody is near enough."""
        return np.asarray([d.label for d in self.decide(X)], dtype=object)
