"""One operating point: a false-accept target (FPIR) from which the CLI, the service and video derive their
thresholds; one setting ($FACEGATE_FPIR) moves them all, and a one-photo gallery keeps a calibrated decision."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import celebrity_photos
from fastapi.testclient import TestClient

from facegate import FaceGate
from facegate.api.app import Settings, create_app
from facegate.api.auth import create_key
from facegate.cli import build_parser, main
from facegate.cli.video import _recognizer
from facegate.gallery import open_gallery
from facegate.gallery.identify import build_identifier
from facegate.match.nearest import NearestNeighbourIdentifier
from facegate.match.openset import OpenSetIdentifier
from facegate.match.operating_point import (
    PRIOR_DISTANCE,
    check_fpir,
    gallery_comparisons,
    person_comparisons,
    prior_distance,
    verify_threshold,
)
from facegate.models import ModelFiles

PEOPLE = ("ben_afflek", "elton_john", "jerry_seinfeld", "madonna", "mindy_kaling")


def first_photos(models: ModelFiles, split: str = "train") -> dict[str, Path]:
    """The first photo of each 5-celebrity person in a split."""
    return {p: next(q for q in celebrity_photos(models, split) if q.parent.name == p) for p in PEOPLE}


def test_thresholds_follow_the_measured_prior() -> None:
    assert verify_threshold() == pytest.approx(PRIOR_DISTANCE[1e-3]) == pytest.approx(0.995)
    assert verify_threshold(1e-2) > verify_threshold(1e-3) > verify_threshold(1e-4)
    assert prior_distance(1e-3, 10) == pytest.approx(PRIOR_DISTANCE[1e-4])  # a stranger meets 10 photos
    for bad in (0.0, 1.0, -0.1, 2.0):
        with pytest.raises(ValueError, match="between 0 and 1"):
            check_fpir(bad)


def test_a_person_with_more_photos_counts_as_more_comparisons_but_fewer_than_photos() -> None:
    counts = [person_comparisons(k) for k in range(1, 41)]
    assert counts[:6] == list(range(1, 7))  # few photos: each a chance of its own (the union bound)
    assert (np.diff(counts) > 0).all() and counts[19] < 12 and counts[39] < 16  # many: correlated chances
    assert gallery_comparisons([1, 3, 20]) == pytest.approx(1 + 3 + person_comparisons(20))
    assert verify_threshold(1e-3, photos=3) == pytest.approx(prior_distance(1e-3, 3))
    assert verify_threshold(1e-3, photos=3) < verify_threshold(1e-3)


def test_a_one_photo_gallery_keeps_the_operating_point(celebrity_embeddings: dict) -> None:
    x, y = celebrity_embeddings["train"]
    first = [int(np.flatnonzero(y == p)[0]) for p in PEOPLE]
    for fpir in (1e-2, 1e-3, 1e-4):
        nearest = build_identifier(x[first], y[first], fpir)
        assert isinstance(nearest, NearestNeighbourIdentifier)
        assert nearest.distance_threshold_ == pytest.approx(prior_distance(fpir, 5))
        several = build_identifier(x, y, fpir)
        assert isinstance(several, OpenSetIdentifier) and several.distance_threshold_ <= prior_distance(
            fpir, gallery_comparisons(np.unique(y, return_counts=True)[1])
        )


def test_a_look_alike_stranger_stays_unknown_at_the_default(
    models: ModelFiles, fg: FaceGate, shared_data: Path
) -> None:
    """CompreFace's person A against a gallery where someone has one photo (it fell back to a fixed 0.95 before)."""
    samples = shared_data / "media" / "compreface_samples"
    enrolled = {**first_photos(models), "B": samples / "007_B.jpg"}
    x = np.stack([fg.embed_one(p).embedding for p in enrolled.values()])
    identifier = build_identifier(x, list(enrolled), fpir=1e-3)
    strangers = np.concatenate([fg.embed(p) for p in sorted(samples.glob("00[1-6]_A.jpg"))])
    decisions = identifier.decide(strangers)
    assert len(decisions) >= 6 and not any(d.known for d in decisions), [(d.candidate, d.distance) for d in decisions]
    val = first_photos(models, "val")
    named = identifier.decide(np.stack([fg.embed_one(p).embedding for p in val.values()]))
    assert sum(d.label == p for d, p in zip(named, val)) >= 3  # one photo each: most val photos still named


def test_one_setting_moves_the_cli_verify_threshold(
    models: ModelFiles, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = (str(p) for p in celebrity_photos(models, "val")[:2])
    expected = {(): verify_threshold(1e-2), ("--fpir", "1e-4"): verify_threshold(1e-4), ("--threshold", "0.5"): 0.5}
    monkeypatch.setenv("FACEGATE_FPIR", "0.01")
    for options, threshold in expected.items():
        assert main(["verify", a, b, "--json", *options]) in (0, 1)
        assert json.loads(capsys.readouterr().out)["threshold"] == pytest.approx(threshold, abs=1e-4)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["verify", a, b, "--fpir", "2"])
    with pytest.raises(SystemExit):
        build_parser().parse_args(["verify", a, b, "--threshold", "-1"])


def test_one_setting_moves_the_service_thresholds(
    fg: FaceGate, models: ModelFiles, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FACEGATE_FPIR", "0.01")
    db = str(tmp_path / "g.db")
    key, _ = create_key(open_gallery(db), "gate")
    a, b = celebrity_photos(models, "val")[:2]
    with TestClient(create_app(Settings(db=db))) as client:
        reply = client.post(
            "/verify",
            headers={"X-API-Key": key},
            files=[
                ("image", (a.name, a.read_bytes(), "image/jpeg")),
                ("other", (b.name, b.read_bytes(), "image/jpeg")),
            ],
        )
        assert reply.status_code == 200, reply.text
        assert reply.json()["threshold"] == pytest.approx(verify_threshold(1e-2), abs=1e-4)
        assert client.app.state.service.identifier.fpir == 0.01


def test_one_setting_moves_the_video_threshold(
    models: ModelFiles, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gallery = tmp_path / "gallery"
    for person in PEOPLE:  # three photos each: a photo the gallery's enrollment rules refuse leaves the person in
        (gallery / person).mkdir(parents=True)
        for photo in [q for q in celebrity_photos(models, "train") if q.parent.name == person][:3]:
            (gallery / person / photo.name).symlink_to(photo)
    argv = ["video", "in.mp4", "--out", "out.mp4", "--gallery", str(gallery)]
    monkeypatch.setenv("FACEGATE_FPIR", "0.01")
    identifier = _recognizer(build_parser().parse_args(argv)).identifier
    assert identifier.distance_threshold_ == pytest.approx(prior_distance(1e-2, len(identifier.labels_)))
    fixed = _recognizer(build_parser().parse_args([*argv, "--threshold", "0.7"]))
    assert fixed.identifier.distance_threshold_ == 0.7
