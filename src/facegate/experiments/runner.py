"""Fit and evaluate the study's models on embedded train/val folders: accuracy, repeated k-fold, calibration,
timings, Super Learner weights, and open-set FPIR/FNIR with people held out of training."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.metrics import confusion_matrix, log_loss
from sklearn.model_selection import RepeatedStratifiedKFold, cross_val_score
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from facegate.experiments.embedding_cache import LabelledFaces
from facegate.match.learners import LEARNER_TITLES, STUDY_LEARNERS, study_learners
from facegate.match.openset import OpenSetIdentifier, Searches
from facegate.match.stacking import StackedEnsemble
from facegate.match.superlearner import DeepSuperLearnerClassifier, SuperLearnerClassifier

ENSEMBLES = {"stacked": "Stacked ensemble", "sl": "Super Learner", "dsl": "Deep Super Learner"}
MODEL_TITLES = {**LEARNER_TITLES, **ENSEMBLES}
ALL_MODELS = (*STUDY_LEARNERS, *ENSEMBLES)


def build_model(name: str, folds: int, random_state: int) -> ClassifierMixin:
    """An unfitted model by short name (a study learner, "stacked", "sl" or "dsl")."""
    if name == "stacked":
        return StackedEnsemble(folds=folds, random_state=random_state)
    if name == "sl":
        return SuperLearnerClassifier(folds=folds, random_state=random_state)
    if name == "dsl":
        return DeepSuperLearnerClassifier(folds=folds, random_state=random_state)
    return study_learners(random_state, (name,))[0][1]


def reliability_bins(
    confidence: np.ndarray, hit: np.ndarray, bins: int = 10
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean confidence, accuracy (share of hits) and share of all answers in each non-empty one of `bins`
    equal-width confidence bins: the points of a reliability diagram."""
    index = np.minimum((np.asarray(confidence) * bins).astype(int), bins - 1)
    used = np.unique(index)
    return (
        np.array([confidence[index == b].mean() for b in used]),
        np.array([hit[index == b].mean() for b in used]),
        np.array([(index == b).mean() for b in used]),
    )


