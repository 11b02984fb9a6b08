"""Super Learner, Deep Super Learner and stacked ensemble: the algorithm's promises and scikit-learn's conventions."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import cross_val_score, train_test_split
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils.estimator_checks import parametrize_with_checks
from threadpoolctl import threadpool_limits

from facegate.match.stacking import StackedEnsemble
from facegate.match.superlearner import DeepSuperLearnerClassifier, SuperLearnerClassifier



@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    """Tiny matrices: BLAS threads only contend (up to 20× slower on a busy machine)."""
    with threadpool_limits(1, user_api="blas"):
        yield


SMALL = [("lr", LogisticRegression(max_iter=500)), ("bayes", GaussianNB())]


def _task(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    return make_classification(n_samples=n, n_features=12, n_informative=6, n_classes=3, n_clusters_per_class=1,
                               class_sep=1.0, random_state=seed)


def _quick_learners() -> list:
    return [("lr", LogisticRegression(max_iter=500)), ("bayes", GaussianNB()),
            ("knn", KNeighborsClassifier(15)), ("cart", DecisionTreeClassifier(max_depth=4, random_state=0))]


@pytest.mark.parametrize("method", ["slsqp", "nnls", "discrete"])
def test_weights_are_a_convex_combination(method: str) -> None:
    X, y = _task()
    sl = SuperLearnerClassifier(_quick_learners(), folds=5, method=method, random_state=0).fit(X, y)
    assert sl.weights_.shape == (4,)
    assert np.all(sl.weights_ >= 0)
    assert sl.weights_.sum() == pytest.approx(1.0)
    assert np.allclose(sl.predict_proba(X).sum(axis=1), 1.0)
    assert len(sl.cv_loss_) == 4


def test_discrete_method_picks_the_learner_with_lowest_cv_loss() -> None:
    X, y = _task()
    sl = SuperLearnerClassifier(_quick_learners(), method="discrete", random_state=0).fit(X, y)
    assert sl.weights_[np.argmin(sl.cv_loss_)] == 1.0


@pytest.mark.parametrize("method", ["slsqp", "nnls"])
def test_learner_on_random_features_gets_no_weight(method: str) -> None:
    X, y = _task()
    noise = np.random.default_rng(1).normal(size=(len(X), 5))
    data = np.hstack([X, noise])
    signal_cols, noise_cols = list(range(X.shape[1])), list(range(X.shape[1], data.shape[1]))

    def on(columns: list[int], model) -> object:
        return make_pipeline(ColumnTransformer([("keep", "passthrough", columns)]), model)

    learners = [("signal", on(signal_cols, LogisticRegression(max_iter=500))),
                ("noise", on(noise_cols, LogisticRegression(max_iter=500)))]
    sl = SuperLearnerClassifier(learners, method=method, random_state=0).fit(data, y)
    assert sl.weights_[1] < 0.02
    assert sl.cv_loss_[1] > sl.cv_loss_[0]


def test_held_out_log_loss_no_worse_than_best_single_learner() -> None:
    X, y = _task(n=900, seed=3)
    X_fit, X_test, y_fit, y_test = train_test_split(X, y, test_size=0.4, stratify=y, random_state=0)
    sl = SuperLearnerClassifier(_quick_learners(), random_state=0).fit(X_fit, y_fit)
    singles = [log_loss(y_test, model.predict_proba(X_test)) for _, model in sl.learners_]
    assert log_loss(y_test, sl.predict_proba(X_test)) <= min(singles) + 0.02


def test_deep_super_learner_stops_when_loss_stops_improving() -> None:
    X, y = _task()
    dsl = DeepSuperLearnerClassifier(_quick_learners(), max_layers=4, random_state=0).fit(X, y)
    assert 1 <= dsl.n_layers_ <= 4
    assert len(dsl.layer_loss_) in (dsl.n_layers_, dsl.n_layers_ + 1)
    kept = dsl.layer_loss_[: dsl.n_layers_]
    assert all(b < a for a, b in zip(kept, kept[1:]))
    if len(dsl.layer_loss_) > dsl.n_layers_:
        assert dsl.layer_loss_[-1] > kept[-1] - dsl.tol
    proba = dsl.predict_proba(X)
    assert proba.shape == (len(X), 3) and np.allclose(proba.sum(axis=1), 1.0)


def test_ensembles_work_inside_cross_val_score_with_string_labels() -> None:
    X, y = _task(n=150)
    names = np.array(["ann", "bob", "cy"])[y]
    for model in (SuperLearnerClassifier(SMALL, folds=3, random_state=0), StackedEnsemble(SMALL, folds=3, random_state=0)):
        scores = cross_val_score(model, X, names, cv=3)
        assert scores.mean() > 0.7
        assert set(model.fit(X, names).predict(X)) <= set(names)


def test_unknown_method_is_refused() -> None:
    X, y = _task(n=60)
    with pytest.raises(ValueError, match="method"):
        SuperLearnerClassifier(SMALL, method="mean").fit(X, y)


@parametrize_with_checks([
    SuperLearnerClassifier(SMALL, folds=3),
    SuperLearnerClassifier(SMALL, folds=3, method="nnls"),
    DeepSuperLearnerClassifier(SMALL, folds=3, max_layers=2),
    StackedEnsemble(SMALL, folds=3),
])
def test_scikit_learn_estimator_checks(estimator, check) -> None:
    check(estimator)
