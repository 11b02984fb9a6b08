"""`facegate benchmark detect`: the dlib/CompreFace readers, the greedy matchers, and MTCNN recall on dlib's photos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from facegate.cli import build_parser, main
from facegate.cli.benchmark import run_detect
from facegate.detect.mtcnn import MTCNNDetector
from facegate.experiments.detect_benchmark import (
    Counts,
    match_boxes,
    match_noses,
    read_compreface,
    read_dlib_xml,
    score_photo,
)
from facegate.imageio import load_image
from facegate.models import ModelFiles


def test_readers_parse_the_real_annotation_files(shared_data: Path) -> None:
    dlib = shared_data / "media" / "dlib_faces"
    training, testing = read_dlib_xml(dlib / "training.xml"), read_dlib_xml(dlib / "testing.xml")
    assert (len(training), len(testing)) == (4, 5)
    assert (sum(p.faces for p in training), sum(p.faces for p in testing)) == (18, 25)
    assert all(p.path.is_file() for p in training + testing)
    first = testing[0]
    assert first.path.name == "2008_002470.jpg"
    assert first.boxes[0].tolist() == [274, 181, 326, 234]  # left, top, left + width, top + height
    photos = read_compreface(shared_data / "media" / "compreface_samples" / "annotations.json")
    assert len(photos) == 18 and sum(p.faces for p in photos) == 46
    assert all(p.path.is_file() for p in photos)
    assert {p.path.name: p.faces for p in photos}["016_8.jpg"] == 8
    assert {p.path.name: p.faces for p in photos}["017_0.jpg"] == 0


def test_match_boxes_counts_hits_misses_false_positives_and_ignored_boxes() -> None:
    truth = np.array([[0, 0, 10, 10], [100, 100, 110, 110], [200, 200, 210, 210], [300, 300, 310, 310]], float)
    ignored = np.array([False, False, False, True])
    detections = np.array(
        [
            [1, 1, 11, 11],  # hit on face 0
            [0, 0, 10, 9],  # also on face 0, already taken: a false positive
            [500, 500, 510, 510],  # nowhere: a false positive
            [300, 300, 310, 311],  # on the ignored box: neither hit nor false positive
            [200, 200, 204, 204],  # IoU 0.16 with face 2: too little at 0.5, enough at 0.1
        ],
        float,
    )
    assert match_boxes(truth, ignored, detections, 0.5) == Counts(hits=1, misses=2, false_positives=3)
    assert match_boxes(truth, ignored, detections, 0.1) == Counts(hits=2, misses=1, false_positives=2)
    assert match_boxes(truth, ignored, np.zeros((0, 4)), 0.5) == Counts(hits=0, misses=3, false_positives=0)


def test_one_detection_cannot_match_two_faces() -> None:
    truth = np.array([[0, 0, 10, 10], [2, 0, 12, 10]], float)  # two overlapping faces
    one = np.array([[1, 0, 11, 10]], float)  # IoU 0.82 with both
    assert match_boxes(truth, np.zeros(2, bool), one, 0.5) == Counts(hits=1, misses=1, false_positives=0)
    noses = np.array([[5, 5], [7, 5]], float)
    assert match_noses(noses, one) == Counts(hits=1, misses=1, false_positives=0)


def test_match_noses_pairs_each_nose_with_its_own_box() -> None:
    noses = np.array([[15, 15], [25, 15], [100, 100]], float)
    # the wide box holds both noses; the small one holds only the second: greedy must not strand the second
    boxes = np.array([[0, 0, 30, 30], [20, 10, 30, 20], [400, 400, 450, 450]], float)
    assert match_noses(noses, boxes) == Counts(hits=2, misses=1, false_positives=1)
    assert match_noses(np.zeros((0, 2)), boxes[:1]) == Counts(hits=0, misses=0, false_positives=1)


def test_mtcnn_min_face_20_finds_the_dlib_testing_faces(shared_data: Path, models: ModelFiles) -> None:
    detector = MTCNNDetector(models.pnet, models.rnet, models.onet, min_face=20)
    photos = read_dlib_xml(shared_data / "media" / "dlib_faces" / "testing.xml")
    total = sum((score_photo(p, detector.detect(load_image(p.path)), 0.5) for p in photos), Counts())
    assert total.recall >= 0.9 and total.precision >= 0.9, total


def test_benchmark_detect_command_parses_its_options(tmp_path: Path) -> None:
    args = build_parser().parse_args(
        ["benchmark", "detect", "--data", str(tmp_path), "--min-faces", "40", "--no-haar", "--runs", "1"]
    )
    assert args.handler is run_detect and args.min_faces == [40] and args.no_haar and args.runs == 1


def test_benchmark_detect_without_its_data_is_one_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["benchmark", "detect", "--data", str(tmp_path)]) == 2
    assert "no dlib_faces/training.xml; pass --data" in capsys.readouterr().err
