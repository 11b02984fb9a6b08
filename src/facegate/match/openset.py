"""Open-set identification: a classifier names a person only when it is confident AND the face is close to
that person's own enrolled samples; otherwise the answer is UNKNOWN.

Both thresholds are calibrated on searches the classifier never saw. Each calibration round holds out whole
people (their samples become impostor searches: nobody they could rightly match is enrolled) and one fold of
every other person's samples (genuine searches), fits the classifier on the rest, and records each search's
top probability and its distance to the nearest enrolled sample of the top candidate. An optional background
set (faces of people known not to be enrolled, e.g. LFW) adds impostor searches against the final classifier.
The pair of thresholds that loses the fewest genuine searches while accepting at most `fpir` of each impostor
set is kept.

A small gallery cannot foresee look-alikes: five people held out in turn give a few dozen impostor searches,
none of them a close double of anyone enrolled. Unless some impostor set is large enough that `fpir` of it is
RELIABLE_ACCEPTED searches, the distance threshold is capped by the model's prior (`prior_distance`) and the pair
is chosen at the rate the impostor searches can vouch for (RELIABLE_ACCEPTED of them); with no impostor searches at
all (two people, no background) the prior alone decides and the probability check is off.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
from scipy.spatial.distance import cdist
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from facegate.errors import FaceGateError
from facegate.match.calibration import RandomState, TemperatureScaledClassifier
from facegate.match.decision import UNKNOWN, Decision
from facegate.match.learners import study_learners
from facegate.match.operating_point import DEFAULT_FPIR, check_fpir, gallery_comparisons, prior_distance

MAX_GRID = 256  # thresholds tried per axis; more only slows the search on large galleries

RELIABLE_ACCEPTED = 10  # impostor searches that `fpir` must let through before calibration alone is trusted


class CalibrationError(FaceGateError, ValueError):
    """The enrolled samples cannot calibrate open-set thresholds (too few people or samples per person)."""


def default_classifier() -> ClassifierMixin:
    """The study's "lr" learner (logistic regression, rank-1 99.86% on the LFW open-set benchmark: 158 people, 5
    photos each), temperature-scaled: its regularised probabilities are too modest (0.97 on average for the easy
    5-celebrity val photos, scaled: 0.995), while strangers keep theirs around 0.5."""
    return TemperatureScaledClassifier(study_learners(0, ("lr",))[0][1], random_state=0)


def nearest_own_distance(
    embeddings: np.ndarray, gallery: np.ndarray, gallery_labels: np.ndarray, candidates: np.ndarray
) -> np.ndarray:
    """Euclidean distance from each embedding to the nearest gallery sample of its candidate (inf: none enrolled)."""
    distances = np.full(len(embeddings), np.inf)
    for label in np.unique(candidates):
        rows = candidates == label
        own = gallery[gallery_labels == label]
        if len(own):
            distances[rows] = cdist(embeddings[rows], own).min(axis=1)
    return distances


@dataclass(frozen=True)
class Searches:
    """Scored searches: the classifier's top probability, the distance to that candidate's nearest enrolled
    sample, and whether the candidate is right (always False for impostors, whose person is not enrolled)."""

    probability: np.ndarray
    distance: np.ndarray
    correct: np.ndarray

    def __len__(self) -> int:
        return len(self.correct)

    @classmethod
    def empty(cls) -> Searches:
        return cls(np.zeros(0), np.zeros(0), np.zeros(0, bool))

    @classmethod
    def concat(cls, parts: Sequence[Searches]) -> Searches:
        parts = [cls.empty(), *parts]
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("probability", "distance", "correct")))

    def accepted(self, probability_threshold: float, distance_threshold: float) -> np.ndarray:
        """Which searches name their candidate at these thresholds."""
        return (self.probability >= probability_threshold) & (self.distance <= distance_threshold)


def score_searches(
    classifier: ClassifierMixin,
    gallery: np.ndarray,
    gallery_labels: np.ndarray,
    embeddings: np.ndarray,
    labels: np.ndarray,
) -> Searches:
    """Top probability, distance to the top candidate's own samples, and correctness for each search."""
    if not len(embeddings):
        return Searches.empty()
    proba = classifier.predict_proba(embeddings)
    candidates = classifier.classes_[np.argmax(proba, axis=1)]
    distance = nearest_own_distance(embeddings, gallery, gallery_labels, candidates)
    return Searches(proba.max(axis=1), distance, candidates == labels)


