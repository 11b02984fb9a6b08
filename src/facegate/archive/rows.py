"""Index rows: one per face found in a photo, one per photo without a face or that failed, as Arrow tables.

The per-batch work of `facegate index` (no Ray here): read each photo once (its bytes give the sha256 and the
pixels), detect and align every photo, then embed all faces of the batch in one FaceNet call.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from facegate.align import align
from facegate.detect.base import Face
from facegate.embed import DIM
from facegate.errors import ImageError
from facegate.imageio import load_image

if TYPE_CHECKING:
    from facegate.pipeline import FaceGate

OK, NO_FACE, UNREADABLE, READ_ERROR, ERROR = "ok", "no_face", "unreadable", "read_error", "error"
FAILURES = (UNREADABLE, READ_ERROR, ERROR)  # statuses that carry an error message

SCHEMA = pa.schema(
    [
        pa.field("path", pa.string(), nullable=False),  # relative to the indexed folder, with forward slashes
        pa.field("sha256", pa.string()),  # of the file's bytes; null when it could not be read
        pa.field("status", pa.string(), nullable=False),  # ok | no_face | unreadable | read_error | error
        pa.field("face", pa.int32()),  # 0 = the largest face of the photo; null on photo rows
        pa.field("box", pa.list_(pa.float32(), 4)),  # x1, y1, x2, y2 in pixels
        pa.field("score", pa.float32()),
        pa.field("landmarks", pa.list_(pa.float32(), 10)),  # 5 (x, y) points: eyes, nose, mouth corners
        pa.field("embedding", pa.list_(pa.float32(), DIM)),  # L2-normalised FaceNet embedding
        pa.field("error", pa.string()),
    ]
)


def _photo_row(path: str, sha256: str | None, status: str, error: str | None = None) -> dict[str, Any]:
    """The row of a photo without a face, or that failed (with the error message)."""
    return {"path": path, "sha256": sha256, "status": status, "error": error}


def _face_rows(path: str, sha256: str, faces: list[Face], embeddings: np.ndarray) -> list[dict[str, Any]]:
    """One row per face of a photo, largest first."""
    return [
        {
            "path": path,
            "sha256": sha256,
            "status": OK,
            "face": i,
            "box": list(face.box),
            "score": face.score,
            "landmarks": None if face.landmarks is None else face.landmarks.ravel().tolist(),
            "embedding": embedding.tolist(),
        }
        for i, (face, embedding) in enumerate(zip(faces, embeddings))
    ]


def embed_photos(fg: FaceGate, root: Path, paths: list[str]) -> pa.Table:
    """Index rows of the photos at `paths` (relative to root); unreadable files become failure rows."""
    rows: list[dict[str, Any]] = []
    found: list[tuple[str, str, list[Face]]] = []
    crops: list[np.ndarray] = []
    for path in paths:
        try:
            data = (root / path).read_bytes()
        except OSError as exc:
            rows.append(_photo_row(path, None, READ_ERROR, exc.strerror or str(exc)))
            continue
        sha256 = hashlib.sha256(data).hexdigest()
        try:
            pixels = load_image(data)
        except ImageError as exc:
            reason = str(exc).removeprefix("image bytes: ")  # the row names the file
            rows.append(_photo_row(path, sha256, UNREADABLE, reason))
            continue
        try:
            faces = fg.detector.detect(pixels)
            aligned = align(pixels, faces, fg.alignment)
        except Exception as exc:  # one odd photo must not stop an archive of millions: record it, go on
            rows.append(_photo_row(path, sha256, ERROR, f"{type(exc).__name__}: {exc}"))
            continue
        if not faces:
            rows.append(_photo_row(path, sha256, NO_FACE))
            continue
        found.append((path, sha256, faces))
        crops.append(aligned)
    if crops:
        embeddings = fg.embedder.embed(np.concatenate(crops))
        start = 0
        for path, sha256, faces in found:
            rows += _face_rows(path, sha256, faces, embeddings[start : start + len(faces)])
            start += len(faces)
    return pa.Table.from_pylist(rows, schema=SCHEMA)
