"""Draw faces (boxes, landmarks, labels) on an image, for `detect --draw` and annotated video."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from facegate.detect.base import Face
from facegate.errors import ImageError

LANDMARK_COLOURS = ((255, 64, 64), (64, 255, 64), (64, 128, 255), (255, 255, 0), (255, 0, 255))


def annotate(
    image: np.ndarray, faces: list[Face], labels: list[str] | None = None, colour: tuple[int, int, int] = (0, 220, 0)
) -> np.ndarray:
    """A copy of the RGB image with each face's box, landmarks and optional label drawn on it."""
    out = image.copy()
    thick = max(1, round(min(image.shape[:2]) / 300))
    for i, face in enumerate(faces):
        x1, y1, x2, y2 = (round(v) for v in face.box)
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, thick)
        if face.landmarks is not None:
            for (x, y), c in zip(face.landmarks, LANDMARK_COLOURS):
                cv2.circle(out, (round(x), round(y)), thick + 1, c, -1)
        text = labels[i] if labels else f"{face.score:.2f}"
        scale = max(0.4, thick * 0.45)
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
        top = max(y1 - th - base - 2, 0)
        left = int(np.clip(x1, 0, max(out.shape[1] - tw - 4, 0)))  # keep the label inside the picture
        cv2.rectangle(out, (left, top), (left + tw + 4, top + th + base + 2), colour, -1)
        cv2.putText(out, text, (left + 2, top + th + 1), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thick, cv2.LINE_AA)
    return out


def check_picture_path(out: Path) -> None:
    """ImageError unless OpenCV can write a picture at `out` (a known suffix, in a folder that exists)."""
    if not out.parent.is_dir():
        raise ImageError(f"{out.parent}: no such folder for {out.name}")
    if not cv2.haveImageWriter(str(out)):
        raise ImageError(f"{out}: cannot write a picture with suffix {out.suffix or '(none)'!r}; use .png or .jpg")


def draw_faces(image: np.ndarray, faces: list[Face], out: Path) -> None:
    """Write the annotated image to `out` (format from the suffix)."""
    ok = cv2.imwrite(str(out), cv2.cvtColor(annotate(image, faces), cv2.COLOR_RGB2BGR))
    if not ok:
        raise ImageError(f"could not write {out} (unknown image suffix or unwritable folder)")
