"""Folds for small galleries and temperature scaling: smoothed temperatures, SVC's own choices, binary sigmoid."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit, softmax
from sklearn.datasets import make_classification
from sklearn.svm import SVC

from facegate.match.calibration import TemperatureScaledClassifier, fit_temperature, stratified_folds


def test_folds_are_capped_by_the_smallest_class_and_absent_for_a_single_sample() -> None:
    assert stratified_folds(np.repeat(["a", "b"], [3, 7]), 5, 0).get_n_splits() == 3
    assert stratified_folds(np.repeat(["a", "b"], [6, 6]), 5, 0).get_n_splits() == 5
    assert stratified_folds(np.repeat(["a", "b"], [1, 6]), 5, 0) is None


@pytest.mark.parametrize("n", [10, 93, 1000])
def test_all_right_out_of_fold_logits_get_a_finite_temperature_near_the_rule_of_succession(n: int) -> None:
    """Plain log loss would send T to 0 here (every search right); smoothed targets stop near (n+1)/(n+2): the
    more searches were right, the surer the probabilities (0.896, 0.982, 0.998 measured)."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 5, n)
    logits = rng.normal(size=(n, 5))
    logits[np.arange(n), y] += 6.0
    assert np.all(logits.argmax(axis=1) == y)
    t = fit_temperature(logits, y)
    true_class = softmax(logits / t, axis=1)[np.arange(n), y]
    assert 0.3 < t < 2.0
    assert true_class.mean() == pytest.approx((n + 1) / (n + 2), abs=0.025)
    assert true_class.mean() < (n + 1) / (n + 2)


def test_uninformative_logits_get_a_high_temperature_and_near_uniform_probabilities() -> None:
    rng = np.random.default_rng(1)
    logits, y = rng.normal(size=(200, 4)), rng.integers(0, 4, 200)
    t = fit_temperature(logits, y)
    assert t > 5
    assert softmax(logits / t, axis=1).max(axis=1).mean() < 0.3


def test_most_probable_class_is_svc_predict() -> None:
    X, y = make_classification(
        n_samples=150,
        n_features=10,
        n_informative=6,
        n_classes=5,
        n_clusters_per_class=1,
        class_sep=0.8,
        random_state=0,
    )
    scaled = TemperatureScaledClassifier(SVC(kernel="linear", break_ties=True), random_state=0).fit(X, y)
    plain = SVC(kernel="linear", break_ties=True).fit(X, y)
    assert np.array_equal(scaled.predict(X), plain.predict(X))
    assert np.array_equal(scaled.classes_[scaled.predict_proba(X).argmax(axis=1)], plain.predict(X))
    assert scaled.temperature_ != 1.0 and np.allclose(scaled.predict_proba(X).sum(axis=1), 1.0)


def test_binary_probability_is_the_sigmoid_of_the_decision_value_over_t() -> None:
    X, y = make_classification(n_samples=80, n_features=6, random_state=2)
    scaled = TemperatureScaledClassifier(SVC(kernel="linear"), random_state=0).fit(X, y)
    d = scaled.decision_function(X)
    assert np.allclose(scaled.predict_proba(X)[:, 1], expit(d / scaled.temperature_))
    assert np.array_equal(scaled.predict(X), SVC(kernel="linear").fit(X, y).predict(X))


def test_a_single_sample_per_class_keeps_the_estimators_own_scale() -> None:
    X = np.eye(3)
    scaled = TemperatureScaledClassifier(SVC(kernel="linear")).fit(X, ["a", "b", "c"])
    assert scaled.temperature_ == 1.0
    assert list(scaled.predict(X)) == ["a", "b", "c"]
