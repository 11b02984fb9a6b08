"""Open-set identification: calibrated thresholds, UNKNOWN for strangers, saving and loading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from facegate.match import UNKNOWN
from facegate.match.calibration import TemperatureScaledClassifier
from facegate.match.openset import (
    CalibrationError,
    OpenSetIdentifier,
    Searches,
    choose_thresholds,
    nearest_own_distance,
)
from facegate.match.operating_point import DEFAULT_FPIR, PRIOR_DISTANCE, TAIL_RATE, prior_distance


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _gallery(people: int = 5, per_person: int = 12, spread: float = 0.25, seed: int = 0):
    """Unit 128-d embeddings: one tight cluster per person around a random centre."""
    rng = np.random.default_rng(seed)
    centres = _unit(rng.normal(size=(people, 128)))
    X = _unit(
        np.repeat(centres, per_person, axis=0) + spread * rng.normal(size=(people * per_person, 128)) / np.sqrt(128)
    )
    y = np.repeat([f"p{i}" for i in range(people)], per_person)
    return X, y, centres


def _is_scaled_logistic_regression(model) -> bool:
    return isinstance(model, TemperatureScaledClassifier) and isinstance(model.estimator_, LogisticRegression)


def test_nearest_own_distance_looks_only_at_the_candidates_samples() -> None:
    gallery = np.array([[0.0, 0.0], [10.0, 0.0], [9.0, 3.0]])
    labels = np.array(["a", "b", "a"])
    d = nearest_own_distance(np.array([[9.0, 0.0], [9.0, 0.0]]), gallery, labels, np.array(["a", "b"]))
    assert d == pytest.approx([3.0, 1.0])


def test_choose_thresholds_keeps_fpir_at_target_and_loses_few_genuine() -> None:
    rng = np.random.default_rng(0)
    genuine = Searches(rng.uniform(0.5, 1.0, 200), rng.normal(0.7, 0.1, 200), np.ones(200, bool))
    impostor = Searches(rng.uniform(0.5, 1.0, 300), rng.normal(1.3, 0.1, 300), np.zeros(300, bool))
    p_thr, d_thr, fpir, fnir = choose_thresholds(genuine, [impostor], 0.01)
    assert fpir <= 0.01
    assert impostor.accepted(p_thr, d_thr).mean() == pytest.approx(fpir)
    assert fnir == pytest.approx(1 - genuine.accepted(p_thr, d_thr).mean())
    assert fnir <= 0.01  # measured 0 of 200 genuine searches lost; 2 allowed
    # a second, nearer impostor set must keep its own FPIR at target too; a cap bounds the distance threshold
    near = Searches(rng.uniform(0.5, 1.0, 300), rng.normal(1.0, 0.1, 300), np.zeros(300, bool))
    _, d_near, fpir_near, _ = choose_thresholds(genuine, [impostor, near], 0.01)
    assert d_near < d_thr and near.accepted(0.0, d_near).mean() <= 0.01 and fpir_near <= 0.01
    assert choose_thresholds(genuine, [impostor], 0.01, max_distance=0.6)[1] <= 0.6


def test_prior_reads_the_table_at_fpir_per_comparison() -> None:
    assert prior_distance(0.01) == pytest.approx(PRIOR_DISTANCE[0.01])
    assert prior_distance(0.01, comparisons=10) == pytest.approx(PRIOR_DISTANCE[0.001])
    assert PRIOR_DISTANCE[0.01] > prior_distance(0.01, comparisons=4) > PRIOR_DISTANCE[0.001]
    assert prior_distance(0.9) == PRIOR_DISTANCE[max(PRIOR_DISTANCE)]  # clamped above the table


def test_prior_extrapolates_below_the_table_for_large_galleries() -> None:
    lowest = PRIOR_DISTANCE[min(PRIOR_DISTANCE)]
    at = [prior_distance(1e-3, people) for people in (100, 1_000, 10_000, 100_000, 1_000_000)]
    assert at[0] == pytest.approx(lowest) and (np.diff(at) < 0).all()  # stricter with every decade
    steps = -np.diff([lowest, *at[1:]])
    assert (steps > 0).all() and (np.diff(steps) < 0).all()  # by less each decade, as the table's rows do
    assert prior_distance(1e-3, 10**8) == prior_distance(1e-3, 10**6) == prior_distance(TAIL_RATE)  # flat below


def test_stranger_with_high_probability_is_unknown() -> None:
    X, y, centres = _gallery()
    identifier = OpenSetIdentifier(LogisticRegression(C=100, max_iter=2000)).fit(X, y)
    # a little of p0's centre plus the rest of the direction that most favours p0 over everyone else:
    # the classifier is sure, yet no sample of p0 is near
    coef = identifier.classifier_.coef_
    favour = coef[0] - coef[1:].mean(axis=0)
    stranger = _unit(0.3 * centres[0] + _unit(favour - (favour @ centres[0]) * centres[0]))[None]
    decision = identifier.decide(stranger)[0]
    assert decision.candidate == "p0" and decision.probability > 0.95
    assert decision.distance > identifier.distance_threshold_
    assert decision.label == UNKNOWN and not decision.known


def test_enrolled_faces_are_named_and_a_held_out_cluster_is_unknown() -> None:
    X, y, _ = _gallery(people=6, seed=2)
    enrolled = y != "p5"
    identifier = OpenSetIdentifier(LogisticRegression(C=100, max_iter=2000)).fit(X[enrolled], y[enrolled])
    assert identifier.calibration_fpir_ <= 0.01
    X_new, y_new, _ = _gallery(people=6, seed=2, per_person=4)  # same centres, fresh samples
    X_new = _unit(X_new + 0.01)
    decisions = identifier.decide(X_new)
    labels = np.array([d.label for d in decisions])
    assert np.mean(labels[y_new != "p5"] == y_new[y_new != "p5"]) >= 0.95  # measured 20 of 20; one miss allowed
    assert np.all(labels[y_new == "p5"] == UNKNOWN)


def test_thresholds_survive_save_and_load(tmp_path: Path) -> None:
    X, y, _ = _gallery()
    identifier = OpenSetIdentifier().fit(X, y)
    identifier.save(tmp_path / "id.joblib")
    loaded = OpenSetIdentifier.load(tmp_path / "id.joblib")
    assert loaded.distance_threshold_ == identifier.distance_threshold_
    assert loaded.probability_threshold_ == identifier.probability_threshold_
    assert [d.label for d in loaded.decide(X[:5])] == [d.label for d in identifier.decide(X[:5])]


def test_calibration_refuses_one_person_one_sample_or_the_reserved_label() -> None:
    X, y, _ = _gallery(people=2)
    with pytest.raises(CalibrationError, match="2 enrolled people"):
        OpenSetIdentifier().fit(X[y == "p0"], y[y == "p0"])
    X, y, _ = _gallery(people=4)
    with pytest.raises(CalibrationError, match="2 samples per person"):
        OpenSetIdentifier().fit(X[11:], y[11:])
    with pytest.raises(CalibrationError, match="reserved"):
        OpenSetIdentifier().fit(X, np.where(y == "p0", UNKNOWN, y))


def test_no_faces_give_no_decisions() -> None:
    X, y, _ = _gallery(per_person=3)
    identifier = OpenSetIdentifier().fit(X, y)
    assert identifier.decide(np.zeros((0, 128))) == []
    assert len(identifier.predict(np.zeros((0, 128)))) == 0


@pytest.mark.parametrize(("people", "per_person", "folds"), [(3, 2, 2), (6, 3, 5), (4, 2, 5)])
def test_small_galleries_calibrate_with_the_default_classifier(people: int, per_person: int, folds: int) -> None:
    X, y, _ = _gallery(people=people, per_person=per_person, seed=people)
    identifier = OpenSetIdentifier(folds=folds).fit(X, y)
    assert _is_scaled_logistic_regression(identifier.classifier_)
    assert len(identifier.impostor_) == len(y) and len(identifier.genuine_) > 0  # everyone held out once
    assert identifier.distance_threshold_ <= prior_distance(DEFAULT_FPIR, len(y))  # too few strangers: the prior caps
    assert list(identifier.predict(X)) == list(y)


def test_large_galleries_also_default_to_scaled_logistic_regression() -> None:
    X, y, _ = _gallery(people=12, per_person=10, seed=3)
    identifier = OpenSetIdentifier().fit(X, y)
    assert _is_scaled_logistic_regression(identifier.classifier_)
    assert list(identifier.predict(X)) == list(y)


def test_two_people_without_strangers_use_the_prior() -> None:
    X, y, _ = _gallery(people=2, per_person=6)
    identifier = OpenSetIdentifier().fit(X, y)
    assert identifier.threshold_source_ == "prior" and len(identifier.impostor_) == 0
    assert identifier.distance_threshold_ == pytest.approx(prior_distance(DEFAULT_FPIR, 12))  # 2 people × 6 photos
    assert identifier.probability_threshold_ == 0.0 and np.isnan(identifier.calibration_fpir_)


def test_background_strangers_teach_calibration_about_look_alikes() -> None:
    X, y, centres = _gallery(people=5, per_person=12, spread=0.5, seed=3)
    rng = np.random.default_rng(7)

    def look_alikes(n: int) -> np.ndarray:
        """Strangers near enrolled people: each centre nudged towards a random direction."""
        base = centres[rng.integers(0, 5, n)]
        return _unit(
            _unit(base + 0.9 * _unit(rng.normal(size=(n, 128)))) + 0.5 * rng.normal(size=(n, 128)) / np.sqrt(128)
        )

    plain = OpenSetIdentifier(LogisticRegression(C=100, max_iter=2000)).fit(X, y)
    informed = OpenSetIdentifier(LogisticRegression(C=100, max_iter=2000)).fit(X, y, background=look_alikes(2000))
    assert informed.threshold_source_ == "calibrated"  # 2,000 strangers: 20 may pass at 1%, enough to trust
    assert informed.background_.accepted(informed.probability_threshold_, informed.distance_threshold_).mean() <= 0.01
    fresh = look_alikes(500)
    assert np.mean(informed.predict(fresh) == UNKNOWN) >= 0.99  # measured 500 of 500; 5 named allowed
    assert np.mean(plain.predict(fresh) == UNKNOWN) < np.mean(informed.predict(fresh) == UNKNOWN)
