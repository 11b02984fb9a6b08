"""The study's stacked ensemble: level-0 learners through stratified k-fold, a level-1 model on their
out-of-fold class probabilities (scikit-learn's StackingClassifier underneath)."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.ensemble import StackingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from facegate.match.learners import Learners, study_learners
from facegate.match.superlearner import RandomState, stratified_folds

# The study's stacking run: ">lr >knn >cart >svm >bayes >stacking", a logistic regression on top.
STACK_LEVEL0 = ("lr", "knn", "cart", "svc", "bayes")


class StackedEnsemble(ClassifierMixin, BaseEstimator):
    """Level-1 `meta_learner` (None → LogisticRegression) fit on the level-0 learners' out-of-fold probabilities.

    learners: (name, estimator) pairs; None → the study's five (lr, knn, cart, svc, bayes).
    passthrough: also give the meta-learner the original features. Fitted: stack_ (the StackingClassifier).
    """

    def __init__(self, learners: Learners | None = None, meta_learner: ClassifierMixin | None = None,
                 folds: int = 5, passthrough: bool = False, random_state: RandomState = None) -> None:
        self.learners = learners
        self.meta_learner = meta_learner
        self.folds = folds
        self.passthrough = passthrough
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: np.ndarray) -> StackedEnsemble:
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        if len(np.unique(y)) < 2:
            raise ValueError(f"StackedEnsemble needs samples of at least 2 classes, got {len(np.unique(y))} class")
        seed = self.random_state if isinstance(self.random_state, int) else None
        learners = self.learners if self.learners is not None else study_learners(seed, STACK_LEVEL0)
        meta = clone(self.meta_learner) if self.meta_learner is not None else LogisticRegression(C=10.0, max_iter=2000)
        self.stack_ = StackingClassifier(
            estimators=[(name, clone(est)) for name, est in learners], final_estimator=meta,
            cv=stratified_folds(y, self.folds, self.random_state), stack_method="predict_proba",
            passthrough=self.passthrough,
        ).fit(X, y)
        self.classes_ = self.stack_.classes_
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self)
        return self.stack_.predict_proba(validate_data(self, X, reset=False, dtype=np.float64))

    def predict(self, X: np.ndarray) -> np.ndarray:
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]
