"""The study's nine base learners, with hyper-parameters that suit L2-normalised 128-d FaceNet embeddings.

Unit vectors have coordinates of about ±0.09, so linear models need weak regularisation (large C), and
Euclidean neighbours rank exactly as cosine ones. Tree ensembles stay small (50 trees, AdaBoost on stumps as in
the study): a Super Learner refits each of them V + 1 times, and more trees add time, not accuracy, here.
SVC's probabilities come from Platt scaling on internal folds (CalibratedClassifierCV: SVC(probability=True)
is deprecated since scikit-learn 1.9).
"""

from __future__ import annotations

from sklearn.base import ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
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

Learners = list[tuple[str, ClassifierMixin]]

STUDY_LEARNERS = ("lr", "cart", "svc", "bayes", "knn", "ada", "bag", "rf", "et")


def study_learners(random_state: int | None = 0, names: tuple[str, ...] = STUDY_LEARNERS) -> Learners:
    """The study's base learners as (short name, unfitted estimator), in the study's order."""
    rs = random_state
    table: dict[str, ClassifierMixin] = {
        "lr": LogisticRegression(C=10.0, max_iter=2000),
        "cart": DecisionTreeClassifier(random_state=rs),
        "svc": CalibratedClassifierCV(SVC(kernel="linear", C=1.0), method="sigmoid", ensemble=False),
        "bayes": GaussianNB(),
        "knn": KNeighborsClassifier(n_neighbors=5, weights="distance"),
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
    "lr": "LogisticRegression", "cart": "DecisionTree", "svc": "SVC", "bayes": "GaussianNB",
    "knn": "KNeighbors", "ada": "AdaBoost", "bag": "Bagging", "rf": "RandomForest", "et": "ExtraTrees",
}
