"""Super Learner (van der Laan, Polley & Hubbard 2007) and Deep Super Learner (Young, Abdou & Bener 2018).

Super Learner: every learner's class probabilities are predicted out-of-fold (stratified V-fold); the
non-negative weights summing to 1 that minimise the cross-validated log loss of the weighted combination are
found (SciPy SLSQP; NNLS on one-hot targets as an option; "discrete" picks the best single learner); every
learner is then refit on all the data and predictions are the weighted combination of their probabilities.
A solver that fails (SLSQP not converged, NNLS all zero) falls back to the discrete Super Learner with a warning;
a class with a single sample leaves nothing to cross-validate, and the learners are then weighted equally.
"""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np
from scipy.optimize import minimize, nnls
from sklearn.base import ClassifierMixin, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import log_loss
from sklearn.model_selection import StratifiedKFold
from sklearn.utils.validation import check_is_fitted, validate_data

from facegate.match.calibration import RandomState, stratified_folds, validate_classes
from facegate.match.learners import LearnerComposition, Learners

Method = Literal["slsqp", "nnls", "discrete"]
_EPS = 1e-12  # floor for a combined probability inside the log
_DUST = 1e-6  # weights below this are solver noise on learners it dropped


class WeightSolverError(RuntimeError):
    """The SLSQP or NNLS solver gave no usable convex weights."""


def aligned_proba(model: ClassifierMixin, X: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """model.predict_proba(X) with one column per entry of `classes` (0 for classes the model never saw)."""
    proba = np.zeros((len(X), len(classes)))
    proba[:, np.searchsorted(classes, model.classes_)] = model.predict_proba(X)
    return proba


def out_of_fold_proba(
    learners: Learners, X: np.ndarray, y: np.ndarray, classes: np.ndarray, cv: StratifiedKFold
) -> np.ndarray:
    """M×N×K class probabilities of every learner, each sample predicted by a fit that never saw it."""
    oof = np.zeros((len(learners), len(X), len(classes)))
    for train, test in cv.split(X, y):
        for m, (_, learner) in enumerate(learners):
            oof[m, test] = aligned_proba(clone(learner).fit(X[train], y[train]), X[test], classes)
    return oof


def learner_losses(oof: np.ndarray, y_index: np.ndarray) -> np.ndarray:
    """The cross-validated log loss of each of the M learners of `oof` (M×N×K)."""
    return np.array([log_loss(y_index, p, labels=np.arange(oof.shape[2])) for p in oof])


def discrete_weights(oof: np.ndarray, y_index: np.ndarray) -> np.ndarray:
    """All weight on the learner with the lowest CV loss (shared equally by learners that tie for it)."""
    losses = learner_losses(oof, y_index)
    best = np.isclose(losses, losses.min(), rtol=1e-9, atol=1e-12)
    return best / best.sum()


def _convex(weights: np.ndarray, solver: str) -> np.ndarray:
    """Solver output without dust, rescaled to sum 1; WeightSolverError when nothing usable is left."""
    weights = np.where(weights > _DUST, weights, 0.0)
    total = weights.sum()
    if not np.isfinite(total) or total <= 0:
        raise WeightSolverError(f"{solver} gave no positive weight")
    return weights / total


def nnls_weights(oof: np.ndarray, y_index: np.ndarray) -> np.ndarray:
    """Non-negative least squares of the one-hot targets on the learners' probabilities, rescaled to sum 1."""
    n_learners, _, n_classes = oof.shape
    design = oof.transpose(1, 2, 0).reshape(-1, n_learners)
    target = np.eye(n_classes)[y_index].reshape(-1)
    try:
        weights = nnls(design, target)[0]
    except RuntimeError as exc:  # iteration limit
        raise WeightSolverError(f"nnls: {exc}") from exc
    return _convex(weights, "nnls")


def slsqp_weights(oof: np.ndarray, y_index: np.ndarray) -> np.ndarray:
    """The convex weights that minimise the log loss of the combined probabilities (SciPy SLSQP)."""
    n_learners, n = oof.shape[:2]
    truth = oof[:, np.arange(n), y_index].T  # N×M: each learner's probability of the true class

    def loss(w: np.ndarray) -> float:
        return float(-np.mean(np.log(np.maximum(truth @ w, _EPS))))

    def grad(w: np.ndarray) -> np.ndarray:
        return -(truth / np.maximum(truth @ w, _EPS)[:, None]).mean(axis=0)

    result = minimize(
        loss,
        np.full(n_learners, 1.0 / n_learners),
        jac=grad,
        method="SLSQP",
        bounds=[(0.0, 1.0)] * n_learners,
        constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0, "jac": lambda w: np.ones_like(w)}],
        options={"ftol": 1e-10, "maxiter": 500},
    )
    if not result.success:
        raise WeightSolverError(f"slsqp: {result.message}")
    return _convex(result.x, "slsqp")


