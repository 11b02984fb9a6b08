"""LFW: the deep-funneled photos and the pairs protocol (pairs.txt: 10 folds × 300 same + 300 different)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facegate import settings
from facegate.detect.base import Face
from facegate.errors import FaceGateError


class LFWMissingError(FaceGateError):
    """The LFW folder was not given, or holds no pairs protocol."""


def configured_lfw() -> Path | None:
    """The LFW folder from --lfw / $FACEGATE_LFW when it holds the pairs protocol, else None."""
    root = settings.current().lfw
    return root if root is not None and (root / "pairsDevTrain.txt").is_file() else None


def lfw_dir() -> Path:
    """The LFW folder (images_deepfunneled/, pairs.txt, pairsDevTrain.txt); a clear error when it is not set up."""
    root = configured_lfw()
    if root is None:
        where = settings.current().lfw
        raise LFWMissingError(
            f"{where}: no LFW pairs protocol here"
            if where
            else "LFW not found: pass --lfw DIR or set FACEGATE_LFW to the folder holding "
            "images_deepfunneled/ and pairs.txt"
        )
    return root


# The face box the deep-funneled 250×250 photos are built around: the median MTCNN box of the subject over the
# DevTrain photos (`median_box`). Aligned with "crop" geometry, it stands in for the subject where detection fails.
CENTRE_BOX = (78.0, 64.0, 170.0, 188.0)


@dataclass(frozen=True)
class Pair:
    """One LFW pair: two (person, image number) references and whether they show the same person."""

    a: tuple[str, int]
    b: tuple[str, int]
    same: bool
    fold: int


def image_path(person: str, number: int, root: Path | None = None) -> Path:
    """Path of `person`'s photo number `number` (1-based) in the deep-funneled set."""
    return (root or lfw_dir()) / "images_deepfunneled" / person / f"{person}_{number:04d}.jpg"


def read_pairs(path: Path) -> list[Pair]:
    """Parse pairs.txt (first line 'folds n') or a DevTrain/DevTest file (first line 'n': one fold)."""
    lines = path.read_text().split("\n")
    header = lines[0].split()
    folds, per = (int(header[0]), int(header[1])) if len(header) == 2 else (1, int(header[0]))
    rows = [ln.split() for ln in lines[1:] if ln.strip()]
    if len(rows) != folds * 2 * per:
        raise ValueError(f"{path}: expected {folds * 2 * per} pairs, found {len(rows)}")
    pairs = []
    for i, row in enumerate(rows):
        fold = i // (2 * per)
        if len(row) == 3:
            pairs.append(Pair((row[0], int(row[1])), (row[0], int(row[2])), True, fold))
        else:
            pairs.append(Pair((row[0], int(row[1])), (row[2], int(row[3])), False, fold))
    return pairs


def pair_files(pair: Pair, root: Path | None = None) -> tuple[Path, Path]:
    """The two image paths of a pair."""
    return image_path(*pair.a, root=root), image_path(*pair.b, root=root)


def subject(faces: Sequence[Face], width: int, height: int) -> Face | None:
    """The face whose box centre is nearest the image centre (LFW's subject); None when there is no face."""

    def offset(face: Face) -> float:
        x1, y1, x2, y2 = face.box
        return ((x1 + x2 - width) / 2) ** 2 + ((y1 + y2 - height) / 2) ** 2

    return min(faces, key=offset, default=None)


def centre_face() -> Face:
    """The fallback subject: CENTRE_BOX without landmarks (so it is always aligned as a crop)."""
    return Face(box=CENTRE_BOX, score=0.0, landmarks=None)


def median_box(faces: Sequence[Face]) -> tuple[float, float, float, float]:
    """Coordinate-wise median of the faces' boxes, rounded to whole pixels."""
    x1, y1, x2, y2 = np.round(np.median([face.box for face in faces], axis=0))
    return float(x1), float(y1), float(x2), float(y2)
