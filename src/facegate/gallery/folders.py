"""People from a folder of photos: one sub-folder per person (any depth below it), or files named after the person.

The same rule serves `facegate enroll` and the photo-folder galleries of `video`/`watch`: a person's name is the
sub-folder's name, or the file's name without a trailing number ("madonna_2.jpg" is madonna's); names that differ
only in case, spaces, underscores or hyphens are one person ("Bill Gates 2.JPG" and "bill_gates.tif"), shown as
first spelled in path order.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from facegate.errors import FaceGateError, ImageError
from facegate.gallery.quality import assess
from facegate.imageio import IMAGE_SUFFIXES, is_photo
from facegate.pipeline import FaceEmbedding, FaceGate


class GalleryFolderError(FaceGateError, ValueError):
    """The gallery folder is missing, empty, or none of its photos shows a face."""


def _name(path: Path, folder: Path) -> str:
    """The person a photo belongs to: its top sub-folder, or its file name (less any web query and known picture
    suffix) without a trailing number."""
    if path.parent != folder:
        return path.relative_to(folder).parts[0]
    stem = path.name.split("?", 1)[0]
    stem = stem[: -len(Path(stem).suffix)] if Path(stem).suffix.lower() in IMAGE_SUFFIXES else stem
    return re.sub(r"[\s_-]*\d+$", "", stem) or stem


def _key(name: str) -> str:
    """Names that differ only in case and separators are one person."""
    return re.sub(r"[\s_-]+", " ", name).strip().casefold()


def pictures_under(folder: Path, not_photos: list[Path] | None = None) -> list[Path]:
    """Every picture under `folder` (any depth, symlinks followed, hidden files left out), in path order; other files
    go to `not_photos` if given."""
    if not folder.is_dir():
        raise GalleryFolderError(f"{folder}: not a folder")
    pictures = []
    for path in sorted(Path(root) / name for root, _, names in os.walk(folder, followlinks=True) for name in names):
        if not path.is_file() or path.name.startswith("."):
            continue
        if is_photo(path):
            pictures.append(path)
        elif not_photos is not None:
            not_photos.append(path)
    return pictures


def person_photos(folder: Path, not_photos: list[Path] | None = None) -> dict[str, list[Path]]:
    """{person: photos, in path order} of every picture under `folder`; other files go to `not_photos` if given."""
    shown: dict[str, str] = {}
    out: dict[str, list[Path]] = {}
    for path in pictures_under(folder, not_photos):
        name = shown.setdefault(_key(_name(path, folder)), _name(path, folder))
        out.setdefault(name, []).append(path)
    if not out:
        raise GalleryFolderError(
            f"{folder}: no photos found (expected one sub-folder per person, or files named after the person)"
        )
    return out


@dataclass(frozen=True)
class FolderGallery:
    """Largest-face embeddings (N×D) of the usable photos, their person labels and files; the photos left out are
    in `skipped`, each with the reasons (enrollment's words)."""

    embeddings: np.ndarray
    labels: list[str]
    sources: list[Path]
    skipped: dict[Path, list[str]]


def _refusal(found: list[FaceEmbedding], checked: bool) -> list[str]:
    """Why a gallery photo is left out: no face, or (when `checked`) its largest face fails enrollment's checks."""
    if not found:
        return ["no face found in the photo"]
    return assess(found[0].face, found[0].crop, len(found), largest=True).reasons if checked else []


def embed_gallery_folder(fg: FaceGate, folder: Path, progress: bool = False, checked: bool = False) -> FolderGallery:
    """Embed the largest face of every photo of every person in `folder`; fails when no photo shows a face.
    `checked`: the largest face must also pass enrollment's checks (size by FACEGATE_ENROLL_MIN_FACE, sharpness,
    pose), as `facegate enroll --largest` would judge it."""
    vectors, labels, sources, skipped = [], [], [], {}
    photos = [(person, path) for person, paths in person_photos(Path(folder)).items() for path in paths]
    for person, path in tqdm(photos, desc="enrolling gallery", unit="photo", disable=not progress):
        try:
            found = fg.represent(path)
        except ImageError as exc:
            skipped[path] = [str(exc)]
            continue
        if reasons := _refusal(found, checked):
            skipped[path] = reasons
            continue
        vectors.append(found[0].embedding)
        labels.append(person)
        sources.append(path)
    if not vectors:
        raise GalleryFolderError(f"{folder}: no usable face in any of its {len(photos)} photo(s)")
    return FolderGallery(np.stack(vectors).astype(np.float32), labels, sources, skipped)
