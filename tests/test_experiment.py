"""`facegate experiment` and its parts on the 5-celebrity photos: scenario 1, open set, report, caches."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from facegate.cli import main
from facegate.experiments.embedding_cache import EmbeddingCache, LabelledFaces
from facegate.experiments.openset_benchmark import lfw_background
from facegate.experiments.stylise import STYLES, stylise_folder
from facegate.match import UNKNOWN
from facegate.match.learners import study_learners
from facegate.match.openset import OpenSetIdentifier
from facegate.match.superlearner import SuperLearnerClassifier
from facegate.models import ensure_models


@pytest.fixture(scope="module")
def celebrity() -> Path:
    return ensure_models().celebrity


@pytest.fixture(scope="module")
def faces(celebrity: Path) -> tuple[LabelledFaces, LabelledFaces]:
    cache = EmbeddingCache()
    return cache.folder(celebrity / "train"), cache.folder(celebrity / "val")


@pytest.fixture(scope="module")
def lfw(lfw_slice: Path) -> Iterator[Path]:
    """$FACEGATE_LFW set to the session's LFW slice for this module: the experiment's open-set strangers are its
    pairsDevTrain photos (embedded once a session, shared with test_openset_benchmark)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FACEGATE_LFW", str(lfw_slice))
        yield lfw_slice


@pytest.fixture(scope="module")
def strangers(faces, lfw: Path) -> np.ndarray:
    """LFW photos of people in neither folder (pairsDevTrain), the open-set calibration's background."""
    background = lfw_background(set(faces[0].labels) | set(faces[1].labels))
    assert background is not None, f"{lfw} holds no LFW pairs protocol"
    return background


@pytest.fixture(autouse=True)
def _one_blas_thread():
    with threadpool_limits(1, user_api="blas"):
        yield


@pytest.mark.slow
def test_scenario1_svc_and_super_learner_name_all_25_val_faces(faces) -> None:
    train, val = faces
    assert len(val) == 25
    svc = study_learners(0, ("svc",))[0][1].fit(train.embeddings, train.labels)
    sl = SuperLearnerClassifier(random_state=0).fit(train.embeddings, train.labels)
    assert (svc.predict(val.embeddings) == val.labels).sum() == 25
    assert (sl.predict(val.embeddings) == val.labels).sum() == 25
    assert sl.weights_.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("with_background", [True, False], ids=["lfw-background", "prior-only"])
@pytest.mark.parametrize("person", ["ben_afflek", "elton_john", "jerry_seinfeld", "madonna", "mindy_kaling"])
def test_held_out_person_is_unknown_at_fpir_1_percent(faces, strangers, person: str, with_background: bool) -> None:
    """Seinfeld held out is the hard case: FaceNet puts him 1.05-1.2 from Affleck, nearer than any two of the
    other four people; LFW strangers (or, without them, the model's prior) must still keep him unknown. Measured
    (Intel Xeon, 2026-12): every held-out person's 19-27 photos unknown and all 20 others' val photos named, with
    and without the background; one photo either way is allowed."""
    train, val = faces
    enrolled = train.labels != person
    identifier = OpenSetIdentifier(fpir=0.01).fit(
        train.embeddings[enrolled], train.labels[enrolled], background=strangers if with_background else None
    )
    strangers = np.vstack([train.embeddings[~enrolled], val.embeddings[val.labels == person]])
    labels = [d.label for d in identifier.decide(strangers)]
    assert len(labels) - labels.count(UNKNOWN) <= 1
    genuine = val.labels != person
    named = [d.label for d in identifier.decide(val.embeddings[genuine])]
    assert np.sum(np.array(named) != val.labels[genuine]) <= 1


def _run(argv: list[str]) -> int:
    return main(argv)


@pytest.mark.slow
def test_experiment_command_writes_the_report(celebrity: Path, tmp_path: Path, faces, strangers) -> None:
    out = tmp_path / "report"
    assert (
        _run(
            [
                "experiment",
                "--train",
                str(celebrity / "train"),
                "--val",
                str(celebrity / "val"),
                "--models",
                "lr,svc,stacked",
                "--folds",
                "3",
                "--repeats",
                "1",
                "--report",
                str(out),
            ]
        )
        == 0
    )
    md = (out / "report.md").read_text()
    for heading in ("1. Accuracy", "2. Repeated", "3. Probability", "4. Calibration", "6. Open set"):
        assert heading in md
    assert "| SVC | 100.0 | 100.0 |" in md
    assert "<table>" in (out / "report.html").read_text()
    for png in ("cv_boxplot.png", "probabilities.png", "confusion.png", "det.png"):
        assert (out / png).stat().st_size > 10_000


def test_experiment_command_refuses_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["experiment", "--train", str(tmp_path), "--report", str(tmp_path / "r")]) == 2
    assert "give either --scenario" in capsys.readouterr().err
    assert _run(["experiment", "--train", str(tmp_path), "--val", str(tmp_path), "--report", str(tmp_path / "r")]) == 2
    assert "no photos" in capsys.readouterr().err


def test_embedding_cache_is_keyed_by_file_content(celebrity: Path, tmp_path: Path) -> None:
    calls: list[Path] = []

    class CountingGate:
        detector_name, min_face, alignment = "mtcnn", 20, "warp"
        embedder = SimpleNamespace(model=ensure_models().facenet)

        def represent(self, path: Path) -> list:
            calls.append(path)
            crop = np.zeros((160, 160, 3), np.uint8)
            return [SimpleNamespace(embedding=np.ones(128, np.float32) / np.sqrt(128), crop=crop)]

    photo = sorted((celebrity / "train" / "madonna").glob("*.jpg"))[0]
    for person in ("a", "b"):
        (tmp_path / "photos" / person).mkdir(parents=True)
        shutil.copy(photo, tmp_path / "photos" / person / "same.jpg")
    cache = EmbeddingCache(CountingGate(), root=tmp_path / "cache")
    first = cache.folder(tmp_path / "photos")
    again = cache.folder(tmp_path / "photos")
    assert len(calls) == 1  # two files, one content: embedded once, then read back
    assert list(first.labels) == list(again.labels) == ["a", "b"]
    assert np.array_equal(first.embeddings, again.embeddings)


def test_stylise_folder_cycles_styles_and_limits_per_person(celebrity: Path, tmp_path: Path) -> None:
    source = tmp_path / "src" / "madonna"
    source.mkdir(parents=True)
    for photo in sorted((celebrity / "train" / "madonna").glob("*.jpg"))[:4]:
        shutil.copy(photo, source / photo.name)
    out = stylise_folder(tmp_path / "src", tmp_path / "out", per_person=3)
    drawn = sorted(out.glob("madonna/*.jpg"))
    assert len(drawn) == 3
    assert sorted(p.stem.rsplit("_", 1)[1] for p in drawn) == sorted(STYLES)
