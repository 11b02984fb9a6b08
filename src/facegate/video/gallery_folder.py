"""Galleries from folders: one photo per person (file name = person, as in the original video demo) and/or one
sub-folder per person holding any number of photos."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from facegate.errors import FaceGateError, ImageError
from facegate.imageio import IMAGE_SUFFIXES
from facegate.pipeline import FaceGate



class GalleryFolderError(FaceGateError, ValueError):
    """The gallery folder is missing, empty, or none of its photos shows a face."""


@dataclass(frozen=True)
class FolderGallery:
    """Largest-face embeddings (N×128) of the usable photos, their person labels and files; photos without a
    readable face are listed in `skipped`."""

    embeddings: np.ndarray
    labels: list[str]
    sources: list[Path]
    skipped: list[Path]


def gallery_photos(folder: Path) -> list[tuple[str, Path]]:
    """(person, photo) pairs: `folder/<person>.jpg` and `folder/<person>/<any>.jpg`, sorted by path."""
    folder = Path(folder)
    if not folder.is_dir():
        raise GalleryFolderError(f"{folder}: no such gallery folder")
    found = [(p.stem, p) for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    for sub in (d for d in folder.iterdir() if d.is_dir()):
        found += [(sub.name, p) for p in sub.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    if not found:
        raise GalleryFolderError(f"{folder}: no photos (expected <person>.jpg files or <person>/ sub-folders)")
    return sorted(found, key=lambda pair: pair[1])


def embed_gallery_folder(fg: FaceGate, folder: Path, progress: bool = False) -> FolderGallery:
    """Embed the largest face of every gallery photo; fails when no photo shows a face."""
    vectors, labels, sources, skipped = [], [], [], []
    photos = gallery_photos(folder)
    for person, path in tqdm(photos, desc="enrolling gallery", unit="photo", disable=not progress):
        try:
            found = fg.represent(path)
        except ImageError:
            found = []
        if not found:
            skipped.append(path)
            continue
        vectors.append(found[0].embedding)
        labels.append(person)
        sources.append(path)
    if not vectors:
        raise GalleryFolderError(f"{folder}: no face found in any of its {len(photos)} photo(s)")
    return FolderGallery(np.stack(vectors).astype(np.float32), labels, sources, skipped)