def calibration_searches(
    classifier: ClassifierMixin, X: np.ndarray, y: np.ndarray, folds: int, random_state: RandomState
) -> tuple[Searches, Searches]:
    """Genuine and impostor searches from `folds` rounds (at least 2), each holding out one fold of every
    person's samples and, with three people or more, whole people (never leaving fewer than two to train on)."""
    people = np.unique(y)
    rng = check_random_state(random_state)
    # three people held out one per round leave two to train on; four or more can go two or more per round
    rounds = max(2, folds, 3 if len(people) == 3 else 2)
    hold_out = len(people) >= 3
    person_round = dict(zip(rng.permutation(people), np.arange(len(people)) % rounds))
    sample_round = np.empty(len(y), int)
    for person in people:
        rows = rng.permutation(np.flatnonzero(y == person))
        sample_round[rows] = np.arange(len(rows)) % rounds  # people with fewer samples than rounds skip some
    held_person = np.array([person_round[label] for label in y])
    genuine, impostor = [], []
    for r in range(rounds):
        stranger = (held_person == r) & hold_out
        train = ~stranger & (sample_round != r)
        test = ~stranger & (sample_round == r)
        if not (test.any() or stranger.any()):
            continue
        model = clone(classifier).fit(X[train], y[train])
        genuine.append(score_searches(model, X[train], y[train], X[test], y[test]))
        impostor.append(score_searches(model, X[train], y[train], X[stranger], y[stranger]))
    return Searches.concat(genuine), Searches.concat(impostor)


def _midpoints(values: np.ndarray) -> np.ndarray:
    """Thresholds between consecutive distinct values (at most MAX_GRID quantiles), plus one beyond each end."""
    unique = np.unique(values[np.isfinite(values)])
    if len(unique) > MAX_GRID:
        unique = np.unique(np.quantile(unique, np.linspace(0, 1, MAX_GRID)))
    inner = (unique[1:] + unique[:-1]) / 2
    return np.concatenate([[unique[0] - 1e-6], inner, [unique[-1] + 1e-6]])


def _acceptance_counts(searches: Searches, mask: np.ndarray, p_grid: np.ndarray, d_grid: np.ndarray) -> np.ndarray:
    """counts[i, j] = number of masked searches with probability ≥ p_grid[i] and distance ≤ d_grid[j]."""
    # p ≥ p_grid[i] ⇔ i < pi (pi = thresholds ≤ p); d ≤ d_grid[j] ⇔ j ≥ dj (dj = thresholds < d)
    pi = np.searchsorted(p_grid, searches.probability[mask], side="right")
    dj = np.searchsorted(d_grid, searches.distance[mask], side="left")
    cells = np.zeros((len(p_grid) + 1, len(d_grid) + 1))
    np.add.at(cells, (pi, dj), 1)
    # sum over rows pi > i (suffix sum) and columns dj ≤ j (prefix sum)
    suffix = np.cumsum(cells[::-1], axis=0)[::-1]
    return np.cumsum(suffix, axis=1)[1:, :-1]


