"""Identify many photos in one process: the models and the gallery's identifier are loaded once, then every face of
every photo gets a name (or "unknown"); a photo that cannot be read is reported, not fatal."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from facegate.detect.base import Box, as_box
from facegate.errors import ImageError
from facegate.gallery.folders import pictures_under
from facegate.gallery.identify import GalleryIdentifier
from facegate.match.decision import UNKNOWN
from facegate.pipeline import FaceGate


@dataclass(frozen=True)
class IdentifiedFace:
    """One face: where it is, who it is (or "unknown"), the probability of a named face, the distance to the
    nearest enrolled sample of the candidate."""

    box: Box
    name: str
    person_id: int | None
    probability: float | None
    distance: float | None
    age: float | None = None  # age and gender: estimates, only from a FaceGate(attributes=True)
    gender: str | None = None
    gender_probability: float | None = None


@dataclass(frozen=True)
class IdentifiedPhoto:
    """Every face of one photo, largest first, or why the photo could not be read."""

    path: Path
    faces: list[IdentifiedFace] = field(default_factory=list)
    error: str | None = None


def photos_from(paths: Iterable[Path]) -> list[Path]:
    """The photos the user named: files as given (in order), folders searched for pictures at any depth."""
    out: list[Path] = []
    for path in paths:
        out.extend(pictures_under(path) if path.is_dir() else [path])
    return out


def identify_photos(fg: FaceGate, identifier: GalleryIdentifier, paths: Iterable[Path]) -> Iterator[IdentifiedPhoto]:
    """Identify every face of every photo against the gallery, one photo at a time."""
    for path in paths:
        try:
            found = fg.represent(path)
        except ImageError as exc:
            yield IdentifiedPhoto(path, error=str(exc))
            continue
        embeddings = np.stack([f.embedding for f in found]) if found else np.zeros((0, fg.dim), np.float32)
        _, decisions = identifier.decide(embeddings)
        names = identifier.gallery.names([int(d.label) for d in decisions if d.known])
        faces = []
        for f, d in zip(found, decisions):
            name = names.get(int(d.label)) if d.known else None  # None also when deleted since the last fit
            faces.append(
                IdentifiedFace(
                    as_box(f.face.box, 1),
                    name or UNKNOWN,
                    int(d.label) if name else None,
                    round(d.probability, 3) if name else None,
                    round(d.distance, 3) if np.isfinite(d.distance) else None,
                    **(f.attributes.to_dict() if f.attributes else {}),
                )
            )
        yield IdentifiedPhoto(path, faces)
