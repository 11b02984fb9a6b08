"""Super Learner, Deep Super Learner and stacked ensemble: the algorithm's promises and scikit-learn's conventions."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.optimize import OptimizeResult
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils.estimator_checks import parametrize_with_checks
from threadpoolctl import threadpool_limits

from facegate.match import superlearner
from facegate.match.learners import STUDY_LEARNERS, study_learners
from facegate.match.openset import default_classifier
from facegate.match.stacking import STACK_LEVEL0, StackedEnsemble
from facegate.match.superlearner import DeepSuperLearnerClassifier, SuperLearnerClassifier, fit_weights


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    """Tiny matrices: BLAS threads only contend (up to 20× slower on a busy machine)."""
    with threadpool_limits(1, user_api="blas"):
        yield


SMALL = [("lr", LogisticRegression(max_iter=500)), ("bayes", GaussianNB())]


def _task(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    return make_classification(
        n_samples=n,
        n_features=12,
        n_informative=6,
        n_classes=3,
        n_clusters_per_class=1,
        class_sep=1.0,
        random_state=seed,
    )


def _quick_learners() -> list:
    return [
        ("lr", LogisticRegression(max_iter=500)),
        ("bayes", GaussianNB()),
        ("knn", KNeighborsClassifier(15)),
        ("cart", DecisionTreeClassifier(max_depth=4, random_state=0)),
    ]


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

    learners = [
        ("signal", on(signal_cols, LogisticRegression(max_iter=500))),
        ("noise", on(noise_cols, LogisticRegression(max_iter=500))),
    ]
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
    assert all(b < a for a, b in itertools.pairwise(kept))
    if len(dsl.layer_loss_) > dsl.n_layers_:
        assert dsl.layer_loss_[-1] > kept[-1] - dsl.tol
    proba = dsl.predict_proba(X)
    assert proba.shape == (len(X), 3) and np.allclose(proba.sum(axis=1), 1.0)


def test_ensembles_work_inside_cross_val_score_with_string_labels() -> None:
    X, y = _task(n=150)
    names = np.array(["ann", "bob", "cy"])[y]
    for model in (
        SuperLearnerClassifier(SMALL, folds=3, random_state=0),
        StackedEnsemble(SMALL, folds=3, random_state=0),
    ):
        scores = cross_val_score(model, X, names, cv=3)
        assert scores.mean() > 0.7
        assert set(model.fit(X, names).predict(X)) <= set(names)


def test_unknown_method_is_refused() -> None:
    X, y = _task(n=60)
    with pytest.raises(ValueError, match="method"):
        SuperLearnerClassifier(SMALL, method="mean").fit(X, y)


@parametrize_with_checks(
    [
        SuperLearnerClassifier(SMALL, folds=3),
        SuperLearnerClassifier(SMALL, folds=3, method="nnls"),
        DeepSuperLearnerClassifier(SMALL, folds=3, max_layers=2),
        StackedEnsemble(SMALL, folds=3),
    ]
)
def test_scikit_learn_estimator_checks(estimator, check) -> None:
    check(estimator)


@pytest.mark.slow
@parametrize_with_checks(
    [
        SuperLearnerClassifier(),
        StackedEnsemble(),
        study_learners(0, ("svc",))[0][1],
        default_classifier(),
    ]
)
def test_default_ensembles_and_scaled_learners_pass_scikit_learn_checks(estimator, check) -> None:
    """All nine study learners in the Super Learner (about 45 s of the checks on 2 cores), the study's five in the
    stack, the temperature-scaled SVC and the open-set default (temperature-scaled logistic regression)."""
    check(estimator)


def test_default_learners_parameters_are_nested_parameters() -> None:
    sl = SuperLearnerClassifier(random_state=3)
    params = sl.get_params()
    assert params["lr__C"] == 10.0 and params["svc__estimator__kernel"] == "linear"
    assert [n for n in STUDY_LEARNERS if n in params] == list(STUDY_LEARNERS)
    assert sl.set_params(lr__C=5) is sl
    assert sl.get_params()["lr__C"] == 5 and [n for n, _ in sl.learners] == list(STUDY_LEARNERS)
    assert sl.get_params()["rf__random_state"] == 3  # the list made explicit keeps the seed
    assert clone(sl).get_params()["lr__C"] == 5
    X, y = _task(n=120)
    assert SuperLearnerClassifier().set_params(lr__C=5).fit(X, y).learners_[0][1].C == 5
    stack = StackedEnsemble(meta_learner=LogisticRegression()).set_params(knn__n_neighbors=3, meta_learner__C=0.5)
    assert [n for n, _ in stack.learners] == list(STACK_LEVEL0)
    assert stack.get_params()["knn__n_neighbors"] == 3 and stack.meta_learner.C == 0.5


def test_a_learner_can_be_replaced_and_searched_by_name() -> None:
    X, y = _task(n=150)
    sl = SuperLearnerClassifier(SMALL, folds=3, random_state=0).set_params(bayes=KNeighborsClassifier(3))
    assert isinstance(dict(sl.learners)["bayes"], KNeighborsClassifier)
    assert isinstance(dict(SMALL)["bayes"], GaussianNB)  # the caller's list is left alone
    only_lr = SuperLearnerClassifier([("lr", LogisticRegression(max_iter=500))], folds=3, random_state=0)
    search = GridSearchCV(only_lr, {"lr__C": [1e-4, 1.0]}, cv=3, scoring="neg_log_loss").fit(X, y)
    assert search.best_params_ == {"lr__C": 1.0}
    assert np.ptp(search.cv_results_["mean_test_score"]) > 0.3  # C=1e-4 gives near-uniform probabilities
    with pytest.raises(ValueError, match="unique"):
        SuperLearnerClassifier([("a", GaussianNB()), ("a", GaussianNB())]).fit(X, y)


def test_failed_slsqp_falls_back_to_the_discrete_super_learner(monkeypatch: pytest.MonkeyPatch) -> None:
    def not_converged(fun, x0, **kwargs) -> OptimizeResult:
        return OptimizeResult(x=np.full_like(x0, np.nan), success=False, message="Iteration limit reached")

    monkeypatch.setattr(superlearner, "minimize", not_converged)
    X, y = _task()
    with pytest.warns(ConvergenceWarning, match="slsqp: Iteration limit reached"):
        sl = SuperLearnerClassifier(_quick_learners(), random_state=0).fit(X, y)
    assert sl.weights_method_ == "discrete"
    assert np.array_equal(sl.weights_, np.eye(4)[np.argmin(sl.cv_loss_)])


def test_nnls_without_a_positive_weight_falls_back_to_equal_weights_of_tied_learners() -> None:
    """No learner gives the true class any probability: NNLS's best weights are all 0 (they used to be divided by
    their sum), and every learner ties for the lowest loss."""
    oof = np.zeros((3, 6, 2))
    oof[:, :, 1] = 1.0
    with pytest.warns(ConvergenceWarning, match="nnls gave no positive weight"):
        weights, method = fit_weights(oof, np.zeros(6, int), "nnls")
    assert method == "discrete" and np.allclose(weights, 1 / 3)
    weights, method = fit_weights(oof, np.zeros(6, int), "slsqp")  # a flat loss: SLSQP keeps its equal start
    assert method == "slsqp" and np.allclose(weights, 1 / 3)


def test_weights_method_records_a_working_solver() -> None:
    X, y = _task()
    for method in ("slsqp", "nnls", "discrete"):
        sl = SuperLearnerClassifier(_quick_learners(), method=method, random_state=0).fit(X, y)
        assert sl.weights_method_ == method
