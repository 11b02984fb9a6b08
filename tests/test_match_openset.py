"""Open-set identification: calibrated thresholds, UNKNOWN for strangers, saving and loading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from facegate.match import UNKNOWN
from facegate.match.openset import (
    CalibrationError,
    OpenSetIdentifier,
    Searches,
    choose_thresholds,
    nearest_own_distance,
)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _gallery(people: int = 5, per_person: int = 12, spread: float = 0.25, seed: int = 0):
    """Unit 128-d embeddings: one tight cluster per person around a random centre."""
    rng = np.random.default_rng(seed)
    centres = _unit(rng.normal(size=(people, 128)))
    X = _unit(np.repeat(centres, per_person, axis=0) + spread * rng.normal(size=(people * per_person, 128)) / np.sqrt(128))
    y = np.repeat([f"p{i}" for i in range(people)], per_person)
    return X, y, centres


def test_nearest_own_distance_looks_only_at_the_candidates_samples() -> None:
    gallery = np.array([[0.0, 0.0], [10.0, 0.0], [9.0, 3.0]])
    labels = np.array(["a", "b", "a"])
    d = nearest_own_distance(np.array([[9.0, 0.0], [9.0, 0.0]]), gallery, labels, np.array(["a", "b"]))
    assert d == pytest.approx([3.0, 1.0])


def test_choose_thresholds_keeps_fpir_at_target_and_loses_few_genuine() -> None:
    rng = np.random.default_rng(0)
    genuine = Searches(rng.uniform(0.5, 1.0, 200), rng.normal(0.7, 0.1, 200), np.ones(200, bool))
    impostor = Searches(rng.uniform(0.5, 1.0, 300), rng.normal(1.3, 0.1, 300), np.zeros(300, bool))
    p_thr, d_thr, fpir, fnir = choose_thresholds(genuine, impostor, 0.01)
    assert fpir <= 0.01
    assert impostor.accepted(p_thr, d_thr).mean() == pytest.approx(fpir)
    assert fnir == pytest.approx(1 - genuine.accepted(p_thr, d_thr).mean())
    assert fnir < 0.05


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
    assert np.mean(labels[y_new != "p5"] == y_new[y_new != "p5"]) >= 0.9
    assert np.all(labels[y_new == "p5"] == UNKNOWN)


def test_thresholds_survive_save_and_load(tmp_path: Path) -> None:
    X, y, _ = _gallery()
    identifier = OpenSetIdentifier().fit(X, y)
    identifier.save(tmp_path / "id.joblib")
    loaded = OpenSetIdentifier.load(tmp_path / "id.joblib")
    assert loaded.distance_threshold_ == identifier.distance_threshold_
    assert loaded.probability_threshold_ == identifier.probability_threshold_
    assert [d.label for d in loaded.decide(X[:5])] == [d.label for d in identifier.decide(X[:5])]


def test_calibration_refuses_too_few_people_or_samples() -> None:
    X, y, _ = _gallery(people=2)
    with pytest.raises(CalibrationError, match="3 enrolled people"):
        OpenSetIdentifier().fit(X, y)
    X, y, _ = _gallery(people=4)
    with pytest.raises(CalibrationError, match="2 samples per person"):
        OpenSetIdentifier().fit(X[11:], y[11:])
    with pytest.raises(CalibrationError, match="reserved"):
        OpenSetIdentifier().fit(X, np.where(y == "p0", UNKNOWN, y))