def choose_thresholds(
    genuine: Searches, impostors: Sequence[Searches], fpir: float, max_distance: float = np.inf
) -> tuple[float, float, float, float]:
    """(probability threshold, distance threshold, FPIR, FNIR): the fewest genuine misses while every non-empty
    impostor set keeps its FPIR ≤ fpir (the FPIR returned is the largest of them); distance ≤ max_distance.

    Ties go to the smallest distance threshold (the safe side: a face must be as close as the genuine searches
    calibration accepted), then to the middle of the tied probability thresholds."""
    impostors = [s for s in impostors if len(s)]
    if not impostors:
        raise CalibrationError("choose_thresholds needs at least one impostor search")
    both = Searches.concat([genuine, *impostors])
    p_grid = _midpoints(np.concatenate([[0.0, 1.0], both.probability]))
    d_grid = _midpoints(np.concatenate([[0.0], both.distance]))
    if np.isfinite(max_distance):
        d_grid = np.append(d_grid[d_grid < max_distance], max_distance)
    hits = _acceptance_counts(genuine, genuine.correct, p_grid, d_grid) / max(len(genuine), 1)
    fpir_grid = np.max(
        [_acceptance_counts(s, np.ones(len(s), bool), p_grid, d_grid) / len(s) for s in impostors], axis=0
    )
    fnir_grid = np.where(fpir_grid <= fpir, 1.0 - hits, np.inf)
    best = np.isclose(fnir_grid, fnir_grid.min()) & np.isclose(fpir_grid, fpir_grid[fnir_grid == fnir_grid.min()].min())
    j = int(np.flatnonzero(best.any(axis=0))[0])
    rows = np.flatnonzero(best[:, j])
    i = int(rows[len(rows) // 2])
    return float(p_grid[i]), float(d_grid[j]), float(fpir_grid[i, j]), float(fnir_grid[i, j])


class OpenSetIdentifier(BaseEstimator):
    """A classifier plus calibrated open-set rejection; `decide` gives one Decision (maybe UNKNOWN) per face.

    classifier: any scikit-learn classifier with predict_proba (None → `default_classifier`: temperature-scaled
    logistic regression).
    fpir: target false-positive identification rate (share of strangers named as someone) for calibration.
    folds: calibration rounds (raised to 3 for a three-person gallery; people with fewer samples sit some out).
    model: the embedding model ("facenet" or "vggface2"), whose prior distances cap small galleries.
    Fitted: classifier_, probability_threshold_, distance_threshold_, threshold_source_ ("calibrated", "capped by
    prior" or "prior"), calibration_fpir_ / calibration_fnir_ at the chosen thresholds (FPIR: the largest over
    the impostor sets; NaN without impostors), genuine_ / impostor_ / background_ (the calibration searches),
    gallery_ / gallery_labels_ (enrolled embeddings).
    """

    def __init__(
        self,
        classifier: ClassifierMixin | None = None,
        fpir: float = DEFAULT_FPIR,
        folds: int = 5,
        random_state: RandomState = 0,
        model: str = "facenet",
    ) -> None:
        self.classifier = classifier
        self.fpir = fpir
        self.folds = folds
        self.random_state = random_state
        self.model = model

    def fit(self, X: np.ndarray, y: np.ndarray, background: np.ndarray | None = None) -> OpenSetIdentifier:
        """Calibrate on the enrolled samples X (N×D) with person labels y, then fit on all of them.

        background: optional M×D embeddings of people known not to be enrolled, searched as extra impostors."""
        X = np.asarray(X, np.float64)
        y = np.asarray(y).astype(str)
        if UNKNOWN in y:
            raise CalibrationError(f"{UNKNOWN!r} is reserved for rejected faces; rename that person")
        check_fpir(self.fpir)
        people, counts = np.unique(y, return_counts=True)
        if len(people) < 2:
            raise CalibrationError(f"open-set classification needs at least 2 enrolled people, got {len(people)}")
        if counts.min() < 2:
            raise CalibrationError(
                f"open-set calibration needs at least 2 samples per person; "
                f"{people[counts.argmin()]!r} has 1 (use nearest-neighbour identification)"
            )
        base = self.classifier if self.classifier is not None else default_classifier()
        self.genuine_, self.impostor_ = calibration_searches(base, X, y, self.folds, self.random_state)
        self.classifier_ = clone(base).fit(X, y)
        self.classes_ = self.classifier_.classes_
        self.gallery_, self.gallery_labels_ = X, y
        strangers = np.zeros((0, X.shape[1])) if background is None else np.asarray(background, np.float64)
        self.background_ = self.searches(strangers, np.full(len(strangers), UNKNOWN))
        self._set_thresholds([self.impostor_, self.background_])
        return self

    def _set_thresholds(self, impostors: list[Searches]) -> None:
        """Calibrated thresholds, capped by the prior unless some impostor set is large enough to trust alone."""
        impostors = [s for s in impostors if len(s)]
        photos = np.unique(self.gallery_labels_, return_counts=True)[1]
        prior = prior_distance(self.fpir, gallery_comparisons(photos), self.model)
        if not impostors:
            self.probability_threshold_, self.distance_threshold_, self.threshold_source_ = 0.0, prior, "prior"
            self.calibration_fpir_ = float("nan")
        else:
            most = max(len(s) for s in impostors)
            reliable = most * self.fpir >= RELIABLE_ACCEPTED
            cap = np.inf if reliable else prior
            # too few impostor searches to vouch for the target: calibrate at the rate they can vouch for (so the
            # probability check does not reject most genuine searches to let none of a few hundred impostors
            # through) and let the prior distance hold the target
            rate = self.fpir if reliable else RELIABLE_ACCEPTED / most
            (self.probability_threshold_, self.distance_threshold_, self.calibration_fpir_, _) = choose_thresholds(
                self.genuine_, impostors, rate, cap
            )
            self.threshold_source_ = "capped by prior" if self.distance_threshold_ == cap else "calibrated"
        accepted = self.genuine_.accepted(self.probability_threshold_, self.distance_threshold_)
        self.calibration_fnir_ = float(1.0 - (accepted & self.genuine_.correct).mean())

    def searches(self, embeddings: np.ndarray, labels: np.ndarray) -> Searches:
        """Score labelled searches against the enrolled gallery (for FPIR/FNIR and DET curves)."""
        check_is_fitted(self)
        return score_searches(
            self.classifier_,
            self.gallery_,
            self.gallery_labels_,
            np.asarray(embeddings, np.float64),
            np.asarray(labels).astype(str),
        )

    def decide(self, embeddings: np.ndarray) -> list[Decision]:
        """One Decision per row of N×D embeddings (none for N = 0): the candidate if both checks pass, else UNKNOWN."""
        check_is_fitted(self)
        X = np.asarray(embeddings, np.float64).reshape(-1, self.gallery_.shape[1])
        if not len(X):
            return []
        proba = self.classifier_.predict_proba(X)
        candidates = self.classes_[np.argmax(proba, axis=1)]
        probability = proba.max(axis=1)
        distance = nearest_own_distance(X, self.gallery_, self.gallery_labels_, candidates)
        known = (probability >= self.probability_threshold_) & (distance <= self.distance_threshold_)
        return [
            Decision(str(c) if k else UNKNOWN, str(c), float(p), float(d))
            for c, k, p, d in zip(candidates, known, probability, distance)
        ]

    def predict(self, embeddings: np.ndarray) -> np.ndarray:
        """Labels, UNKNOWN where the open-set check refuses."""
        return np.array([d.label for d in self.decide(embeddings)])

    def save(self, path: Path) -> None:
        """Write the fitted identifier (classifier, gallery and thresholds) with joblib."""
        check_is_fitted(self)
        joblib.dump(self, path)

    @classmethod
    def load(cls, path: Path) -> OpenSetIdentifier:
        """Read an identifier written by `save` (joblib runs code on load: only open files you trust)."""
        loaded = joblib.load(path)
        if not isinstance(loaded, cls):
            raise CalibrationError(f"{path} holds a {type(loaded).__name__}, not an {cls.__name__}")
        return loaded
