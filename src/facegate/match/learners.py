"""The study's nine base learners, with hyper-parameters that suit L2-normalised 128-d FaceNet embeddings, and the
nested parameters (`lr__C`) of the ensembles built from them.

Unit vectors have coordinates of about ±0.09, so linear models need weak regularisation (large C), and
Euclidean neighbours rank exactly as cosine ones; k-NN votes with every sample when fewer than k are enrolled.
GaussianNB's per-class variances are floored at a tenth of the largest coordinate variance (0.0013 on the
5-celebrity photos, half one person's mean 0.0029): estimated from 1-4 photos, some of the 128 came out near zero,
which made it certain and often wrong (15 of the 25 val photos right after 2 train photos per person).
Tree ensembles stay small (50 trees, AdaBoost on stumps as in the study): a Super Learner refits each of them
V + 1 times, and more trees add time, not accuracy, here.
SVC's probabilities are its decision values, temperature-scaled on out-of-fold ones (TemperatureScaledClassifier):
its most probable class is SVC.predict's; it fits from one sample per class (T from two). (Platt scaling of the
one-vs-rest decision values, with 5 positives per class, ranked the right person first for only 36% of LFW probes;
SVC(probability=True) is deprecated since scikit-learn 1.9.)
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.ensemble import (
    AdaBoostClassifier,
    BaggingClassifier,
    ExtraTreesClassifier,
    RandomForestClassifier,
)
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils.metaestimators import _BaseComposition

from facegate.match.calibration import RandomState, TemperatureScaledClassifier

Learners = list[tuple[str, ClassifierMixin]]

STUDY_LEARNERS = ("lr", "cart", "svc", "bayes", "knn", "ada", "bag", "rf", "et")


def study_learners(random_state: int | None = 0, names: tuple[str, ...] = STUDY_LEARNERS) -> Learners:
    """The study's base learners as (short name, unfitted estimator), in the study's order."""
    rs = random_state
    table: dict[str, ClassifierMixin] = {
        "lr": LogisticRegression(C=10.0, max_iter=2000),
        "cart": DecisionTreeClassifier(random_state=rs),
        "svc": TemperatureScaledClassifier(SVC(kernel="linear", C=1.0, break_ties=True), random_state=rs),
        "bayes": GaussianNB(var_smoothing=0.1),
        "knn": CappedKNeighborsClassifier(n_neighbors=5, weights="distance"),
        "ada": AdaBoostClassifier(n_estimators=50, random_state=rs),
        "bag": BaggingClassifier(DecisionTreeClassifier(), n_estimators=20, random_state=rs),
        "rf": RandomForestClassifier(n_estimators=50, random_state=rs),
        "et": ExtraTreesClassifier(n_estimators=50, random_state=rs),
    }
    unknown = set(names) - table.keys()
    if unknown:
        raise ValueError(f"unknown learner(s) {sorted(unknown)}; choose from {list(table)}")
    return [(name, table[name]) for name in names]


LEARNER_TITLES = {
    "lr": "LogisticRegression",
    "cart": "DecisionTree",
    "svc": "SVC",
    "bayes": "GaussianNB",
    "knn": "KNeighbors",
    "ada": "AdaBoost",
    "bag": "Bagging",
    "rf": "RandomForest",
    "et": "ExtraTrees",
}


class CappedKNeighborsClassifier(KNeighborsClassifier):
    """k-nearest neighbours that vote with every enrolled sample when fewer than k are enrolled (scikit-learn's
    refuses to predict then: a Super Learner fold of a small gallery can hold 4 photos)."""

    def kneighbors(
        self, X: np.ndarray | None = None, n_neighbors: int | None = None, return_distance: bool = True
    ) -> tuple[np.ndarray, np.ndarray] | np.ndarray:
        available = self.n_samples_fit_ - (X is None)  # X=None: the fitted samples, each without itself
        return super().kneighbors(X, min(n_neighbors or self.n_neighbors, available), return_distance)


def _seed(random_state: RandomState) -> int | None:
    """An int random_state passed on to the default learners (a RandomState object is not shared with them)."""
    return random_state if isinstance(random_state, int) else None


class LearnerComposition(_BaseComposition):
    """Parameters of an ensemble's `learners` ((name, estimator) pairs) as in scikit-learn's own ensembles:
    `get_params()["lr__C"]`, `set_params(lr__C=5)`, `set_params(lr=other)`. learners=None stands for the study's
    learners named by `default_learners` (seeded by an int random_state); get_params shows them, and a set_params
    that names one of them first makes the list explicit."""

    default_learners: tuple[str, ...] = STUDY_LEARNERS
    learners: Learners | None
    random_state: RandomState

    def learner_list(self) -> Learners:
        """The learners to fit: `learners`, or the defaults."""
        if self.learners is None:
            return study_learners(_seed(self.random_state), self.default_learners)
        if not self.learners:
            raise ValueError("learners is empty; give at least one (name, estimator) pair")
        self._validate_names([name for name, _ in self.learners])
        return list(self.learners)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        out = self._get_params("learners", deep=deep)
        if deep and self.learners is None:
            for name, learner in self.learner_list():
                out[name] = learner
                out.update({f"{name}__{key}": value for key, value in learner.get_params(deep=True).items()})
        return out

    def set_params(self, **params: Any) -> Self:
        if self.learners is None and {key.split("__")[0] for key in params} & set(self.default_learners):
            seed = _seed(params.get("random_state", self.random_state))
            self.learners = study_learners(seed, self.default_learners)
        return self._set_params("learners", **params)
