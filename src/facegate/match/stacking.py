"""The study's stacked ensemble: level-0 learners through stratified k-fold, a level-1 model on their
out-of-fold class probabilities (scikit-learn's StackingClassifier underneath)."""

from __future__ import annotations

import numpy as np
from sklearn.base import ClassifierMixin, clone
from sklearn.ensemble import StackingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted, validate_data

from facegate.match.calibration import RandomState, stratified_folds, validate_classes
from facegate.match.learners import LearnerComposition, Learners

# The study's stacking run: ">lr >knn >cart >svm >bayes >stacking", a logistic regression on top.
STACK_LEVEL0 = ("lr", "knn", "cart", "svc", "bayes")


class StackedEnsemble(ClassifierMixin, LearnerComposition):
    """Level-1 `meta_learner` (None → LogisticRegression) fit on the level-0 learners' out-of-fold probabilities.

    learners: (name, estimator) pairs; None → the study's five (lr, knn, cart, svc, bayes). Their parameters and
    the meta-learner's are this estimator's too (`set_params(lr__C=5)`, `meta_learner__C`).
    passthrough: also give the meta-learner the original features. Needs 2 samples of every class (the
    meta-learner learns from out-of-fold predictions). Fitted: stack_ (the StackingClassifier).
    """

    default_learners = STACK_LEVEL0

    def __init__(
        self,
        learners: Learners | None = None,
        meta_learner: ClassifierMixin | None = None,
        folds: int = 5,
        passthrough: bool = False,
        random_state: RandomState = None,
    ) -> None:
        self.learners = learners
        self.meta_learner = meta_learner
        self.folds = folds
        self.passthrough = passthrough
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: np.ndarray) -> StackedEnsemble:
        X, y, classes, y_index = validate_classes(self, X, y)
        cv = stratified_folds(y, self.folds, self.random_state)
        if cv is None:
            raise ValueError(
                f"StackedEnsemble needs at least 2 samples of every class to cross-validate its level-0 "
                f"learners; {classes[np.bincount(y_index).argmin()]!r} has 1"
            )
        meta = clone(self.meta_learner) if self.meta_learner is not None else LogisticRegression(C=10.0, max_iter=2000)
        self.stack_ = StackingClassifier(
            estimators=[(name, clone(est)) for name, est in self.learner_list()],
            final_estimator=meta,
            cv=cv,
            stack_method="predict_proba",
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
