"""`facegate benchmark detect`: detector recall and precision on labelled group photos, plus ms per photo.

dlib's examples (`training.xml` + `testing.xml`, imglab boxes) are scored by IoU: a detection hits a face when
their IoU reaches the threshold (0.5, and 0.3 to show what box-convention differences cost). CompreFace's
samples (`annotations.json`, one nose point per face) are scored nose-in-box. Matching is greedy and one-to-one;
boxes marked ignore='1' are neither missed nor make the detections on them false positives.
"""

from __future__ import annotations

import json
import statistics
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from facegate.detect.base import Face, iou_matrix
from facegate.experiments.machine import describe_machine

DLIB_FILES = ("training.xml", "testing.xml")
IOU_THRESHOLDS = (0.5, 0.3)


@dataclass(frozen=True)
class LabelledPhoto:
    """One photo's ground truth: face boxes (N×4, x1 y1 x2 y2) with an ignore flag each, or nose points (N×2)."""

    path: Path
    boxes: np.ndarray
    ignored: np.ndarray
    noses: np.ndarray

    @property
    def faces(self) -> int:
        """Faces that count (boxes not ignored, or nose points)."""
        return int((~self.ignored).sum()) if len(self.boxes) else len(self.noses)


@dataclass(frozen=True)
class Counts:
    """Matched faces (true positives), missed faces and false-positive detections."""

    hits: int = 0
    misses: int = 0
    false_positives: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.hits + other.hits, self.misses + other.misses, self.false_positives + other.false_positives)

    @property
    def recall(self) -> float:
        return self.hits / max(1, self.hits + self.misses)

    @property
    def precision(self) -> float:
        return self.hits / max(1, self.hits + self.false_positives)


def read_dlib_xml(path: Path) -> list[LabelledPhoto]:
    """The photos of a dlib imglab XML file, with their boxes (file paths relative to the XML's folder)."""
    photos = []
    for image in ET.parse(path).getroot().iter("image"):
        boxes, ignored = [], []
        for box in image.iter("box"):
            left, top = float(box.get("left", 0)), float(box.get("top", 0))
            boxes.append((left, top, left + float(box.get("width", 0)), top + float(box.get("height", 0))))
            ignored.append(box.get("ignore", "0") == "1")
        photos.append(
            LabelledPhoto(
                path.parent / image.get("file", ""),
                np.array(boxes, float).reshape(-1, 4),
                np.array(ignored, bool),
                np.zeros((0, 2)),
            )
        )
    return photos


def read_compreface(path: Path) -> list[LabelledPhoto]:
    """The photos of CompreFace's `annotations.json` with the nose point of each face, in file order."""
    noses = json.loads(path.read_text())["nose_points"]
    return [
        LabelledPhoto(path.parent / name, np.zeros((0, 4)), np.zeros(0, bool), np.array(points, float).reshape(-1, 2))
        for name, points in sorted(noses.items())
    ]


def _greedy(affinity: np.ndarray, eligible: np.ndarray) -> tuple[set[int], set[int]]:
    """One-to-one greedy matching of rows (faces) to columns (detections), highest affinity first."""
    rows, cols = np.nonzero(eligible)
    used_rows: set[int] = set()
    used_cols: set[int] = set()
    for k in np.argsort(-affinity[rows, cols], kind="stable"):
        r, c = int(rows[k]), int(cols[k])
        if r not in used_rows and c not in used_cols:
            used_rows.add(r)
            used_cols.add(c)
    return used_rows, used_cols


def match_boxes(truth: np.ndarray, ignored: np.ndarray, detections: np.ndarray, threshold: float) -> Counts:
    """Greedy IoU matching of detections to the faces that count; unmatched detections on an ignored box are
    not false positives."""
    detections = detections.reshape(-1, 4)
    overlap = iou_matrix(truth.reshape(-1, 4), detections.reshape(-1, 4))
    counted = ~ignored
    faces, matched = _greedy(overlap[counted], overlap[counted] >= threshold)
    left = np.array([c not in matched for c in range(len(detections))], bool)
    on_ignored = (overlap[ignored] >= threshold).any(axis=0) if ignored.any() else np.zeros(len(detections), bool)
    return Counts(len(faces), int(counted.sum()) - len(faces), int((left & ~on_ignored).sum()))


def match_noses(noses: np.ndarray, detections: np.ndarray) -> Counts:
    """Greedy nose-in-box matching; a nose nearest its box's centre (relative to the box's size) goes first."""
    detections = detections.reshape(-1, 4)
    n = noses.reshape(-1, 2)[:, None, :]
    d = detections[None, :, :]
    inside = (n[..., 0] >= d[..., 0]) & (n[..., 0] <= d[..., 2]) & (n[..., 1] >= d[..., 1]) & (n[..., 1] <= d[..., 3])
    centre = (d[..., :2] + d[..., 2:]) / 2
    size = np.maximum(np.maximum(d[..., 2] - d[..., 0], d[..., 3] - d[..., 1]), 1e-9)
    closeness = -np.hypot(n[..., 0] - centre[..., 0], n[..., 1] - centre[..., 1]) / size
    faces, matched = _greedy(closeness, inside)
    return Counts(len(faces), len(noses) - len(faces), len(detections) - len(matched))


