"""The default learners, ensembles and open-set identifier on real FaceNet embeddings of the 5-celebrity photos:
the smallest galleries (1 or 2 train photos per person) judged on the 25 val photos, calibrated probabilities,
and what the product's identifier says to LFW strangers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.base import ClassifierMixin
from threadpoolctl import threadpool_limits

from facegate import FaceGate
from facegate.experiments.openset_benchmark import strangers
from facegate.match import UNKNOWN
from facegate.match.learners import study_learners
from facegate.match.openset import CalibrationError, OpenSetIdentifier, default_classifier
from facegate.match.stacking import StackedEnsemble
from facegate.match.superlearner import DeepSuperLearnerClassifier, SuperLearnerClassifier

Embeddings = dict[str, tuple[np.ndarray, np.ndarray]]


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    with threadpool_limits(1, user_api="blas"):
        yield


def first_photos(celebrity_embeddings: Embeddings, per_person: int) -> tuple[np.ndarray, np.ndarray]:
    """The first `per_person` train embeddings of every person (photos in name order)."""
    X, y = celebrity_embeddings["train"]
    keep = np.concatenate([np.flatnonzero(y == person)[:per_person] for person in np.unique(y)])
    return X[keep].astype(np.float64), y[keep]


def true_class_probability(model: ClassifierMixin, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Each row's probability of its own person."""
    return model.predict_proba(X)[np.arange(len(y)), np.searchsorted(model.classes_, y)]


def _svc() -> ClassifierMixin:
    return study_learners(0, ("svc",))[0][1]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("model", "mean_probability"),
    [
        (SuperLearnerClassifier(random_state=0), 1.0),  # all weight on GaussianNB, right on every held-out photo
        (StackedEnsemble(random_state=0), 0.926),
        (DeepSuperLearnerClassifier(random_state=0), 1.0),
        (_svc(), 0.850),
        (default_classifier(), 0.955),
    ],
    ids=["super-learner", "stacked", "deep-super-learner", "svc", "open-set-default"],
)
def test_defaults_fit_two_photos_per_person_and_name_every_val_photo(
    celebrity_embeddings: Embeddings, model: ClassifierMixin, mean_probability: float
) -> None:
    X, y = first_photos(celebrity_embeddings, 2)
    X_val, y_val = celebrity_embeddings["val"]
    model.fit(X, y)
    assert list(model.predict(X_val)) == list(y_val)
    assert true_class_probability(model, X_val, y_val).mean() == pytest.approx(mean_probability, abs=0.02)


def test_open_set_super_learner_on_two_photos_per_person(celebrity_embeddings: Embeddings) -> None:
    """Calibration trains on one photo of each person in some rounds: the Super Learner then weights equally. At the
    default operating point (FPIR 1e-3) four val photos lie beyond the prior-capped distance threshold (0.917 for 5
    people; two at FPIR 1e-2) and are called unknown, never someone else."""
    X, y = first_photos(celebrity_embeddings, 2)
    X_val, y_val = celebrity_embeddings["val"]
    with pytest.warns(UserWarning, match="single sample"):
        identifier = OpenSetIdentifier(SuperLearnerClassifier(random_state=0)).fit(X, y)
    assert identifier.classifier_.weights_method_ == "slsqp"
    labels = identifier.predict(X_val)
    assert np.mean(labels == y_val) == pytest.approx(21 / 25, abs=0.01)
    assert set(labels[labels != y_val]) == {UNKNOWN}


def test_one_photo_per_person(celebrity_embeddings: Embeddings) -> None:
    """Nothing can be held out: the Super Learner weights its learners equally (the deep one stops at one layer),
    the SVC keeps its own scale, the stack and the open-set identifier refuse (the gallery then uses
    nearest-neighbour identification)."""
    X, y = first_photos(celebrity_embeddings, 1)
    X_val, y_val = celebrity_embeddings["val"]
    with pytest.warns(UserWarning, match="single sample"):
        sl = SuperLearnerClassifier(random_state=0).fit(X, y)
    assert sl.weights_method_ == "equal" and np.allclose(sl.weights_, 1 / 9) and sl.oof_proba_ is None
    assert list(sl.predict(X_val)) == list(y_val)
    assert true_class_probability(sl, X_val, y_val).mean() == pytest.approx(0.466, abs=0.02)
    with pytest.warns(UserWarning, match="single sample"):
        deep = DeepSuperLearnerClassifier(random_state=0).fit(X, y)
    assert deep.n_layers_ == 1 and list(deep.predict(X_val)) == list(y_val)
    svc = _svc().fit(X, y)
    assert svc.temperature_ == 1.0 and list(svc.predict(X_val)) == list(y_val)
    assert true_class_probability(svc, X_val, y_val).mean() == pytest.approx(0.694, abs=0.02)
    with pytest.raises(ValueError, match="2 samples of every class"):
        StackedEnsemble().fit(X, y)
    with pytest.raises(CalibrationError, match="2 samples per person"):
        OpenSetIdentifier().fit(X, y)


@pytest.fixture(scope="module")
def lfw_strangers(fg: FaceGate, shared_data: Path) -> np.ndarray:
    """Embeddings of the first photo of every 20th LFW person whose name is none of the 5 celebrities'."""
    people = sorted(d for d in (shared_data / "lfw" / "images_deepfunneled").iterdir() if d.is_dir())[::20]
    photos = strangers(
        [sorted(d.glob("*.jpg"))[0] for d in people],
        ["ben_afflek", "elton_john", "jerry_seinfeld", "madonna", "mindy_kaling"],
    )
    found = [fg.represent(p) for p in photos]
    return np.asarray([f[0].embedding for f in found if f], np.float64)


def test_product_identifier_is_confident_on_val_photos_and_not_on_strangers(
    celebrity_embeddings: Embeddings, lfw_strangers: np.ndarray
) -> None:
    """What `facegate demo` and the gallery fit: the val photos' own person gets 0.995 on average (0.966 before
    temperature scaling), strangers' candidates about 0.53 (0.43 before), and 2 of 288 strangers are named at the
    default operating point, FPIR 1e-3 (6 at 1e-2: the distance check decides; a 5-person gallery's calibration
    cannot foresee look-alikes)."""
    X, y = celebrity_embeddings["train"]
    X_val, y_val = celebrity_embeddings["val"]
    identifier = OpenSetIdentifier().fit(X, y)
    genuine = true_class_probability(identifier.classifier_, X_val.astype(np.float64), y_val)
    assert genuine.mean() == pytest.approx(0.995, abs=0.003) and genuine.min() > 0.975
    assert list(identifier.predict(X_val)) == list(y_val)
    decisions = identifier.decide(lfw_strangers)
    probability = np.array([d.probability for d in decisions])
    assert len(decisions) == 288
    assert np.median(probability) == pytest.approx(0.53, abs=0.05) and probability.max() < 0.98
    assert sum(d.known for d in decisions) <= 3  # 2 measured