def calibration_error(confidence: np.ndarray, hit: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error: mean |accuracy − confidence| over equal-width confidence bins, by bin size."""
    mean_confidence, accuracy, share = reliability_bins(confidence, hit, bins)
    return float(np.sum(np.abs(accuracy - mean_confidence) * share))


def expected_calibration_error(proba: np.ndarray, truth: np.ndarray, bins: int = 10) -> float:
    """ECE of the top class of N×K probabilities against the true class indices."""
    return calibration_error(proba.max(axis=1), proba.argmax(axis=1) == truth, bins)


def brier_score(proba: np.ndarray, truth: np.ndarray) -> float:
    """Multi-class Brier score: mean squared distance between the probabilities and the one-hot truth."""
    return float(np.mean(np.sum((proba - np.eye(proba.shape[1])[truth]) ** 2, axis=1)))


@dataclass
class ModelResult:
    """One model on one scenario."""

    name: str
    train_accuracy: float
    val_accuracy: float
    val_proba: np.ndarray  # val faces × classes
    log_loss: float
    brier: float
    ece: float
    confusion: np.ndarray
    fit_seconds: float
    predict_seconds: float
    cv_accuracy: np.ndarray  # one accuracy per repeated-k-fold split

    @property
    def title(self) -> str:
        return MODEL_TITLES[self.name]


@dataclass
class OpenSetResult:
    """Open-set evaluation with each person held out of training in turn."""

    classifier: str
    fpir_target: float
    rows: list[tuple[str, int, int, float, float]]  # held-out person, stranger photos, named, p-thr, d-thr
    genuine: Searches  # val faces of enrolled people, pooled over rounds
    impostor: Searches  # every photo of the held-out person, pooled over rounds
    genuine_accepted: np.ndarray  # named (correctly) at that round's calibrated thresholds
    impostor_accepted: np.ndarray

    @property
    def fpir(self) -> float:
        return float(self.impostor_accepted.mean())

    @property
    def fnir(self) -> float:
        return float(1.0 - (self.genuine_accepted & self.genuine.correct).mean())


@dataclass
class ExperimentResult:
    """Everything the report shows."""

    train: LabelledFaces
    val: LabelledFaces
    classes: np.ndarray
    models: list[ModelResult]
    sl: SuperLearnerClassifier | None
    dsl: DeepSuperLearnerClassifier | None
    folds: int
    repeats: int
    open_set: OpenSetResult | None


def evaluate_model(
    name: str,
    train: LabelledFaces,
    val: LabelledFaces,
    classes: np.ndarray,
    folds: int,
    repeats: int,
    random_state: int,
) -> tuple[ModelResult, ClassifierMixin]:
    """Fit on train, score on val, and cross-validate on train with repeated stratified k-fold."""
    model = build_model(name, folds, random_state)
    # float64: on float32 input LogisticRegression's rows miss summing to 1 by 1e-7 and log_loss warns
    X_train, X_val = train.embeddings.astype(np.float64), val.embeddings.astype(np.float64)
    start = time.perf_counter()
    model.fit(X_train, train.labels)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    proba = model.predict_proba(X_val)
    predict_seconds = time.perf_counter() - start
    columns = np.searchsorted(classes, model.classes_)
    full = np.zeros((len(val), len(classes)))
    full[:, columns] = proba
    truth = np.searchsorted(classes, val.labels)
    predicted = classes[full.argmax(axis=1)]
    repeated = RepeatedStratifiedKFold(n_splits=folds, n_repeats=max(repeats, 1), random_state=random_state)
    cv_scores = (
        cross_val_score(build_model(name, folds, random_state), X_train, train.labels, cv=repeated)
        if repeats > 0
        else np.zeros(0)
    )
    result = ModelResult(
        name=name,
        train_accuracy=float((model.predict(X_train) == train.labels).mean()),
        val_accuracy=float((predicted == val.labels).mean()),
        val_proba=full,
        log_loss=float(log_loss(truth, full, labels=np.arange(len(classes)))),
        brier=brier_score(full, truth),
        ece=expected_calibration_error(full, truth),
        confusion=confusion_matrix(val.labels, predicted, labels=classes),
        fit_seconds=fit_seconds,
        predict_seconds=predict_seconds,
        cv_accuracy=cv_scores,
    )
    return result, model


def evaluate_open_set(
    name: str,
    train: LabelledFaces,
    val: LabelledFaces,
    fpir: float,
    folds: int,
    random_state: int,
    background: np.ndarray | None = None,
) -> OpenSetResult:
    """Hold each person out of training in turn: their photos (train and val) are strangers, the others' val
    photos are genuine searches; thresholds are calibrated on the enrolled people and the `background`
    strangers (faces of people in neither folder) only."""
    rows, genuine, impostor, genuine_ok, impostor_ok = [], [], [], [], []
    for person in tqdm(np.unique(train.labels), desc=f"open-set ({name})", unit="person", leave=False):
        enrolled = train.labels != person
        identifier = OpenSetIdentifier(
            build_model(name, folds, random_state), fpir=fpir, folds=folds, random_state=random_state
        )
        identifier.fit(train.embeddings[enrolled], train.labels[enrolled], background=background)
        strangers = np.vstack([train.embeddings[~enrolled], val.embeddings[val.labels == person]])
        known = val.labels != person
        s_imp = identifier.searches(strangers, np.full(len(strangers), person))
        s_gen = identifier.searches(val.embeddings[known], val.labels[known])
        p_thr, d_thr = identifier.probability_threshold_, identifier.distance_threshold_
        impostor.append(s_imp)
        genuine.append(s_gen)
        impostor_ok.append(s_imp.accepted(p_thr, d_thr))
        genuine_ok.append(s_gen.accepted(p_thr, d_thr))
        rows.append((str(person), len(strangers), int(impostor_ok[-1].sum()), p_thr, d_thr))
    return OpenSetResult(
        name,
        fpir,
        rows,
        Searches.concat(genuine),
        Searches.concat(impostor),
        np.concatenate(genuine_ok),
        np.concatenate(impostor_ok),
    )


def run_experiment(
    train: LabelledFaces,
    val: LabelledFaces,
    models: tuple[str, ...] = ALL_MODELS,
    folds: int = 5,
    repeats: int = 2,
    open_set_model: str | None = "svc",
    fpir: float = 0.01,
    random_state: int = 0,
    background: np.ndarray | None = None,
) -> ExperimentResult:
    """Evaluate every named model (`background`: stranger embeddings for open-set calibration); BLAS is held to one
    thread (these matrices are tiny: more threads only contend, and make small fits up to 20× slower on a busy
    machine)."""
    classes = np.unique(np.concatenate([train.labels, val.labels]))
    results, fitted = [], {}
    with threadpool_limits(1, user_api="blas"):
        for name in tqdm(models, desc="models", unit="model"):
            result, fitted[name] = evaluate_model(name, train, val, classes, folds, repeats, random_state)
            results.append(result)
        open_set = (
            evaluate_open_set(open_set_model, train, val, fpir, folds, random_state, background)
            if open_set_model
            else None
        )
    return ExperimentResult(train, val, classes, results, fitted.get("sl"), fitted.get("dsl"), folds, repeats, open_set)