def score_photo(photo: LabelledPhoto, faces: Sequence[Face], threshold: float) -> Counts:
    """Counts for one photo: IoU matching where it has boxes, nose-in-box where it has nose points."""
    boxes = np.array([f.box for f in faces], float).reshape(-1, 4)
    if len(photo.noses):
        return match_noses(photo.noses, boxes)
    return match_boxes(photo.boxes, photo.ignored, boxes, threshold)


@dataclass(frozen=True)
class Dataset:
    """A named list of labelled photos, scored by IoU (boxes) or nose-in-box (nose points)."""

    name: str
    photos: list[LabelledPhoto]
    by_iou: bool

    @property
    def faces(self) -> int:
        return sum(p.faces for p in self.photos)


def datasets(media: Path) -> list[Dataset]:
    """dlib's labelled photos (training + testing XML) and CompreFace's samples."""
    dlib = [p for name in DLIB_FILES for p in read_dlib_xml(media / "dlib_faces" / name)]
    compreface = read_compreface(media / "compreface_samples" / "annotations.json")
    return [Dataset("dlib (training+testing.xml)", dlib, True), Dataset("CompreFace samples", compreface, False)]


@dataclass(frozen=True)
class Row:
    """One detector setting on one dataset: counts per IoU threshold (one entry for nose-in-box) and timing."""

    detector: str
    dataset: Dataset
    counts: dict[float, Counts]
    ms_per_photo: float


def evaluate(
    name: str, detect: Callable[[np.ndarray], list[Face]], dataset: Dataset, images: list[np.ndarray], runs: int
) -> Row:
    """Score one detector on a dataset; time it as the median over `runs` passes (after one warm-up pass)."""
    found = [detect(img) for img in images]  # warm-up pass; its detections are the ones scored
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        for img in images:
            detect(img)
        times.append((time.perf_counter() - started) * 1000 / len(images))
    thresholds = IOU_THRESHOLDS if dataset.by_iou else (0.0,)
    counts = {t: sum((score_photo(p, f, t) for p, f in zip(dataset.photos, found)), Counts()) for t in thresholds}
    return Row(name, dataset, counts, statistics.median(times))


def detectors(
    min_faces: Sequence[int], haar: bool, threads: int | None
) -> dict[str, Callable[[np.ndarray], list[Face]]]:
    """The detector settings to compare: MTCNN at each minimum face size, then Haar at the smallest."""
    from facegate.detect.haar import HaarDetector
    from facegate.detect.mtcnn import MTCNNDetector
    from facegate.models import ensure_models

    m = ensure_models()
    out: dict[str, Callable[[np.ndarray], list[Face]]] = {
        f"MTCNN min face {s}": MTCNNDetector(m.pnet, m.rnet, m.onet, min_face=s, threads=threads).detect
        for s in min_faces
    }
    if haar:
        out[f"Haar min face {min(min_faces)}"] = HaarDetector(min_face=min(min_faces)).detect
    return out


def report(rows: Sequence[Row], command: str, seconds: float, runs: int) -> str:
    """The Markdown report: what was run, where, and one table row per detector setting and dataset."""
    lines = [
        "# Face detector accuracy",
        "",
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- Machine: {describe_machine()}",
        f"- Command: `{command}` ({seconds:.0f} s)",
        (
            "- dlib: every photo labelled in dlib's examples `training.xml` and `testing.xml` (PASCAL VOC group "
            "photos), "
            "scored by IoU of the detected box with the hand-drawn one; dlib's boxes are tighter and sit lower on the "
            "face than MTCNN's, so IoU 0.3 is shown too (the gap is what the box convention costs)."
        ),
        (
            "- CompreFace: the 18 sample photos (0-8 faces; six phone photos of 12-36 Mpx), scored nose-in-box "
            "against the annotated "
            "nose point of every face."
        ),
        (
            "- Matching: greedy, one detection per face (highest IoU / nose nearest the box centre first); unmatched "
            "detections are false positives, except those on a box marked ignore."
        ),
        f"- ms/photo: the median over {runs} timed passes (after a warm-up pass) of the mean time per photo.",
        "",
        "| Detector | Dataset | Photos | Faces | Match | Recall | Precision | Hits | Misses | False pos. | ms/photo |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        for t, c in row.counts.items():
            rule = f"IoU ≥ {t:g}" if row.dataset.by_iou else "nose in box"
            lines.append(
                f"| {row.detector} | {row.dataset.name} | {len(row.dataset.photos)} | {row.dataset.faces} | "
                f"{rule} | {c.recall:.1%} | {c.precision:.1%} | {c.hits} | {c.misses} | "
                f"{c.false_positives} | {row.ms_per_photo:.1f} |"
            )
    return "\n".join(lines) + "\n"
