"""Cross-validation that fits small galleries, and temperature scaling of a classifier's decision values.

Temperature scaling (Guo et al. 2017) turns decision values into probabilities with one parameter:
softmax(decision_function(X) / T), so the most probable class is the classifier's own choice. T is fitted by log
loss on out-of-fold decision values. On a small gallery those are often all right, and plain log loss then drives
T to 0: every face, a stranger's too, would get probability 1. The targets are therefore smoothed as Platt (1999)
smooths his: after n out-of-fold searches, the true class's target is (n + 1) / (n + 2), the rule of succession's
estimate of the chance that the next search is right, and the other classes share the rest.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.model_selection import StratifiedKFold
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

RandomState = int | np.random.RandomState | None
LOG_T_BOUNDS = (-10.0, 10.0)  # T from 4.5e-5 to 22,000: far beyond any minimum the smoothed targets leave


def stratified_folds(y: np.ndarray, folds: int, random_state: RandomState) -> StratifiedKFold | None:
    """Shuffled stratified folds, no more than the smallest class has members, so that every training fold holds
    every class; None when some class has a single sample (it cannot be both held out and trained on)."""
    smallest = int(np.unique(y, return_counts=True)[1].min())
    if smallest < 2:
        return None
    return StratifiedKFold(n_splits=max(2, min(folds, smallest)), shuffle=True, random_state=random_state)


def validate_classes(
    estimator: BaseEstimator, X: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For `estimator.fit`: validated float64 X and labels y, the sorted classes and each label's index in them
    (ValueError with fewer than 2 classes: there is nothing to tell apart)."""
    X, y = validate_data(estimator, X, y, dtype=np.float64)
    check_classification_targets(y)
    classes, y_index = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(f"{type(estimator).__name__} needs samples of at least 2 classes, got {len(classes)} class")
    return X, y, classes, y_index


def class_logits(model: ClassifierMixin, X: np.ndarray) -> np.ndarray:
    """N×K decision values of a fitted classifier; a binary one's d becomes (−d/2, d/2): softmax gives sigmoid(d)."""
    d = model.decision_function(X)
    return np.column_stack([-d / 2, d / 2]) if d.ndim == 1 else d


def fit_temperature(logits: np.ndarray, y_index: np.ndarray) -> float:
    """The T that minimises the log loss of softmax(logits / T) against rule-of-succession smoothed targets."""
    n, k = logits.shape
    target = np.full((n, k), 1.0 / ((n + 2) * (k - 1)))
    target[np.arange(n), y_index] = (n + 1) / (n + 2)

    def loss(log_t: float) -> float:
        return float(-(target * log_softmax(logits / np.exp(log_t), axis=1)).sum(axis=1).mean())

    return float(np.exp(minimize_scalar(loss, bounds=LOG_T_BOUNDS, method="bounded").x))


class TemperatureScaledClassifier(ClassifierMixin, MetaEstimatorMixin, BaseEstimator):
    """A classifier whose probabilities are softmax(decision_function / T), T fitted on out-of-fold decision values.

    estimator: a classifier with decision_function (refit on all the data; predict is its argmax).
    folds: V of the stratified V-fold that gives the out-of-fold decision values (capped by the smallest class).
    Fitted: estimator_, temperature_ (1.0, the estimator's own scale, when some class has a single sample).
    """

    def __init__(self, estimator: ClassifierMixin, folds: int = 5, random_state: RandomState = None) -> None:
        self.estimator = estimator
        self.folds = folds
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: np.ndarray) -> TemperatureScaledClassifier:
        X, y, self.classes_, y_index = validate_classes(self, X, y)
        self.estimator_ = clone(self.estimator).fit(X, y)
        cv = stratified_folds(y, self.folds, self.random_state)
        self.temperature_ = 1.0
        if cv is not None:
            oof = np.zeros((len(X), len(self.classes_)))
            for train, test in cv.split(X, y):
                oof[test] = class_logits(clone(self.estimator).fit(X[train], y[train]), X[test])
            self.temperature_ = fit_temperature(oof, y_index)
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """The estimator's decision values (N, or N×K for more than two classes)."""
        check_is_fitted(self)
        return self.estimator_.decision_function(validate_data(self, X, reset=False, dtype=np.float64))

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return softmax(class_logits(self.estimator_, X) / self.temperature_, axis=1)

    def predict(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return self.classes_[np.argmax(class_logits(self.estimator_, X), axis=1)]
