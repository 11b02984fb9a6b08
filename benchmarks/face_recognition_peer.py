"""Timing server for the face_recognition peer (dlib's HOG detector and ResNet encoder), driven by pipeline.py.

It runs in its own virtual environment (benchmarks/.venv-face-recognition*, one per way of installing dlib), so
nothing of FaceGate is imported. Each stdin line is one JSON request; each answer is one JSON line with the median
milliseconds over `runs` timed runs after one warm-up run, and how many faces the library found (a check that it
did the work). face_encodings' defaults are used throughout: HOG upsampled once, the 5-point shape predictor, the
150×150 chip with padding 0.25, one pass (num_jitters=1) per face.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from importlib import metadata
from typing import Any

import dlib
import face_recognition
import numpy as np
from face_recognition import api

CHIP_SIZE, CHIP_PADDING = 150, 0.25  # what compute_face_descriptor cuts around the landmarks by default


def median_ms(fn: Callable[[], int], runs: int) -> tuple[float, int]:
    """Median wall-clock milliseconds of `fn` over `runs` runs after a warm-up, and what the warm-up returned."""
    found = fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000, found


def detect_all(images: list[np.ndarray], upsample: int) -> int:
    """HOG-detect faces in every image; returns the number found."""
    return sum(len(face_recognition.face_locations(im, number_of_times_to_upsample=upsample)) for im in images)


def chips(image: np.ndarray, rects: list[Any]) -> list[np.ndarray]:
    """face_encodings' steps between detection and the ResNet: 5-point landmarks and a 150×150 chip per face."""
    return [
        dlib.get_face_chip(image, api.pose_predictor_5_point(image, rect), size=CHIP_SIZE, padding=CHIP_PADDING)
        for rect in rects
    ]


def end_to_end(path: str) -> int:
    """What a user of face_recognition runs for a photo file: load, face_locations, face_encodings."""
    image = face_recognition.load_image_file(path)
    return len(face_recognition.face_encodings(image, face_recognition.face_locations(image)))


def handle(request: dict[str, Any]) -> dict[str, Any]:
    """Answer one request: "about", "detect" (ms/image), "chip" or "resnet" (ms/face), "end_to_end" (ms/photo)."""
    task = request["task"]
    if task == "about":
        return {
            "dlib": dlib.__version__,
            "blas": bool(dlib.DLIB_USE_BLAS),
            "face_recognition": metadata.version("face_recognition"),
        }
    runs, paths = int(request["runs"]), request["paths"]
    if task == "end_to_end":
        ms, found = median_ms(lambda: end_to_end(paths[0]), runs)
        return {"ms": ms, "faces": found}
    images = [face_recognition.load_image_file(p) for p in paths]
    if task == "detect":
        ms, found = median_ms(lambda: detect_all(images, int(request["upsample"])), runs)
        return {"ms": ms / len(images), "faces": found}
    rects = api._raw_face_locations(images[0])
    if not rects:
        return {"error": f"no face found in {paths[0]}"}
    if task == "chip":
        ms, found = median_ms(lambda: len(chips(images[0], rects)), runs)
        return {"ms": ms / found, "faces": found}
    if task == "resnet":
        batch = chips(images[0], rects)[:1] * int(request["faces"])
        ms, found = median_ms(lambda: len(api.face_encoder.compute_face_descriptor(batch)), runs)
        return {"ms": ms / found, "faces": found}
    return {"error": f"unknown task {task!r}"}


def main() -> None:
    """Serve requests until stdin closes."""
    for line in sys.stdin:
        if line.strip():
            print(json.dumps(handle(json.loads(line))), flush=True)


if __name__ == "__main__":
    main()
