"""Super Learner (van der Laan, Polley & Hubbard 2007) and Deep Super Learner (Young, Abdou & Bener 2018).

Super Learner: every learner's class probabilities are predicted out-of-fold (stratified V-fold); the
non-negative weights summing to 1 that minimise the cross-validated log loss of the weighted combination are
found (SciPy SLSQP; NNLS on one-hot targets as an option; "discrete" picks the best single learner); every
learner is then refit on all the data and predictions are the weighted combination of their probabilities.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy.optimize import minimize, nnls
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.metrics import log_loss
from sklearn.model_selection import StratifiedKFold
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from facegate.match.learners import Learners, study_learners

Method = Literal["slsqp", "nnls", "discrete"]
RandomState = int | np.random.RandomState | None
_EPS = 1e-12  # floor for a combined probability inside the log


def stratified_folds(y: np.ndarray, folds: int, random_state: RandomState) -> StratifiedKFold:
    """Shuffled stratified folds, no more than the smallest class has members (at least 2)."""
    smallest = int(np.unique(y, return_counts=True)[1].min())
    return StratifiedKFold(n_splits=max(2, min(folds, smallest)), shuffle=True, random_state=random_state)


def aligned_proba(model: ClassifierMixin, X: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """model.predict_proba(X) with one column per entry of `classes` (0 for classes the model never saw)."""
    proba = np.zeros((len(X), len(classes)))
    proba[:, np.searchsorted(classes, model.classes_)] = model.predict_proba(X)
    return proba


def out_of_fold_proba(learners: Learners, X: np.ndarray, y: np.ndarray, classes: np.ndarray,
                      cv: StratifiedKFold) -> np.ndarray:
    """M×N×K class probabilities of every learner, each sample predicted by a fit that never saw it."""
    oof = np.zeros((len(learners), len(X), len(classes)))
    for train, test in cv.split(X, y):
        for m, (_, learner) in enumerate(learners):
            oof[m, test] = aligned_proba(clone(learner).fit(X[train], y[train]), X[test], classes)
    return oof


def fit_weights(oof: np.ndarray, y_index: np.ndarray, method: Method) -> np.ndarray:
    """Convex weights (≥ 0, sum 1) over the M learners of `oof` (M×N×K) for true class indices y_index."""
    n_learners, n = oof.shape[:2]
    if method == "discrete":
        losses = [log_loss(y_index, p, labels=np.arange(oof.shape[2])) for p in oof]
        return np.eye(n_learners)[int(np.argmin(losses))]
    if method == "nnls":
        design = oof.transpose(1, 2, 0).reshape(-1, n_learners)
        target = np.eye(oof.shape[2])[y_index].reshape(-1)
        weights = nnls(design, target)[0]
        return weights / weights.sum()
    truth = oof[:, np.arange(n), y_index].T  # N×M: each learner's probability of the true class

    def loss(w: np.ndarray) -> float:
        return float(-np.mean(np.log(np.maximum(truth @ w, _EPS))))

    def grad(w: np.ndarray) -> np.ndarray:
        return -(truth / np.maximum(truth @ w, _EPS)[:, None]).mean(axis=0)

    result = minimize(loss, np.full(n_learners, 1.0 / n_learners), jac=grad, method="SLSQP",
                      bounds=[(0.0, 1.0)] * n_learners,
                      constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0, "jac": lambda w: np.ones_like(w)}],
                      options={"ftol": 1e-10, "maxiter": 500})
    weights = np.where(result.x > 1e-6, result.x, 0.0)  # SLSQP leaves ~1e-9 dust on learners it dropped
    return weights / weights.sum()


class SuperLearnerClassifier(ClassifierMixin, BaseEstimator):
    """Weighted combination of learners' probabilities, weights minimising the V-fold cross-validated log loss.

    learners: (name, estimator) pairs with predict_proba; None → the study's nine (facegate.match.learners).
    folds: V of the stratified V-fold (capped by the smallest class). method: "slsqp" (log loss, default),
    "nnls" (squared error on one-hot targets) or "discrete" (all weight on the learner with the lowest CV loss).
    Fitted: learners_ (refit on all data), weights_, cv_loss_ (per learner), cv_loss_ensemble_, oof_proba_.
    """

    def __init__(self, learners: Learners | None = None, folds: int = 5, method: Method = "slsqp",
                 random_state: RandomState = None) -> None:
        self.learners = learners
        self.folds = folds
        self.method = method
        self.random_state = random_state

    def _learners(self) -> Learners:
        if self.learners is None:
            seed = self.random_state if isinstance(self.random_state, int) else None
            return study_learners(seed)
        if not self.learners:
            raise ValueError("learners is empty; give at least one (name, estimator) pair")
        return list(self.learners)

    def fit(self, X: np.ndarray, y: np.ndarray) -> SuperLearnerClassifier:
        if self.method not in ("slsqp", "nnls", "discrete"):
            raise ValueError(f"method must be 'slsqp', 'nnls' or 'discrete', not {self.method!r}")
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self.classes_, y_index = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"SuperLearnerClassifier needs samples of at least 2 classes, got {len(self.classes_)} class")
        learners = self._learners()
        oof = out_of_fold_proba(learners, X, y, self.classes_, stratified_folds(y, self.folds, self.random_state))
        labels = np.arange(len(self.classes_))
        self.learner_names_ = [name for name, _ in learners]
        self.cv_loss_ = np.array([log_loss(y_index, p, labels=labels) for p in oof])
        self.weights_ = fit_weights(oof, y_index, self.method)
        self.oof_proba_ = np.tensordot(self.weights_, oof, axes=1)
        self.cv_loss_ensemble_ = float(log_loss(y_index, self.oof_proba_, labels=labels))
        self.learners_ = [(name, clone(learner).fit(X, y)) for name, learner in learners]
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return sum(w * aligned_proba(model, X, self.classes_)
                   for w, (_, model) in zip(self.weights_, self.learners_) if w > 0)

    def predict(self, X: np.ndarray) -> np.ndarray:
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


class DeepSuperLearnerClassifier(ClassifierMixin, BaseEstimator):
    """Layers of Super Learners: each layer sees the original features plus the previous layer's weighted
    out-of-fold class probabilities; layers are added while the CV log loss improves by more than `tol`.

    Fitted: layers_ (the kept SuperLearnerClassifier layers), n_layers_, layer_loss_ (CV loss of every layer tried).
    """

    def __init__(self, learners: Learners | None = None, folds: int = 5, method: Method = "slsqp",
                 max_layers: int = 5, tol: float = 1e-3, random_state: RandomState = None) -> None:
        self.learners = learners
        self.folds = folds
        self.method = method
        self.max_layers = max_layers
        self.tol = tol
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: np.ndarray) -> DeepSuperLearnerClassifier:
        if self.max_layers < 1:
            raise ValueError(f"max_layers must be at least 1, not {self.max_layers}")
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self.layers_: list[SuperLearnerClassifier] = []
        self.layer_loss_: list[float] = []
        features = X
        for _ in range(self.max_layers):
            layer = SuperLearnerClassifier(self.learners, self.folds, self.method, self.random_state).fit(features, y)
            self.layer_loss_.append(layer.cv_loss_ensemble_)
            if self.layers_ and layer.cv_loss_ensemble_ > self.layer_loss_[-2] - self.tol:
                break
            self.layers_.append(layer)
            features = np.hstack([X, layer.oof_proba_])
        self.n_layers_ = len(self.layers_)
        self.classes_ = self.layers_[0].classes_
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        features = X
        for layer in self.layers_:
            proba = layer.predict_proba(features)
            features = np.hstack([X, proba])
        return proba

    def predict(self, X: np.ndarray) -> np.ndarray:
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]
