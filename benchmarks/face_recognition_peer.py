"""Timing server for the face_recognition peer (dlib's HOG detector and ResNet encoder), driven by pipeline.py.

It runs in its own virtual environment (benchmarks/.venv-face-recognition), so nothing of FaceGate is imported.
Each stdin line is one JSON request; each answer is one JSON line with the median milliseconds over `runs` timed
runs after one warm-up run, and how many faces the library found (a check that it did the work).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from typing import Any, Callable

import face_recognition
import numpy as np


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


def handle(request: dict[str, Any]) -> dict[str, Any]:
    """Answer one request: task "detect" (ms per image), "encode" (ms per face) or "end_to_end" (ms per photo)."""
    task, runs, paths = request["task"], int(request["runs"]), request["paths"]
    images = [face_recognition.load_image_file(p) for p in paths]
    if task == "detect":
        ms, found = median_ms(lambda: detect_all(images, int(request["upsample"])), runs)
        return {"ms": ms / len(images), "faces": found}
    if task == "encode":
        location = face_recognition.face_locations(images[0])[:1]
        faces = int(request["faces"])
        if not location:
            return {"error": f"no face found in {paths[0]}"}
        ms, found = median_ms(lambda: len(face_recognition.face_encodings(images[0], location * faces)), runs)
        return {"ms": ms / faces, "faces": found}
    if task == "end_to_end":
        ms, found = median_ms(lambda: len(face_recognition.face_encodings(face_recognition.load_image_file(paths[0]))),
                              runs)
        return {"ms": ms, "faces": found}
    return {"error": f"unknown task {task!r}"}


def main() -> None:
    """Serve requests until stdin closes."""
    for line in sys.stdin:
        if line.strip():
            print(json.dumps(handle(json.loads(line))), flush=True)


if __name__ == "__main__":
    main()
