"""Enrollment: photo bytes → quality checks → one stored sample, or the reasons it was refused."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from facegate.crops import whole_image_face
from facegate.detect.base import as_box
from facegate.errors import ImageError
from facegate.gallery.quality import assess
from facegate.gallery.repository import ConflictError, Gallery, NewSample
from facegate.gallery.search import GalleryVectorIndex
from facegate.gallery.text import safe_filename
from facegate.imageio import MAX_PIXELS, load_image
from facegate.pipeline import FaceGate

THUMBNAIL_QUALITY = 88


@dataclass(frozen=True)
class EnrollResult:
    """The verdict for one photo: accepted (with the new sample id) or refused (with reasons)."""

    filename: str
    sample_id: int | None
    reasons: list[str] = field(default_factory=list)
    figures: dict[str, float | int | None] = field(default_factory=dict)
    already: bool = False  # the same photo is enrolled already: nothing to do, not a failure

    @property
    def accepted(self) -> bool:
        return self.sample_id is not None


def thumbnail_jpeg(crop: np.ndarray) -> bytes:
    """The aligned 160×160 crop as a JPEG."""
    out = io.BytesIO()
    Image.fromarray(crop).save(out, format="JPEG", quality=THUMBNAIL_QUALITY)
    return out.getvalue()


def lookalike(fg: FaceGate, index: GalleryVectorIndex, person_id: int, embedding: np.ndarray) -> str | None:
    """Why a face must not be enrolled for `person_id`: it is someone else already enrolled, as near as the
    operating point calls the same person (None when it is not)."""
    hits = index.search(embedding[None], 1)[0]
    if not hits or hits[0].person_id == person_id or hits[0].distance > fg.threshold or hits[0].person is None:
        return None
    return (
        f"this face looks like {hits[0].person!r}, already enrolled (distance {hits[0].distance:.3f}; the same "
        f"person up to {fg.threshold:.3f}); if they really are two people, enroll it with --allow-lookalike"
    )


def enroll_photo(
    fg: FaceGate,
    gallery: Gallery,
    person_id: int,
    data: bytes,
    filename: str,
    largest: bool = False,
    min_face_px: float | None = None,
    lookalikes: GalleryVectorIndex | None = None,
    max_pixels: int = MAX_PIXELS,
    aligned: bool = False,
) -> EnrollResult:
    """Check one photo and store its face for the person; every refusal says why. With `lookalikes` (the gallery's
    vector index), a face that matches another enrolled person at the operating point is refused too; a JPEG over
    `max_pixels` is decoded reduced (facegate.imageio.decoded_size). `aligned`: the photo is a pre-aligned face crop,
    taken whole (whatever the pipeline's own `aligned`)."""
    filename = safe_filename(filename)
    sha = hashlib.sha256(data).hexdigest()
    if (existing := gallery.sample_by_hash(sha)) is not None:
        return EnrollResult(filename, None, [gallery.duplicate_message(existing)], already=True)
    try:
        pixels = load_image(data, max_pixels)
        found = fg.represent(pixels, [whole_image_face(pixels)] if aligned else None)
    except ImageError as exc:
        return EnrollResult(filename, None, [str(exc).replace("image bytes", filename, 1)])
    if not found:
        return EnrollResult(filename, None, ["no face found in the photo"], {"faces_found": 0})
    face = found[0]
    quality = assess(face.face, face.crop, len(found), largest, min_face_px)
    if not quality.ok:
        return EnrollResult(filename, None, quality.reasons, quality.figures())
    if lookalikes is not None and (other := lookalike(fg, lookalikes, person_id, face.embedding)):
        return EnrollResult(filename, None, [other], quality.figures())
    new = NewSample(
        embedding=face.embedding,
        thumbnail=thumbnail_jpeg(face.crop),
        sha256=sha,
        filename=filename,
        box=as_box(face.face.box),
        detection_score=float(face.face.score),
        face_px=quality.face_px,
        sharpness=quality.sharpness,
        nose_position=quality.nose_position,
        faces_found=quality.faces_found,
        model=fg.model,
    )
    try:
        sample = gallery.add_sample(person_id, new)
    except ConflictError as exc:  # the same photo, enrolled by someone else a moment ago; another model's gallery
        return EnrollResult(filename, None, [str(exc)], quality.figures())
    return EnrollResult(filename, sample.id, [], quality.figures())
