"""A stand-in for the study's cartoon training sets: photos re-drawn with OpenCV's non-photorealistic filters.

Each photo of a person gets one of three renderings in turn, like drawings by different hands: "cartoon"
(edge-preserving smoothing, 8-colour k-means quantisation, bold dark edges), "watercolour" (cv2.stylization)
and "pencil" (cv2.pencilSketch, colour). Only texture and colour change; real caricatures also distort the
face's geometry, so this stand-in is easier than the study's cartoons.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from facegate.experiments.embedding_cache import list_photos

STYLE_VERSION = 1  # bump when a rendering changes, so stylised folders are rebuilt
MAX_SIDE = 800  # larger photos are shrunk first: the filters cost grows with the pixel count


def cartoon(bgr: np.ndarray) -> np.ndarray:
    """Flat colours (8-colour k-means on an edge-preserving smoothing) with dark outlines."""
    smooth = cv2.edgePreservingFilter(bgr, flags=cv2.RECURS_FILTER, sigma_s=60, sigma_r=0.4)
    cv2.setRNGSeed(0)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 10, 1.0)
    _, labels, centres = cv2.kmeans(
        smooth.reshape(-1, 3).astype(np.float32),
        8,
        None,  # type: ignore[call-overload]
        criteria,
        1,
        cv2.KMEANS_PP_CENTERS,
    )  # OpenCV's stubs miss bestLabels=None
    flat = centres.astype(np.uint8)[labels.ravel()].reshape(bgr.shape)
    grey = cv2.medianBlur(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), 7)
    edges = cv2.adaptiveThreshold(grey, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, 9, 2)
    return cv2.bitwise_and(flat, flat, mask=edges)


def watercolour(bgr: np.ndarray) -> np.ndarray:
    """OpenCV's stylization filter: smoothed colour regions with softened edges."""
    return cv2.stylization(bgr, sigma_s=60, sigma_r=0.45)


def pencil(bgr: np.ndarray) -> np.ndarray:
    """OpenCV's colour pencil sketch."""
    return cv2.pencilSketch(bgr, sigma_s=60, sigma_r=0.07, shade_factor=0.05)[1]


STYLES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "cartoon": cartoon,
    "watercolour": watercolour,
    "pencil": pencil,
}


def stylise_photo(source: Path, dest: Path, style: str) -> None:
    """Write `source` re-drawn in `style` to `dest` (JPEG), shrunk to MAX_SIDE first."""
    bgr = cv2.imread(str(source), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"OpenCV cannot read {source}")
    scale = MAX_SIDE / max(bgr.shape[:2])
    if scale < 1:
        bgr = cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    dest.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(dest), STYLES[style](bgr), [cv2.IMWRITE_JPEG_QUALITY, 92])


def stylise_folder(source: Path, dest: Path, per_person: int | None = None) -> Path:
    """Re-draw the first `per_person` photos (sorted; None: all) of every person under source/<person>/ into
    dest/<person>/, cycling through STYLES; photos already drawn are kept. Returns dest."""
    styles = list(STYLES)
    jobs: list[tuple[Path, Path, str]] = []
    by_person: dict[str, int] = {}
    for photo in list_photos(source):
        index = by_person.get(photo.parent.name, 0)
        by_person[photo.parent.name] = index + 1
        if per_person is not None and index >= per_person:
            continue
        style = styles[index % len(styles)]
        target = dest / photo.parent.name / f"{photo.stem}_{style}.jpg"
        if not target.is_file():
            jobs.append((photo, target, style))
    for photo, target, style in tqdm(jobs, desc=f"stylising {source.name}", unit="img", disable=not jobs):
        stylise_photo(photo, target, style)
    return dest