def fit_weights(oof: np.ndarray, y_index: np.ndarray, method: Method) -> tuple[np.ndarray, Method]:
    """Convex weights (≥ 0, sum 1) over the M learners of `oof` (M×N×K) for true class indices y_index, and the
    method that found them: `method`, or "discrete" (with a ConvergenceWarning) when its solver fails."""
    if method == "discrete":
        return discrete_weights(oof, y_index), method
    try:
        return (nnls_weights if method == "nnls" else slsqp_weights)(oof, y_index), method
    except WeightSolverError as exc:
        warnings.warn(
            f"Super Learner weights: {exc}; falling back to the discrete Super Learner (the learner "
            "with the lowest cross-validated log loss)",
            ConvergenceWarning,
            stacklevel=3,
        )
        return discrete_weights(oof, y_index), "discrete"


class SuperLearnerClassifier(ClassifierMixin, LearnerComposition):
    """Weighted combination of learners' probabilities, weights minimising the V-fold cross-validated log loss.

    learners: (name, estimator) pairs with predict_proba; None → the study's nine (facegate.match.learners); their
    parameters are this estimator's too (`set_params(lr__C=5)`). folds: V of the stratified V-fold (capped by the
    smallest class). method: "slsqp" (log loss, default), "nnls" (squared error on one-hot targets) or "discrete"
    (all weight on the learner with the lowest CV loss).
    Fitted: learners_ (refit on all data), weights_, weights_method_ (`method`; "discrete" when its solver failed;
    "equal" when some class has a single sample, which leaves nothing to cross-validate), cv_loss_ (per learner),
    cv_loss_ensemble_, oof_proba_ (NaN losses and None without cross-validation).
    """

    def __init__(
        self,
        learners: Learners | None = None,
        folds: int = 5,
        method: Method = "slsqp",
        random_state: RandomState = None,
    ) -> None:
        self.learners = learners
        self.folds = folds
        self.method = method
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: np.ndarray) -> SuperLearnerClassifier:
        if self.method not in ("slsqp", "nnls", "discrete"):
            raise ValueError(f"method must be 'slsqp', 'nnls' or 'discrete', not {self.method!r}")
        X, y, self.classes_, y_index = validate_classes(self, X, y)
        learners = self.learner_list()
        self.learner_names_ = [name for name, _ in learners]
        cv = stratified_folds(y, self.folds, self.random_state)
        if cv is None:
            warnings.warn(
                "SuperLearnerClassifier: a class has a single sample, too few to cross-validate; "
                "the learners are weighted equally",
                UserWarning,
                stacklevel=2,
            )
            self.weights_, self.weights_method_ = np.full(len(learners), 1.0 / len(learners)), "equal"
            self.cv_loss_, self.cv_loss_ensemble_ = np.full(len(learners), np.nan), np.nan
            self.oof_proba_: np.ndarray | None = None
        else:
            self._cross_validate(learners, X, y, y_index, cv)
        self.learners_ = [(name, clone(learner).fit(X, y)) for name, learner in learners]
        return self

    def _cross_validate(
        self, learners: Learners, X: np.ndarray, y: np.ndarray, y_index: np.ndarray, cv: StratifiedKFold
    ) -> None:
        """Out-of-fold probabilities, each learner's CV loss, the weights and the ensemble's CV loss."""
        oof = out_of_fold_proba(learners, X, y, self.classes_, cv)
        self.cv_loss_ = learner_losses(oof, y_index)
        self.weights_, self.weights_method_ = fit_weights(oof, y_index, self.method)
        self.oof_proba_ = np.tensordot(self.weights_, oof, axes=1)
        self.cv_loss_ensemble_ = float(log_loss(y_index, self.oof_proba_, labels=np.arange(len(self.classes_))))

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return sum(
            w * aligned_proba(model, X, self.classes_) for w, (_, model) in zip(self.weights_, self.learners_) if w > 0
        )

    def predict(self, X: np.ndarray) -> np.ndarray:
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


class DeepSuperLearnerClassifier(ClassifierMixin, LearnerComposition):
    """Layers of Super Learners: each layer sees the original features plus the previous layer's weighted
    out-of-fold class probabilities; layers are added while the CV log loss improves by more than `tol` (one layer
    when a class has a single sample: nothing is held out to stack on). Nested parameters as SuperLearnerClassifier.

    Fitted: layers_ (the kept SuperLearnerClassifier layers), n_layers_, layer_loss_ (CV loss of every layer tried).
    """

    def __init__(
        self,
        learners: Learners | None = None,
        folds: int = 5,
        method: Method = "slsqp",
        max_layers: int = 5,
        tol: float = 1e-3,
        random_state: RandomState = None,
    ) -> None:
        self.learners = learners
        self.folds = folds
        self.method = method
        self.max_layers = max_layers
        self.tol = tol
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: np.ndarray) -> DeepSuperLearnerClassifier:
        if self.max_layers < 1:
            raise ValueError(f"max_layers must be at least 1, not {self.max_layers}")
        X, y, _, _ = validate_classes(self, X, y)
        self.layers_: list[SuperLearnerClassifier] = []
        self.layer_loss_: list[float] = []
        features = X
        for _ in range(self.max_layers):
            layer = SuperLearnerClassifier(self.learners, self.folds, self.method, self.random_state).fit(features, y)
            self.layer_loss_.append(layer.cv_loss_ensemble_)
            if self.layers_ and layer.cv_loss_ensemble_ > self.layer_loss_[-2] - self.tol:
                break
            self.layers_.append(layer)
            if layer.oof_proba_ is None:
                break
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
